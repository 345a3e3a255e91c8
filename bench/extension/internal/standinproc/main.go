// Command standinproc runs the benchmarks' stand-in Ingest API (package
// standin) in a process of its own, so that the benchmark's process, busy
// with the emulator, does not delay the answers to the exports it
// measures. It serves gRPC and, for the counts, plain HTTP (GET /counts:
// "exports spans invocations") on free loopback ports, prints "GRPC HTTP"
// (the two addresses) on one line, and stops when its standard input
// closes. STANDIN_ANSWER_DELAY (a Go duration) holds every answer that
// long, as a collector that answers once the batch is stored.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/lambdascope/lambdascope/bench/extension/internal/standin"
)

func main() {
	if err := run(); err != nil {
		slog.Error("stand-in collector", "err", err)
		os.Exit(1)
	}
}

func run() error {
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for gRPC: %w", err)
	}
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for HTTP: %w", err)
	}
	c := &standin.Collector{}
	if v := os.Getenv("STANDIN_ANSWER_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("STANDIN_ANSWER_DELAY=%q: want a duration of 0 or more", v)
		}
		c.Delay = d
	}
	srv := standin.NewServer(c)
	go func() { _ = srv.Serve(gln) }()
	hsrv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintf(w, "%d %d %d\n", c.Exports.Load(), c.Spans.Load(), c.Invocations.Load())
	})}
	go func() { _ = hsrv.Serve(hln) }()
	if _, err := fmt.Printf("%s %s\n", gln.Addr(), hln.Addr()); err != nil {
		return fmt.Errorf("announce addresses: %w", err)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Stop()
	return hsrv.Close()
}
