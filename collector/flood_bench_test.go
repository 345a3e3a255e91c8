package collector_test

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// The flood client's process reads the collector's address and the rounds
// to send from these.
const (
	floodClientEnv       = "LAMBDASCOPE_FLOOD_CLIENT_ADDR"
	floodClientRoundsEnv = "LAMBDASCOPE_FLOOD_CLIENT_ROUNDS"
	// floodClients is how many keyless calls are in flight at once.
	floodClients = 60
	// floodMessageBytes is what each call decompresses to: a span name
	// of 15 MiB, about 15 KB once gzipped.
	floodMessageBytes = 15 << 20
)

// TestAnonymousFloodClient is BenchmarkAnonymousFloodMemory's client when
// the benchmark starts this binary with floodClientEnv set: floodClients
// goroutines send, each LAMBDASCOPE_FLOOD_CLIENT_ROUNDS times, an OTLP gRPC
// export without a key whose gzip body decompresses to 15 MiB, and expect
// UNAUTHENTICATED. Run on its own it does nothing.
func TestAnonymousFloodClient(t *testing.T) {
	addr := os.Getenv(floodClientEnv)
	if addr == "" {
		return
	}
	rounds, err := strconv.Atoi(os.Getenv(floodClientRoundsEnv))
	if err != nil {
		t.Fatalf("%s: %v", floodClientRoundsEnv, err)
	}
	req := hugeRequest(floodMessageBytes)
	var wg sync.WaitGroup
	for range floodClients {
		// A connection each, as separate clients would have.
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		client := coltracepb.NewTraceServiceClient(conn)
		wg.Go(func() {
			for range rounds {
				_, err := client.Export(t.Context(), req, grpc.UseCompressor("gzip"))
				if status.Code(err) != codes.Unauthenticated {
					t.Errorf("keyless export: got %v, want Unauthenticated", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkAnonymousFloodMemory has a client process send b.N rounds of
// floodClients concurrent keyless OTLP gRPC calls, each decompressing to
// 15 MiB, to a collector that requires a key, and samples the collector
// process's resident set every 100 ms. It reports the resident set before
// ("idle") and the highest during the flood ("peak"), in MiB, and the
// request bytes the collector read and held in flight (both should be 0).
func BenchmarkAnonymousFloodMemory(b *testing.B) {
	srv, _ := startBenchCollectorKeyed(b)
	idle := sampleMemory(0)
	done := make(chan struct{})
	var wg sync.WaitGroup
	peak := idle
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				s := sampleMemory(0)
				peak.rss, peak.heapLive, peak.goMemory = max(peak.rss, s.rss), max(peak.heapLive, s.heapLive), max(peak.goMemory, s.goMemory)
			}
		}
	})
	b.ResetTimer()
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^TestAnonymousFloodClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), floodClientEnv+"="+srv.Addr(), floodClientRoundsEnv+"="+strconv.Itoa(b.N))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	b.StopTimer()
	close(done)
	wg.Wait()
	if err != nil {
		b.Fatalf("flood client: %v\n%s", err, out.String())
	}
	const mib = 1 << 20
	st := srv.Stats()
	b.ReportMetric(float64(idle.rss)/mib, "rss-idle-MiB")
	b.ReportMetric(float64(peak.rss)/mib, "rss-peak-MiB")
	b.ReportMetric(float64(peak.goMemory)/mib, "go-total-peak-MiB")
	b.ReportMetric(float64(st.RequestBytesRead), "bytes-read")
	b.ReportMetric(float64(st.InflightPeakBytes), "inflight-peak-bytes")
	b.ReportMetric(float64(b.N*floodClients), "calls")
}
