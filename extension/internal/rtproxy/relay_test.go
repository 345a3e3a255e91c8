package rtproxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/internal/tcptest"
)

// recordingAPI is a Runtime API that records the raw bytes of what it is
// sent: each connection's bytes, until the request's body ended (read by
// a tee under net/http's reader), and answers from a script.
type recordingAPI struct {
	ln     net.Listener
	answer string
	mu     sync.Mutex
	raw    []string
}

func startRecordingAPI(t *testing.T, answer string) *recordingAPI {
	t.Helper()
	a := &recordingAPI{answer: answer}
	a.ln = tcptest.Serve(t, func(nc net.Conn) {
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		var raw bytes.Buffer
		br := bufio.NewReader(io.TeeReader(nc, &raw))
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		a.mu.Lock()
		a.raw = append(a.raw, raw.String())
		a.mu.Unlock()
		_, _ = io.WriteString(nc, a.answer)
	})
	return a
}

func (a *recordingAPI) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.raw
	a.raw = nil
	return r
}

// TestHeadsAndBodiesAreRelayedByteForByte sends calls as raw bytes —
// header names in any case, repeated headers, chunk extensions,
// trailers — directly and through the proxy, and compares the bytes the
// platform and the runtime get: the same, every one (net/http would
// rewrite names, reorder headers and re-frame bodies).
func TestHeadsAndBodiesAreRelayedByteForByte(t *testing.T) {
	const answer = "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\nX-Twice: 1\r\nx-twice: 2\r\nConnection: close\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{\"a\":\r\n3\r\n12}\r\n0\r\nX-End: yes\r\n\r\n"
	api := startRecordingAPI(t, answer)
	upstream := api.ln.Addr().String()
	rec := &recorder{}
	p := startProxy(t, upstream, rec)
	for _, req := range []string{
		"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: 127.0.0.1:9001\r\ncontent-TYPE: application/json\r\n" +
			"x-extra: b\r\nX-Extra: a\r\nUser-Agent:  spaced  \r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"k\":\"v\"}\r\n",
		"POST /2018-06-01/runtime/invocation/r2/response HTTP/1.1\r\nHost: h\r\nlambda-runtime-function-response-mode: streaming\r\n" +
			"Transfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\nConnection: close\r\n\r\n" +
			"4;piece=1\r\nabcd\r\nA\r\n0123456789\r\n0\r\nlambda-runtime-function-error-type: Function.Crashed\r\n\r\n",
		"POST /2018-06-01/runtime/invocation/r3/error HTTP/1.1\r\nHost: h\r\nLambda-Runtime-Function-Error-Type: Runtime.Boom\r\n" +
			"Content-Length: 2\r\nConnection: close\r\n\r\n{}",
	} {
		direct := tcptest.Call(t, upstream, req)
		platformDirect := api.take()
		proxied := tcptest.Call(t, p.Addr().String(), req)
		platformProxied := api.take()
		if proxied != direct {
			t.Errorf("the runtime got\n%q\nthrough the proxy, want\n%q", proxied, direct)
		}
		if len(platformDirect) != 1 || len(platformProxied) != 1 || platformProxied[0] != platformDirect[0] {
			t.Errorf("the platform got\n%q\nthrough the proxy, want\n%q", platformProxied, platformDirect)
		}
	}
	rec.wait(t, 0, 3)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := map[string]string{}
	for _, e := range rec.ends {
		got[e.RequestID] = fmt.Sprintf("%d %d %q %v %s", e.Status, e.Size, e.Body, e.Streamed, e.ErrorType)
	}
	want := map[string]string{
		"r1": `202 11 "{\"k\":\"v\"}\r\n" false `,
		"r2": `202 14 "abcd0123456789" true Function.Crashed`,
		"r3": `202 2 "{}" false Runtime.Boom`,
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("end of %s: %s, want %s", id, got[id], w)
		}
	}
}

