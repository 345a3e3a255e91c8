package rtproxy_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/internal/tcptest"
)

// rawChunkedAPI is a Runtime API read from the socket, without net/http:
// it records the raw bytes of each call (a head and a chunked body, up to
// the blank line that ends its trailer section) and answers as AWS's
// emulator does: a trailer section over 4 KiB (net/http's read buffer) is
// read no further and the connection closed without an answer (the
// emulator's handler panics on net/http's error); one with a line that is
// not a field is answered with net/http's error (500); others 202.
type rawChunkedAPI struct {
	ln  net.Listener
	mu  sync.Mutex
	raw []string
}

func startRawChunkedAPI(t *testing.T) *rawChunkedAPI {
	t.Helper()
	a := &rawChunkedAPI{}
	a.ln = tcptest.Serve(t, func(nc net.Conn) {
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
		raw, trailers, err := readRawChunked(bufio.NewReader(nc))
		if errors.Is(err, errTrailersTooLong) {
			a.mu.Lock()
			a.raw = append(a.raw, string(raw))
			a.mu.Unlock()
			return
		}
		if err != nil {
			t.Errorf("the platform read: %v", err)
			return
		}
		a.mu.Lock()
		a.raw = append(a.raw, string(raw))
		a.mu.Unlock()
		answer := "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{\"status\":\"OK\"}\n"
		if msg := refusal(trailers); msg != "" {
			answer = fmt.Sprintf("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"+
				"Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(msg), msg)
		}
		_, _ = io.WriteString(nc, answer)
	})
	return a
}

func (a *rawChunkedAPI) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.raw
	a.raw = nil
	return r
}

// refusal is net/http's error for a trailer section, "" when it takes it.
func refusal(trailers []byte) string {
	for l := range strings.Lines(string(trailers)) {
		if l = strings.TrimRight(l, "\r\n"); l != "" && !strings.Contains(l, ":") {
			return "malformed MIME header: missing colon\n"
		}
	}
	return ""
}

var errTrailersTooLong = errors.New("trailer section over 4 KiB")

// readRawChunked reads a request's head and chunked body as they were
// sent, and returns them and the trailer section; of a trailer section
// over 4 KiB, what was read (errTrailersTooLong).
func readRawChunked(br *bufio.Reader) (raw, trailers []byte, err error) {
	var buf bytes.Buffer
	line := func() ([]byte, error) {
		l, err := br.ReadSlice('\n')
		buf.Write(l)
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil
		}
		return l, err
	}
	for {
		l, err := line()
		if err != nil {
			return nil, nil, fmt.Errorf("head: %w", err)
		}
		if string(l) == "\r\n" {
			break
		}
	}
	for {
		l, err := line()
		if err != nil {
			return nil, nil, fmt.Errorf("chunk size: %w", err)
		}
		s, _, _ := strings.Cut(strings.TrimRight(string(l), "\r\n"), ";")
		n, err := strconv.ParseInt(s, 16, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("chunk size %q: %w", l, err)
		}
		if n == 0 {
			break
		}
		if _, err := io.CopyN(&buf, br, n+2); err != nil {
			return nil, nil, fmt.Errorf("chunk: %w", err)
		}
	}
	start := buf.Len()
	for {
		l, err := line()
		if err != nil {
			return nil, nil, fmt.Errorf("trailers: %w", err)
		}
		if string(l) == "\r\n" {
			return buf.Bytes(), buf.Bytes()[start:], nil
		}
		if buf.Len()-start > 4096 {
			return buf.Bytes(), nil, errTrailersTooLong
		}
	}
}

// exchange writes req on a new connection to addr while it reads what
// comes back, until the connection ends, and says how it ended: "closed"
// (after an answer or none), "reset" (by the peer, while reading or
// writing).
func exchange(t *testing.T, addr, req string) (answer, end string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := io.WriteString(nc, req)
		werr <- err
	}()
	b, rerr := io.ReadAll(nc)
	_ = nc.Close()
	err = errors.Join(rerr, <-werr)
	switch {
	case err == nil:
		return string(b), "closed"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return string(b), "reset"
	}
	t.Fatalf("exchange: %v (%q so far)", err, b)
	return "", ""
}

