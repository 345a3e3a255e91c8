package rtproxy_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
)

// rawChunkedAPI is a Runtime API read from the socket, without net/http:
// it records the raw bytes of each call (a head and a chunked body, up to
// the blank line that ends its trailer section, whatever its size) and
// answers as net/http's server, AWS's, does: an error for a trailer
// section over 4 KiB (its read buffer) or with a line that is not a field,
// 202 otherwise.
type rawChunkedAPI struct {
	ln  net.Listener
	mu  sync.Mutex
	raw []string
}

func startRawChunkedAPI(t *testing.T) *rawChunkedAPI {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &rawChunkedAPI{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
				raw, trailers, err := readRawChunked(bufio.NewReader(nc))
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
		}
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
	if len(trailers) > 4096 {
		return "http: suspiciously long trailer after chunked body\n"
	}
	for l := range strings.Lines(string(trailers)) {
		if l = strings.TrimRight(l, "\r\n"); l != "" && !strings.Contains(l, ":") {
			return "malformed MIME header: missing colon\n"
		}
	}
	return ""
}

// readRawChunked reads a request's head and chunked body as they were
// sent, and returns them and the trailer section.
func readRawChunked(br *bufio.Reader) (raw, trailers []byte, err error) {
	var buf bytes.Buffer
	line := func() ([]byte, error) {
		l, err := br.ReadBytes('\n')
		buf.Write(l)
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
	}
}

// TestTrailersAreRelayedWhateverTheirSize sends streamed answers with
// trailer sections of every kind — small, a 200 KiB error body, 2 MiB,
// and a line that is not a field — directly and through the proxy to a
// platform read from the socket: the platform gets the same bytes and the
// runtime the same answer (the platform's refusal of what it does not
// take included), and the Observer the error type, the first bytes of the
// error body and its whole length.
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
		status         string
		// The Observer's error type, first bytes of the body and its size.
		errType, bodyStart string
		bodySize           int
	}{
		{name: "small", trailers: "Lambda-Runtime-Function-Error-Type: Function.Crashed\r\nLambda-Runtime-Function-Error-Body: eyJ4IjoxfQ==\r\n",
			status: "202", errType: "Function.Crashed", bodyStart: "eyJ4IjoxfQ==", bodySize: 12},
		{name: "a 200 KiB error body", trailers: "lambda-runtime-function-error-type: TypeError\r\nlambda-runtime-function-error-body:" + bigBody + "\r\n",
			status: "500", errType: "TypeError", bodyStart: bigBody[:rtproxy.MaxErrorBodyKept], bodySize: len(bigBody)},
		{name: "2 MiB", trailers: "X-Pad: " + huge + "\r\nLambda-Runtime-Function-Error-Type: Function.Big\r\nLambda-Runtime-Function-Error-Body: " + huge + "\r\n",
			status: "500", errType: "Function.Big", bodyStart: huge[:rtproxy.MaxErrorBodyKept-1], bodySize: len(huge)},
		{name: "malformed", trailers: "Lambda-Runtime-Function-Error-Type: Function.Odd\r\nnot a field\r\n",
			status: "500", errType: "Function.Odd"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("t%d", i)
			req := "POST /2018-06-01/runtime/invocation/" + id + "/response HTTP/1.1\r\nHost: h\r\n" +
				"Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n" +
				"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\nConnection: close\r\n\r\n" +
				"4\r\nabcd\r\n0\r\n" + c.trailers + "\r\n"
			direct := rawCall(t, upstream, req)
			platformDirect := api.take()
			proxied := rawCall(t, p.Addr().String(), req)
			platformProxied := api.take()
			if !strings.HasPrefix(direct, "HTTP/1.1 "+c.status+" ") {
				t.Fatalf("the platform answered %q directly, want %s", clip(direct), c.status)
			}
			if proxied != direct {
				t.Errorf("the runtime got\n%q\nthrough the proxy, want\n%q", clip(proxied), clip(direct))
			}
			if len(platformDirect) != 1 || platformDirect[0] != req {
				t.Fatalf("the platform got %d calls directly, or not the request's bytes", len(platformDirect))
			}
			if len(platformProxied) != 1 || platformProxied[0] != req {
				t.Errorf("the platform got %d calls through the proxy, or not the request's bytes", len(platformProxied))
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
			if e.ErrorType != c.errType || e.ErrorBody != c.bodyStart || e.ErrorBodySize != int64(c.bodySize) || !e.Streamed || e.Size != 4 {
				t.Errorf("end: type %q, body %q (%d bytes of %d), streamed %v, size %d; want %q, %q (%d of %d)",
					e.ErrorType, clip(e.ErrorBody), len(e.ErrorBody), e.ErrorBodySize, e.Streamed, e.Size,
					c.errType, clip(c.bodyStart), len(c.bodyStart), c.bodySize)
			}
			if want := strconv.Itoa(e.Status); !strings.HasPrefix(direct, "HTTP/1.1 "+want+" ") {
				t.Errorf("end: status %d, the platform answered %q", e.Status, clip(direct))
			}
		})
	}
}
