package launch

import (
	"bufio"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/handoff"
)

// A cold invocation of an instrumented function waits for its first
// export to be answered, and the agent, a large Go program, needs tens of
// milliseconds to start. So from the moment the first /event/next is
// sent (Lambda starts the runtime once every extension has registered)
// until the agent says it serves (handoff.ServingNote), the launcher
// answers the function's OTLP/HTTP exports itself: it reads each request,
// answers 200 at once (with Connection: close, so that the exporter's next request
// finds the agent), and passes the request on to the agent through a pipe
// (State.EarlyFD), which the agent reads into its receiver as if the
// request had come to it. The agent, not the launcher, judges the request:
// a malformed one is answered 200 here and counted as malformed there.
// OTLP/gRPC exports are answered early too (earlygrpc.go).

// earlyFor bounds how long the launcher serves exports for an agent that
// never says it serves.
const earlyFor = 2 * time.Second

// earlyMaxBody is the largest export the launcher takes early, and
// earlyMaxHeld what it holds at once while the agent is not reading yet;
// beyond them a connection is left to the agent (closed unanswered, which
// exporters retry).
const (
	earlyMaxBody = handoff.MaxEarlyBody
	earlyMaxHeld = 16 << 20
)

// earlyPaths are the OTLP/HTTP paths the launcher answers early.
var earlyPaths = map[string]bool{"/v1/traces": true, "/v1/logs": true, "/v1/metrics": true}

// early serves the function's OTLP exports until the agent serves them.
type early struct {
	lns    []net.Listener   // copies of the OTLP/HTTP and OTLP/gRPC listeners
	serves []func(net.Conn) // what serves a connection of each
	// started is set once the listeners are served (the extension is
	// registered and has sent its first /event/next).
	started bool
	w       *os.File   // the pipe to the agent
	mu      sync.Mutex // one record on the pipe at a time
	wg      sync.WaitGroup

	held      atomic.Int64
	stopOnce  sync.Once
	done      chan struct{}
	passed    atomic.Int64 // requests passed on to the agent
	lost      atomic.Int64 // requests answered but not passed on (the agent died)
	lostBytes atomic.Int64
}

// prepareEarly makes the listeners that will serve the OTLP/HTTP listener
// httpFD and the OTLP/gRPC one grpcFD (copies of them; either may be
// handoff.NoFD) and pass what they take to w; nothing is accepted before
// start.
func prepareEarly(httpFD, grpcFD int, w *os.File) (*early, error) {
	e := &early{w: w, done: make(chan struct{})}
	for _, p := range []struct {
		fd    int
		what  string
		serve func(net.Conn)
	}{
		{httpFD, "OTLP/HTTP listener", e.serve},
		{grpcFD, "OTLP/gRPC listener", e.serveGRPC},
	} {
		if p.fd == handoff.NoFD {
			continue
		}
		ln, err := dupListener(p.fd, p.what)
		if err != nil {
			for _, ln := range e.lns {
				_ = ln.Close()
			}
			return nil, err
		}
		e.lns = append(e.lns, ln)
		e.serves = append(e.serves, p.serve)
	}
	return e, nil
}

// start serves the prepared listeners, for at most earlyFor; it is
// called once.
func (e *early) start() {
	e.started = true
	for i, ln := range e.lns {
		serve := e.serves[i]
		e.wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				e.wg.Go(func() { serve(c) })
			}
		})
	}
	go func() {
		select {
		case <-time.After(earlyFor):
			e.stop()
		case <-e.done:
		}
	}()
}

// dupListener returns a listener on a copy of the bound descriptor fd.
func dupListener(fd int, what string) (net.Listener, error) {
	dup, err := syscall.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), what)
	ln, err := net.FileListener(f)
	_ = f.Close()
	return ln, err
}

// stop stops taking exports; once the ones taken are passed on (or the
// agent is gone), the pipe is closed, which tells the agent there are no
// more. It does not wait.
func (e *early) stop() {
	e.stopOnce.Do(func() {
		close(e.done)
		for _, ln := range e.lns {
			_ = ln.Close()
		}
		go func() {
			e.wg.Wait()
			_ = e.w.Close()
		}()
	})
}

// serve answers one export on c and passes it on.
func (e *early) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	line, err := readLine(r)
	if err != nil {
		return
	}
	method, rest, _ := strings.Cut(string(line), " ")
	path, proto, _ := strings.Cut(rest, " ")
	hs, err := readHeaders(r)
	if err != nil {
		return
	}
	req := response{proto: proto, header: hs}
	if method != "POST" || !earlyPaths[path] {
		_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	if strings.EqualFold(req.get("Expect"), "100-continue") {
		if _, err := io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return
		}
	}
	var body []byte
	switch {
	case strings.EqualFold(req.get("Transfer-Encoding"), "chunked"):
		body, err = readChunked(r, earlyMaxBody)
	case req.get("Content-Length") != "":
		n, perr := strconv.Atoi(req.get("Content-Length"))
		if perr != nil || n < 0 || n > earlyMaxBody || e.held.Load()+int64(n) > earlyMaxHeld {
			return // left to the agent: the exporter retries
		}
		body = make([]byte, n)
		_, err = io.ReadFull(r, body)
	}
	if err != nil {
		return
	}
	e.held.Add(int64(len(body)))
	defer e.held.Add(-int64(len(body)))
	answer := "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	contentType := req.get("Content-Type")
	if strings.Contains(strings.ToLower(contentType), "json") {
		answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
	}
	_, _ = io.WriteString(c, answer)
	_ = c.Close()
	if err := e.pass(path, contentType, req.get("Content-Encoding"), body); err != nil {
		e.lost.Add(1)
		e.lostBytes.Add(int64(len(body)))
		return
	}
	e.passed.Add(1)
}

// pass writes one record for the agent (handoff.EarlyExport).
func (e *early) pass(path, contentType, encoding string, body []byte) error {
	x := handoff.EarlyExport{Path: path, ContentType: contentType, ContentEncoding: encoding, Body: body}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(x.Header()); err != nil {
		return err
	}
	_, err := e.w.Write(body)
	return err
}