// TestConnectionsAreKept: a runtime's calls on one connection are
// relayed on one connection to the platform, and one the platform closed
// while it was kept is not used (the next call is relayed whole).
func TestConnectionsAreKept(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(&fakeAPI{event: []byte(`{}`)})
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), &recorder{discard: true})
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	base := "http://" + p.Addr().String() + "/2018-06-01/runtime/invocation/"
	// invoke makes an invocation's two calls, and then between them.
	invoke := func(then func()) {
		t.Helper()
		resp, err := client.Get(base + "next")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		then()
		resp, err = client.Post(base+"r1/response", "application/json", strings.NewReader(`{"ok":true}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	for range 50 {
		invoke(func() {})
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections to the platform for 50 invocations, want 1", n)
	}
	// The platform closes its side of the kept connection: before a call
	// without a body (made again on a new connection), and before one
	// with a body (the connection is looked at before it is used).
	srv.CloseClientConnections()
	for range 3 {
		invoke(srv.CloseClientConnections)
	}
	if st := p.Stats(); st.UpstreamErrors != 0 {
		t.Errorf("%d calls answered 502 after the platform closed a kept connection", st.UpstreamErrors)
	}
}

// TestBadHeadsAreRefused: a head over the limit is answered 431, a
// malformed one 400, one that does not come in time is dropped; each is
// counted, and the proxy goes on relaying. The head that does not come in
// time is sent to a proxy of its own with a short head timeout: with that
// timeout, the 1 MiB head (read within it, in production) could outlast
// it under the race detector and be dropped unanswered.
func TestBadHeadsAreRefused(t *testing.T) {
	api := &fakeAPI{event: []byte(`{}`)}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), &recorder{})
	addr := p.Addr().String()
	big := "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 1<<20+4096) + "\r\n\r\n"
	for _, tt := range []struct{ name, req, status string }{
		{"too large", big, "HTTP/1.1 431 "},
		{"malformed", "GET /x HTTP/1.1\r\nHost h\r\n\r\n", "HTTP/1.1 400 "},
		{"folded", "GET /x HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", "HTTP/1.1 400 "},
		{"two lengths", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "HTTP/1.1 400 "},
		{"unknown coding", "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 400 "},
	} {
		if got := tcptest.Call(t, addr, tt.req); !strings.HasPrefix(got, tt.status) {
			t.Errorf("%s: answered %q, want %q", tt.name, clip(got), tt.status)
		}
	}
	if n := p.Stats().BadRequests; n != 5 {
		t.Errorf("bad requests counted: %d, want 5", n)
	}
	if seen := api.take(); len(seen) != 0 {
		t.Errorf("the platform got %d of the bad requests", len(seen))
	}
	if g := do(t, addr, calls()[0]); g.Status != http.StatusOK {
		t.Errorf("a call after the bad ones: status %d", g.Status)
	}
	api.take()

	// Set before the second proxy starts, read only by its goroutines.
	old := rtproxy.SetHeadTimeout(200 * time.Millisecond)
	t.Cleanup(func() { rtproxy.SetHeadTimeout(old) })
	slow := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), &recorder{})
	if got := tcptest.Call(t, slow.Addr().String(), "GET /x HTTP/1.1\r\nHost: h\r\n"); got != "" {
		t.Errorf("too slow: answered %q, want nothing", clip(got))
	}
	if n := slow.Stats().BadRequests; n != 1 {
		t.Errorf("bad requests counted for the slow head: %d, want 1", n)
	}
	if seen := api.take(); len(seen) != 0 {
		t.Errorf("the platform got the slow head")
	}
	if g := do(t, slow.Addr().String(), calls()[0]); g.Status != http.StatusOK {
		t.Errorf("a call after the slow head: status %d", g.Status)
	}
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// TestExpectContinue: a runtime that waits for 100 Continue before its
// body gets it through the proxy as directly.
func TestExpectContinue(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	upstream := strings.TrimPrefix(srv.URL, "http://")
	p := startProxy(t, upstream, &recorder{})
	for _, addr := range []string{upstream, p.Addr().String()} {
		var got100 atomic.Bool
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{Got100Continue: func() { got100.Store(true) }})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/2018-06-01/runtime/invocation/r1/response",
			strings.NewReader(`{"big":"answer"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Expect", "100-continue")
		client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		client.CloseIdleConnections()
		if resp.StatusCode != http.StatusAccepted || !got100.Load() {
			t.Errorf("%s: status %d, 100 Continue %v; want 202 after a 100", addr, resp.StatusCode, got100.Load())
		}
		if s := api.take(); len(s) != 1 || s[0].Body != `{"big":"answer"}` {
			t.Errorf("%s: the platform got %+v", addr, s)
		}
	}
}

// TestSniffLimit: of a body over the capture limit only the sniff
// limit's worth is kept, whether its length is known up front, announced
// by a chunk larger than the limit, or found only as its small chunks
// come; a chunked body under the limit is kept whole. Each is counted
// whole and crosses byte for byte.
func TestSniffLimit(t *testing.T) {
	const limit, sniff = 1000, 64
	for _, tt := range []struct {
		name string
		// size is the body's; chunk the size of its chunks (0: the body
		// has a Content-Length).
		size, chunk int
		want        int
	}{
		{"known length over the limit", 5000, 0, sniff},
		{"one chunk over the limit", 5000, 5000, sniff},
		{"small chunks over the limit", 5000, 100, sniff},
		{"chunks ending at the limit", 1000, 100, 1000},
		{"chunks under the limit", 800, 400, 800},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("0123456789"), tt.size/10)
			framed := fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
			if tt.chunk > 0 {
				var b strings.Builder
				b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
				for rest := body; len(rest) > 0; rest = rest[min(tt.chunk, len(rest)):] {
					fmt.Fprintf(&b, "%x\r\n%s\r\n", min(tt.chunk, len(rest)), rest[:min(tt.chunk, len(rest))])
				}
				b.WriteString("0\r\n\r\n")
				framed = b.String()
			}
			event := "HTTP/1.1 200 OK\r\n" + rtproxy.HeaderRequestID + ": r1\r\nConnection: close\r\n" + framed
			events := startRecordingAPI(t, event)
			accepted := "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
			answers := startRecordingAPI(t, accepted)
			for _, side := range []struct {
				api      *recordingAPI
				req, ans string
			}{
				{events, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n", event},
				{answers, "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\n" + framed, accepted},
			} {
				rec := &recorder{}
				p := startProxy(t, side.api.ln.Addr().String(), rec, limit)
				p.SetSniffLimit(sniff)
				if got := tcptest.Call(t, p.Addr().String(), side.req); got != side.ans {
					t.Fatalf("the runtime got %q, want %q", clip(got), clip(side.ans))
				}
				if raw := side.api.take(); len(raw) != 1 || raw[0] != side.req {
					t.Fatalf("the platform got %d calls (%q), want %q", len(raw), clip(strings.Join(raw, "")), clip(side.req))
				}
				if side.api == events {
					rec.wait(t, 1, 0)
				} else {
					rec.wait(t, 0, 1)
				}
				rec.mu.Lock()
				kept, truncated := []byte(nil), false
				var size int64
				if side.api == events {
					kept, truncated, size = rec.events[0].Body, rec.events[0].Truncated, int64(len(body))
				} else {
					kept, truncated, size = rec.ends[0].Body, rec.ends[0].Truncated, rec.ends[0].Size
				}
				rec.mu.Unlock()
				if len(kept) != tt.want || truncated != (tt.size > limit) || size != int64(len(body)) || !bytes.Equal(kept, body[:len(kept)]) {
					t.Errorf("%s: %d bytes kept (truncated %v, size %d), want the first %d of %d",
						strings.Fields(side.req)[0], len(kept), truncated, size, tt.want, len(body))
				}
			}
		})
	}
}