// TestTrailersAreRelayedWhateverTheirSize sends streamed answers with
// trailer sections of every kind — small, a 200 KiB error body, 2 MiB,
// and a line that is not a field — directly and through the proxy to a
// platform read from the socket that behaves as AWS's emulator: the
// platform gets the same bytes (of a trailer section it refuses, as much
// as it reads) and the runtime the same answer, the platform's refusal
// included (a connection closed without an answer, reset, for a trailer
// section over 4 KiB; a 500 for a malformed one); the Observer gets the
// error type, the first bytes of the error body and its whole length.
func TestTrailersAreRelayedWhateverTheirSize(t *testing.T) {
	api := startRawChunkedAPI(t)
	upstream := api.ln.Addr().String()
	rec := &recorder{}
	p := startProxy(t, upstream, rec)
	errJSON := `{"errorType":"TypeError","errorMessage":"boom","trace":["` + strings.Repeat("    at f (/var/task/index.js:1:1)\",\"", 5000) + `"]}`
	bigBody := base64.StdEncoding.EncodeToString([]byte(errJSON))
	huge := strings.Repeat("QUJD", 1<<20/4) // twice: a trailer section of 2 MiB
	cases := []struct {
		name, trailers string
		// The runtime's answer: its status, or "" for none; how the
		// connection ended.
		status, end string
		// The Observer's error type, first bytes of the body and its size
		// (when the platform reset the connection, possibly none: the
		// proxy may not have read the trailers by then).
		errType, bodyStart string
		bodySize           int
	}{
		{name: "small", trailers: "Lambda-Runtime-Function-Error-Type: Function.Crashed\r\nLambda-Runtime-Function-Error-Body: eyJ4IjoxfQ==\r\n",
			status: "202", end: "closed", errType: "Function.Crashed", bodyStart: "eyJ4IjoxfQ==", bodySize: 12},
		{name: "a 200 KiB error body", trailers: "lambda-runtime-function-error-type: TypeError\r\nlambda-runtime-function-error-body:" + bigBody + "\r\n",
			end: "reset", errType: "TypeError", bodyStart: bigBody[:rtproxy.MaxErrorBodyKept], bodySize: len(bigBody)},
		{name: "2 MiB", trailers: "X-Pad: " + huge + "\r\nLambda-Runtime-Function-Error-Type: Function.Big\r\nLambda-Runtime-Function-Error-Body: " + huge + "\r\n",
			end: "reset", errType: "Function.Big", bodyStart: huge[:rtproxy.MaxErrorBodyKept-1], bodySize: len(huge)},
		{name: "malformed", trailers: "Lambda-Runtime-Function-Error-Type: Function.Odd\r\nnot a field\r\n",
			status: "500", end: "closed", errType: "Function.Odd"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("t%d", i)
			req := "POST /2018-06-01/runtime/invocation/" + id + "/response HTTP/1.1\r\nHost: h\r\n" +
				"Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n" +
				"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\nConnection: close\r\n\r\n" +
				"4\r\nabcd\r\n0\r\n" + c.trailers + "\r\n"
			direct, directEnd := exchange(t, upstream, req)
			platformDirect := api.take()
			proxied, proxiedEnd := exchange(t, p.Addr().String(), req)
			platformProxied := api.take()
			answered := direct != "" && strings.HasPrefix(direct, "HTTP/1.1 "+c.status+" ")
			if answered != (c.status != "") || directEnd != c.end {
				t.Fatalf("the platform answered %q directly (connection %s), want %q (%s)", clip(direct), directEnd, c.status, c.end)
			}
			if proxied != direct || proxiedEnd != directEnd {
				t.Errorf("the runtime got\n%q (connection %s)\nthrough the proxy, want\n%q (%s)", clip(proxied), proxiedEnd, clip(direct), directEnd)
			}
			for _, got := range [][]string{platformDirect, platformProxied} {
				if len(got) != 1 || !strings.HasPrefix(req, got[0]) || (c.end == "closed" && got[0] != req) {
					t.Errorf("the platform got %d calls, or not the request's bytes (%d bytes of %d)", len(got), len(strings.Join(got, "")), len(req))
				}
			}
			var e rtproxy.End
			deadline := time.Now().Add(5 * time.Second)
			for found := false; !found && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				rec.mu.Lock()
				for _, x := range rec.ends {
					if x.RequestID == id {
						e, found = x, true
					}
				}
				rec.mu.Unlock()
			}
			if e.RequestID != id {
				t.Fatalf("no end of %s observed", id)
			}
			if c.end == "reset" && e.ErrorBody == "" && e.ErrorBodySize == 0 {
				// The trailers the proxy had read when the platform's
				// connection failed: the type, or none.
				c.bodyStart, c.bodySize = "", 0
				if e.ErrorType == "" {
					c.errType = ""
				}
			}
			if e.ErrorType != c.errType || e.ErrorBody != c.bodyStart || e.ErrorBodySize != int64(c.bodySize) || !e.Streamed || e.Size != 4 {
				t.Errorf("end: type %q, body %q (%d bytes of %d), streamed %v, size %d; want %q, %q (%d of %d)",
					e.ErrorType, clip(e.ErrorBody), len(e.ErrorBody), e.ErrorBodySize, e.Streamed, e.Size,
					c.errType, clip(c.bodyStart), len(c.bodyStart), c.bodySize)
			}
			wantStatus, _ := strconv.Atoi(c.status)
			if e.Status != wantStatus || e.Failed != (c.status == "") {
				t.Errorf("end: status %d, failed %v; want %d, %v", e.Status, e.Failed, wantStatus, c.status == "")
			}
		})
	}
	// The calls the platform closed without answering are counted (and
	// logged), never answered by the proxy.
	if n := p.Stats().UpstreamErrors; n != 2 {
		t.Errorf("calls the platform could not be reached for or did not answer: %d, want 2", n)
	}
}
