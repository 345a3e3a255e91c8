package rtproxy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(serveProcess(role, os.Getenv(argEnv)))
	}
	goleak.VerifyTestMain(m)
}

// seen is what the fake Runtime API saw of one call.
type seen struct {
	Method, URI   string
	Header        http.Header
	Body          string
	ContentLength int64
	Chunked       bool
	Trailer       http.Header
}

// fakeAPI is a Runtime API that records what it sees and answers from a
// script keyed by path.
type fakeAPI struct {
	mu   sync.Mutex
	seen []seen
	// event is the body of /next.
	event []byte
	// firstChunk, when set, receives the first chunk of a streamed
	// response as soon as it arrives.
	firstChunk chan string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if f.firstChunk != nil && r.ContentLength < 0 {
		buf := make([]byte, 64)
		n, _ := r.Body.Read(buf)
		f.firstChunk <- string(buf[:n])
		rest, _ := io.ReadAll(r.Body)
		body = append(buf[:n:n], rest...)
	} else {
		body, _ = io.ReadAll(r.Body)
	}
	h := r.Header.Clone()
	f.mu.Lock()
	f.seen = append(f.seen, seen{Method: r.Method, URI: r.RequestURI, Header: h, Body: string(body),
		ContentLength: r.ContentLength, Chunked: len(r.TransferEncoding) > 0, Trailer: r.Trailer.Clone()})
	f.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/invocation/next"):
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(rtproxy.HeaderRequestID, "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
		w.Header().Set(rtproxy.HeaderDeadline, "1542409706888")
		w.Header().Set(rtproxy.HeaderTraceID, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
		w.Header().Set(rtproxy.HeaderFunctionARN, "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime")
		w.Header().Set("Lambda-Runtime-Client-Context", `{"custom":{"a":"b"}}`)
		_, _ = w.Write(f.event)
	case strings.HasSuffix(r.URL.Path, "/response") || strings.HasSuffix(r.URL.Path, "/error"):
		if r.Header.Get("X-Want-Status") != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, `{"errorMessage":"too large","errorType":"RequestEntityTooLarge"}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"OK"}`)
	case strings.HasSuffix(r.URL.Path, "/init/error"):
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"OK"}`)
	default:
		w.Header().Set("X-Custom", "kept")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "not found\n")
	}
}

func (f *fakeAPI) take() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.seen
	f.seen = nil
	return s
}

// got is what the runtime saw of one call's answer.
type got struct {
	Status  int
	Header  http.Header
	Body    string
	Trailer http.Header
}

// call is one Runtime API call as a runtime makes it.
type call struct {
	name, method, path string
	header             http.Header
	body               []byte
	// chunks, when set, is sent as a chunked body, with trailer.
	chunks  []string
	trailer http.Header
}

// do makes c against addr as a runtime would.
func do(t *testing.T, addr string, c call) got {
	t.Helper()
	var body io.Reader
	if c.chunks != nil {
		pr, pw := io.Pipe()
		go func() {
			for _, ch := range c.chunks {
				_, _ = io.WriteString(pw, ch)
			}
			_ = pw.Close()
		}()
		body = pr
	} else if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, "http://"+addr+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vv := range c.header {
		req.Header[k] = vv
	}
	if c.chunks != nil {
		req.ContentLength = -1
		req.Trailer = c.trailer.Clone()
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Header.Clone()
	h.Del("Date")
	return got{Status: resp.StatusCode, Header: h, Body: string(b), Trailer: resp.Trailer}
}

// recorder is an Observer keeping copies of what it was told.
type recorder struct {
	mu     sync.Mutex
	events []rtproxy.Event
	ends   []rtproxy.End
	panic  bool
	// discard keeps no bodies (the events and ends are still counted).
	discard bool
}

func (r *recorder) Invoked(ev rtproxy.Event) {
	ev.Body = r.keep(ev.Body)
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	if r.panic {
		panic("observer failed")
	}
}

func (r *recorder) Ended(e rtproxy.End) {
	e.Body = r.keep(e.Body)
	r.mu.Lock()
	r.ends = append(r.ends, e)
	r.mu.Unlock()
	if r.panic {
		panic("observer failed")
	}
}

func (r *recorder) keep(b []byte) []byte {
	if r.discard {
		return nil
	}
	return bytes.Clone(b)
}

// wait blocks until the recorder holds n events and ends (the Observer is
// called once the runtime has its answer), within a bound.
func (r *recorder) wait(t *testing.T, events, ends int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		ne, nd := len(r.events), len(r.ends)
		r.mu.Unlock()
		if ne >= events && nd >= ends {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("observed %d events and %d ends, want %d and %d", ne, nd, events, ends)
		}
		time.Sleep(time.Millisecond)
	}
}

func startProxy(t testing.TB, upstream string, obs rtproxy.Observer, captureLimit ...int) *rtproxy.Proxy {
	t.Helper()
	p, err := rtproxy.New(upstream, obs, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range captureLimit {
		p.SetCaptureLimit(n)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return p
}

func calls() []call {
	id := "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd"
	return []call{
		{name: "next", method: "GET", path: "/2018-06-01/runtime/invocation/next", header: http.Header{"User-Agent": {"aws-lambda-go/go1.26"}}},
		{name: "response", method: "POST", path: id + "/response", body: []byte(`{"statusCode":201,"body":"hello"}`),
			header: http.Header{"Content-Type": {"application/json"}, "X-Extra": {"a", "b"}}},
		{name: "response without user agent", method: "POST", path: id + "/response", body: []byte(`"ok"`), header: http.Header{"User-Agent": nil}},
		{name: "empty response", method: "POST", path: id + "/response"},
		{name: "refused response", method: "POST", path: id + "/response", body: []byte(`{"big":true}`), header: http.Header{"X-Want-Status": {"413"}}},
		{name: "error", method: "POST", path: id + "/error", body: []byte(`{"errorMessage":"boom","errorType":"Runtime.Boom","stackTrace":[]}`),
			header: http.Header{rtproxy.HeaderErrorType: {"Runtime.Boom"}, "Content-Type": {"application/json"}}},
		{name: "init error", method: "POST", path: "/2018-06-01/runtime/init/error", body: []byte(`{"errorMessage":"no","errorType":"Init.Failed"}`),
			header: http.Header{rtproxy.HeaderErrorType: {"Init.Failed"}}},
		{name: "restore next", method: "GET", path: "/2018-06-01/runtime/restore/next"},
		{name: "unknown path with query", method: "PUT", path: "/2099-01-01/whatever?x=1&y=%20", body: []byte("raw\x00bytes")},
		{name: "streamed response with error trailers", method: "POST", path: id + "/response",
			header:  http.Header{rtproxy.HeaderResponseMode: {"streaming"}, "Content-Type": {"application/vnd.awslambda.http-integration-response"}},
			chunks:  []string{`{"statusCode":200}`, "\x00\x00\x00\x00\x00\x00\x00\x00", "part one,", "part two"},
			trailer: http.Header{rtproxy.HeaderErrorType: {"Function.Crashed"}, rtproxy.HeaderErrorBody: {"eyJlcnJvck1lc3NhZ2UiOiJ4In0="}}},
	}
}

// TestPassThroughIsExact makes every kind of Runtime API call directly and
// through the proxy and compares what the platform and the runtime saw.
func TestPassThroughIsExact(t *testing.T) {
	event := bytes.Repeat([]byte("x"), 6<<20)
	copy(event, `{"k":"`)
	api := &fakeAPI{event: event}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	upstream := strings.TrimPrefix(srv.URL, "http://")
	rec := &recorder{}
	p := startProxy(t, upstream, rec)

	for _, c := range calls() {
		t.Run(c.name, func(t *testing.T) {
			direct := do(t, upstream, c)
			platformDirect := api.take()
			proxied := do(t, p.Addr().String(), c)
			platformProxied := api.take()
			if !reflect.DeepEqual(direct, proxied) {
				t.Errorf("the runtime saw\n%+v\nthrough the proxy, want\n%+v", short(proxied), short(direct))
			}
			if len(platformDirect) != 1 || len(platformProxied) != 1 {
				t.Fatalf("platform saw %d calls directly, %d through the proxy; want 1 and 1", len(platformDirect), len(platformProxied))
			}
			d, q := platformDirect[0], platformProxied[0]
			// The proxy is a new connection's client, so the platform may
			// see a different Accept-Encoding only if the proxy added one;
			// nothing is excluded from the comparison.
			if !reflect.DeepEqual(d, q) {
				t.Errorf("the platform saw\n%+v\nthrough the proxy, want\n%+v", shortSeen(q), shortSeen(d))
			}
		})
	}

	rec.wait(t, 1, 6)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) != 1 || rec.events[0].RequestID != "8476a536-e9f4-11e8-9739-2dfe598c3fcd" ||
		!bytes.Equal(rec.events[0].Body, event) || rec.events[0].Deadline.UnixMilli() != 1542409706888 ||
		!strings.HasPrefix(rec.events[0].TraceID, "Root=1-5bef4de7") {
		t.Errorf("observed events: %d, first %+v", len(rec.events), rec.events)
	}
	var kinds []string
	for _, e := range rec.ends {
		kinds = append(kinds, fmt.Sprintf("%d/%d/%d/%v/%s", e.Kind, e.Status, e.Size, e.Streamed, e.ErrorType))
	}
	want := []string{
		"1/202/33/false/", "1/202/4/false/", "1/202/0/false/", "1/413/12/false/",
		"2/202/66/false/Runtime.Boom", "1/202/43/true/Function.Crashed",
	}
	// The Observer runs after the runtime has its answer, so its calls may
	// come in another order than the runtime's.
	sort.Strings(kinds)
	sort.Strings(want)
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("observed ends %q, want %q", kinds, want)
	}
	var last rtproxy.End
	for _, e := range rec.ends {
		if e.Streamed {
			last = e
		}
	}
	if string(last.Body) != `{"statusCode":200}`+"\x00\x00\x00\x00\x00\x00\x00\x00part one,part two" ||
		last.ErrorBody != "eyJlcnJvck1lc3NhZ2UiOiJ4In0=" {
		t.Errorf("streamed end: body %q, error body %q", last.Body, last.ErrorBody)
	}
}

func short(g got) got {
	if len(g.Body) > 80 {
		g.Body = g.Body[:80] + fmt.Sprintf("...(%d bytes)", len(g.Body))
	}
	return g
}

func shortSeen(s seen) seen {
	if len(s.Body) > 80 {
		s.Body = s.Body[:80] + fmt.Sprintf("...(%d bytes)", len(s.Body))
	}
	return s
}

// TestStreamedBodyIsNotHeldBack checks that the first chunk of a streamed
// response reaches the platform while the runtime has not yet sent the
// rest.
func TestStreamedBodyIsNotHeldBack(t *testing.T) {
	api := &fakeAPI{firstChunk: make(chan string, 1)}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), &recorder{})

	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), "POST",
		"http://"+p.Addr().String()+"/2018-06-01/runtime/invocation/abc/response", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(rtproxy.HeaderResponseMode, "streaming")
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	done := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		done <- err
	}()
	if _, err := io.WriteString(pw, "first"); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-api.firstChunk:
		if c != "first" {
			t.Errorf("first chunk %q", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first chunk did not reach the platform before the runtime sent the rest")
	}
	_, _ = io.WriteString(pw, "second")
	_ = pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the streamed call did not end")
	}
	if s := api.take(); len(s) != 1 || s[0].Body != "firstsecond" {
		t.Errorf("platform saw %+v", s)
	}
}

// TestConcurrentCalls relays calls made at once, as on Managed Instances,
// each to its own answer.
func TestConcurrentCalls(t *testing.T) {
	api := &fakeAPI{event: []byte(`{}`)}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), rec)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			body := fmt.Sprintf(`{"n":%d}`, i)
			g := do(t, p.Addr().String(), call{name: "response", method: "POST",
				path: fmt.Sprintf("/2018-06-01/runtime/invocation/req-%d/response", i), body: []byte(body)})
			if g.Status != http.StatusAccepted {
				t.Errorf("call %d: status %d", i, g.Status)
			}
		})
	}
	wg.Wait()
	bodies := map[string]string{}
	for _, s := range api.take() {
		bodies[s.URI] = s.Body
	}
	rec.wait(t, 0, 16)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := range 16 {
		want := fmt.Sprintf(`{"n":%d}`, i)
		if got := bodies[fmt.Sprintf("/2018-06-01/runtime/invocation/req-%d/response", i)]; got != want {
			t.Errorf("call %d: platform saw %q, want %q", i, got, want)
		}
	}
	if len(rec.ends) != 16 {
		t.Errorf("observed %d ends, want 16", len(rec.ends))
	}
	for _, e := range rec.ends {
		if want := fmt.Sprintf(`{"n":%s}`, strings.TrimPrefix(e.RequestID, "req-")); string(e.Body) != want {
			t.Errorf("end of %s has body %q, want %q", e.RequestID, e.Body, want)
		}
	}
}

// TestObserverPanicLeavesCallsIntact is the fault test of a proxy failing
// mid-flight: an Observer that panics on every call changes nothing the
// runtime or the platform sees, and is counted.
func TestObserverPanicLeavesCallsIntact(t *testing.T) {
	api := &fakeAPI{event: []byte(`{"Records":[]}`)}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	upstream := strings.TrimPrefix(srv.URL, "http://")
	p := startProxy(t, upstream, &recorder{panic: true})
	for _, c := range calls() {
		direct := do(t, upstream, c)
		proxied := do(t, p.Addr().String(), c)
		if !reflect.DeepEqual(direct, proxied) {
			t.Errorf("%s: the runtime saw %+v through a failing proxy, want %+v", c.name, proxied, direct)
		}
		d := api.take()
		if len(d) != 2 || !reflect.DeepEqual(d[0], d[1]) {
			t.Errorf("%s: the platform saw different calls through a failing proxy: %+v", c.name, d)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().ObserverPanics < 7 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := p.Stats().ObserverPanics; n != 7 {
		t.Errorf("observer panics counted: %d, want 7 (one event, six answers)", n)
	}
}

// TestUpstreamUnreachable answers 502 and counts it.
func TestUpstreamUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	rec := &recorder{}
	p := startProxy(t, dead, rec)
	g := do(t, p.Addr().String(), call{name: "response", method: "POST", path: "/2018-06-01/runtime/invocation/r1/response", body: []byte("{}")})
	if g.Status != http.StatusBadGateway {
		t.Errorf("status %d, want 502", g.Status)
	}
	if st := p.Stats(); st.UpstreamErrors != 1 {
		t.Errorf("upstream errors %d, want 1", st.UpstreamErrors)
	}
	rec.wait(t, 0, 1)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.ends) != 1 || !rec.ends[0].Failed {
		t.Errorf("observed ends %+v, want one failed", rec.ends)
	}
}

// TestShutdownLetsPendingNextFinish: a /next waiting when the proxy shuts
// down still gets its event.
func TestShutdownLetsPendingNextFinish(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set(rtproxy.HeaderRequestID, "r1")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	p, err := rtproxy.New(strings.TrimPrefix(srv.URL, "http://"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Serve(ln)
	type result struct {
		g   got
		err error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + p.Addr().String() + "/2018-06-01/runtime/invocation/next")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		res <- result{g: got{Status: resp.StatusCode, Body: string(b)}}
	}()
	// Wait until the call is in flight, then shut down while it waits.
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Calls == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- p.Shutdown(ctx)
	}()
	close(release)
	select {
	case r := <-res:
		if r.err != nil || r.g.Status != 200 || r.g.Body != "{}" {
			t.Errorf("pending /next ended with %+v, %v", r.g, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending /next did not end")
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestCaptureLimit: with a capture limit the Observer gets the first bytes
// of each body, marked truncated and with the whole size counted, while
// the runtime and the platform still get every byte.
func TestCaptureLimit(t *testing.T) {
	const limit = 100
	event := bytes.Repeat([]byte("e"), 300<<10)
	answer := bytes.Repeat([]byte("a"), 200<<10)
	f := &fakeAPI{event: event}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	r := &recorder{}
	p, err := rtproxy.New(strings.TrimPrefix(srv.URL, "http://"), r, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p.SetCaptureLimit(limit)
	p.SetCaptureLimit(0) // ignored
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	id := "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd"
	next := do(t, p.Addr().String(), call{name: "next", method: http.MethodGet, path: "/2018-06-01/runtime/invocation/next"})
	resp := do(t, p.Addr().String(), call{name: "response", method: http.MethodPost, path: id + "/response", body: answer})
	if next.Body != string(event) || resp.Status != http.StatusAccepted {
		t.Fatalf("runtime got %d bytes of the event and status %d", len(next.Body), resp.Status)
	}
	if seen := f.take(); len(seen) != 2 || seen[1].Body != string(answer) {
		t.Fatalf("platform got %d calls, answer of %d bytes", len(seen), len(seen[len(seen)-1].Body))
	}
	r.wait(t, 1, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	ev, end := r.events[0], r.ends[0]
	if string(ev.Body) != string(event[:limit]) || !ev.Truncated {
		t.Errorf("Observer got %d bytes of the event (truncated %v), want the first %d", len(ev.Body), ev.Truncated, limit)
	}
	if string(end.Body) != string(answer[:limit]) || !end.Truncated || end.Size != int64(len(answer)) {
		t.Errorf("Observer got %d bytes of the answer (truncated %v, size %d), want the first %d of %d",
			len(end.Body), end.Truncated, end.Size, limit, len(answer))
	}
}

// TestLargeBodiesAreNotHeldBack checks that a buffered body (one with a
// Content-Length) crosses the proxy as it arrives, in both directions: the
// platform reads the first bytes of a 6 MiB answer while the runtime still
// holds the rest back, and the runtime reads the first bytes of a 6 MiB
// event while the platform still holds the rest back. A proxy that stored
// a body before forwarding it would never let the first side see them.
func TestLargeBodiesAreNotHeldBack(t *testing.T) {
	const size, head = 6 << 20, 256 << 10
	payload := bytes.Repeat([]byte("b"), size)
	// seenHead is closed by the side receiving a body once it has read the
	// body's first bytes; the sending side sends the rest only then.
	var seenHead chan struct{}
	waitHead := func() error {
		select {
		case <-seenHead:
			return nil
		case <-time.After(5 * time.Second):
			return fmt.Errorf("the first %d bytes did not cross the proxy while the rest was held back", head)
		}
	}
	readHead := func(r io.Reader) error {
		b := make([]byte, head)
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		if !bytes.Equal(b, payload[:head]) {
			return errors.New("the first bytes differ")
		}
		close(seenHead)
		n, err := io.Copy(io.Discard, r)
		if err == nil && n != size-head {
			err = fmt.Errorf("%d bytes after the first ones, want %d", n, size-head)
		}
		return err
	}
	var apiErr error
	var apiMu sync.Mutex
	setErr := func(err error) {
		apiMu.Lock()
		defer apiMu.Unlock()
		if err != nil && apiErr == nil {
			apiErr = err
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set(rtproxy.HeaderRequestID, "r1")
			w.Header().Set("Content-Length", fmt.Sprint(size))
			_, _ = w.Write(payload[:head])
			_ = http.NewResponseController(w).Flush()
			if err := waitHead(); err != nil {
				setErr(err)
				return
			}
			_, _ = w.Write(payload[head:])
			return
		}
		setErr(readHead(r.Body))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), &recorder{}, 1<<20+1)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	base := "http://" + p.Addr().String() + "/2018-06-01/runtime/invocation/"

	t.Run("event", func(t *testing.T) {
		seenHead = make(chan struct{})
		resp, err := client.Get(base + "next")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := readHead(resp.Body); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("answer", func(t *testing.T) {
		seenHead = make(chan struct{})
		pr, pw := io.Pipe()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"r1/response", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		sent := make(chan error, 1)
		go func() {
			_, err := pw.Write(payload[:head])
			if err == nil {
				err = waitHead()
			}
			if err == nil {
				_, err = pw.Write(payload[head:])
			}
			_ = pw.CloseWithError(err)
			sent <- err
		}()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("status %d, want 202", resp.StatusCode)
		}
	})
	apiMu.Lock()
	defer apiMu.Unlock()
	if apiErr != nil {
		t.Error(apiErr)
	}
}

// TestLargeBodiesAllocateLittle relays 6 MiB events and answers with the
// agent's capture limit and checks what the whole process (runtime,
// proxy and platform of the test) allocates per invocation once warm:
// far less than one body, so nothing copies a body whole, and the
// capture buffers (1 MiB each) come from the pool, not from the heap.
func TestLargeBodiesAllocateLittle(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled buffers on purpose")
	}
	const size = 6 << 20
	payload := bytes.Repeat([]byte("z"), size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set(rtproxy.HeaderRequestID, "r1")
			_, _ = w.Write(payload) // no Content-Length: chunked, the capture cannot be sized up front
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), &recorder{discard: true}, 1<<20+1)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	base := "http://" + p.Addr().String() + "/2018-06-01/runtime/invocation/"
	invoke := func() {
		t.Helper()
		resp, err := client.Get(base + "next")
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil || n != size {
			t.Fatalf("event: %d bytes, %v", n, err)
		}
		resp, err = client.Post(base+"r1/response", "application/json", bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("answer: status %d", resp.StatusCode)
		}
	}
	for range 3 {
		invoke()
	}
	const n = 10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		invoke()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 512<<10 {
		t.Errorf("%d KiB allocated per invocation of a 6 MiB event and answer, want at most 512 KiB", per>>10)
	}
}

// TestBuffersOutliveGarbageCollections: in the agent the garbage
// collector runs every few invocations; the buffers that keep and relay
// bodies must still be reused, not allocated again after each collection
// (a capture of a body of unknown length regrown from nothing costs more
// than a MiB of garbage, which brings the next collection closer, and
// the heap and resident memory grew by 7–11 MiB while 6 MB bodies
// passed). Both bodies here are of unknown length: the event chunked by
// the platform, the answer streamed by the runtime.
func TestBuffersOutliveGarbageCollections(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled buffers on purpose")
	}
	const size = 6 << 20
	payload := bytes.Repeat([]byte("g"), size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set(rtproxy.HeaderRequestID, "r1")
			_, _ = w.Write(payload) // no Content-Length: chunked
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), &recorder{discard: true}, 1<<20+1)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	base := "http://" + p.Addr().String() + "/2018-06-01/runtime/invocation/"
	invoke := func() {
		t.Helper()
		resp, err := client.Get(base + "next")
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil || n != size {
			t.Fatalf("event: %d bytes, %v", n, err)
		}
		// A reader the transport cannot take the length of: chunked.
		resp, err = client.Post(base+"r1/response", "application/json", io.MultiReader(bytes.NewReader(payload)))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("answer: status %d", resp.StatusCode)
		}
	}
	for range 3 {
		invoke()
	}
	const n = 6
	var allocated uint64
	var ms runtime.MemStats
	for range n {
		// Two collections: what a sync.Pool holds is gone after them.
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		invoke()
		runtime.ReadMemStats(&ms)
		allocated += ms.TotalAlloc - before
	}
	if per := allocated / n; per > 512<<10 {
		t.Errorf("%d KiB allocated per invocation of a 6 MiB event and answer after garbage collections, want at most 512 KiB", per>>10)
	}
}

// TestEarlyRefusalOfALargeAnswer: the platform refuses a large answer
// before reading it whole (as it may for one over its limit) while the
// proxy's copy upstream still reads the body. The runtime gets the
// refusal, and the Observer gets an end that the copy no longer writes
// into (run with -race).
func TestEarlyRefusalOfALargeAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 1024)
		_, _ = io.ReadFull(r.Body, b)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = io.WriteString(w, `{"errorType":"Function.ResponseSizeTooLarge"}`)
	}))
	t.Cleanup(srv.Close)
	rec := &recorder{}
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), rec, 1<<20+1)
	answer := bytes.Repeat([]byte("a"), 8<<20)
	for i := range 5 {
		g := do(t, p.Addr().String(), call{name: "large answer", method: http.MethodPost,
			path: fmt.Sprintf("/2018-06-01/runtime/invocation/r%d/response", i), body: answer})
		if g.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", g.Status)
		}
	}
	rec.wait(t, 0, 5)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.ends {
		if e.Status != http.StatusRequestEntityTooLarge || !bytes.Equal(e.Body, answer[:len(e.Body)]) {
			t.Errorf("end of %s: status %d, %d bytes that are not the answer's first", e.RequestID, e.Status, len(e.Body))
		}
	}
}

// TestStreamedAnswerOf20MiB relays the largest streamed answer Lambda
// takes (20 MB) with its error trailers: the platform gets every byte and
// the trailers, the Observer the size, the first bytes and the trailers.
func TestStreamedAnswerOf20MiB(t *testing.T) {
	const size, piece = 20 << 20, 100 << 10
	answer := make([]byte, size)
	for i := range answer {
		answer[i] = byte(i * 7)
	}
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), rec, 1<<20+1)
	var chunks []string
	for off := 0; off < size; off += piece {
		chunks = append(chunks, string(answer[off:min(off+piece, size)]))
	}
	trailer := http.Header{rtproxy.HeaderErrorType: {"Function.Crashed"}, rtproxy.HeaderErrorBody: {"eyJ4IjoxfQ=="}}
	g := do(t, p.Addr().String(), call{name: "streamed", method: http.MethodPost,
		path:   "/2018-06-01/runtime/invocation/r1/response",
		header: http.Header{rtproxy.HeaderResponseMode: {"streaming"}}, chunks: chunks, trailer: trailer})
	if g.Status != http.StatusAccepted {
		t.Fatalf("status %d", g.Status)
	}
	seen := api.take()
	if len(seen) != 1 {
		t.Fatalf("platform saw %d calls, want 1", len(seen))
	}
	if s := seen[0]; !s.Chunked || s.Body != string(answer) || !reflect.DeepEqual(s.Trailer, trailer) {
		t.Fatalf("platform saw: chunked %v, %d bytes (equal %v), trailer %v", s.Chunked, len(s.Body), s.Body == string(answer), s.Trailer)
	}
	rec.wait(t, 0, 1)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	e := rec.ends[0]
	if e.Size != size || !e.Streamed || !e.Truncated || !bytes.Equal(e.Body, answer[:1<<20+1]) ||
		e.ErrorType != "Function.Crashed" || e.ErrorBody != "eyJ4IjoxfQ==" {
		t.Errorf("observed size %d, streamed %v, truncated %v, %d bytes (the first? %v), error %q %q",
			e.Size, e.Streamed, e.Truncated, len(e.Body), bytes.Equal(e.Body, answer[:min(len(e.Body), size)]), e.ErrorType, e.ErrorBody)
	}
}

// TestRedirectsArePassedOn: the proxy relays a redirect as it came, as
// any other answer, and never follows it itself.
func TestRedirectsArePassedOn(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/elsewhere" {
			_, _ = io.WriteString(w, "followed")
			return
		}
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), &recorder{})
	client := &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Get("http://" + p.Addr().String() + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/elsewhere" {
		t.Errorf("the runtime got %d, Location %q; want 302 to /elsewhere", resp.StatusCode, resp.Header.Get("Location"))
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(paths, []string{"/2018-06-01/runtime/invocation/next"}) {
		t.Errorf("the platform was called on %q, want the runtime's one call", paths)
	}
}

// TestRuntimeLeavingMidAnswer: the runtime goes away while it sends an
// answer the platform has not answered yet. Its call ends, the proxy
// gives the call up, and later calls are relayed whole.
func TestRuntimeLeavingMidAnswer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/2018-06-01/runtime/invocation/gone/response" {
			b := make([]byte, 64<<10)
			for {
				if _, err := r.Body.Read(b); err != nil {
					break
				}
			}
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), &recorder{discard: true}, 1<<20+1)
	base := "http://" + p.Addr().String() + "/2018-06-01/runtime/invocation/"
	for range 3 {
		ctx, cancel := context.WithCancel(t.Context())
		pr, pw := io.Pipe()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"gone/response", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = 1 << 20
		done := make(chan struct{})
		go func() {
			defer close(done)
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			if resp, err := client.Do(req); err == nil {
				_ = resp.Body.Close()
			}
		}()
		go func() {
			for range 4 {
				if _, err := pw.Write(bytes.Repeat([]byte("g"), 64<<10)); err != nil {
					return
				}
			}
			cancel() // the runtime leaves mid-body
			_ = pw.CloseWithError(context.Canceled)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the runtime's call did not end")
		}
	}
	// Calls after those are relayed whole.
	answer := bytes.Repeat([]byte("k"), 3<<20)
	g := do(t, p.Addr().String(), call{name: "next answer", method: http.MethodPost, path: "/2018-06-01/runtime/invocation/r2/response", body: answer})
	if g.Status != http.StatusAccepted || g.Body != string(answer) {
		t.Errorf("later answer: status %d, %d bytes back", g.Status, len(g.Body))
	}
}

// TestEndsComeWithoutWaitingOnTheBody: the Observer's end of an answer
// comes once the call was relayed, for every kind of body.
func TestEndsComeWithoutWaitingOnTheBody(t *testing.T) {
	api := &fakeAPI{event: []byte(`{}`)}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), rec)
	n := 0
	for _, c := range calls() {
		if !isAnswer(c.path) {
			continue
		}
		n++
		_ = do(t, p.Addr().String(), c)
		rec.wait(t, 0, n)
	}
}

// isAnswer says whether path is an invocation's /response or /error.
func isAnswer(path string) bool {
	return strings.Contains(path, "/runtime/invocation/") &&
		(strings.HasSuffix(path, "/response") || strings.HasSuffix(path, "/error"))
}

// ordered is an Observer that notes the order of its calls; Invoked
// returns only once gate is closed.
type ordered struct {
	gate  chan struct{}
	mu    sync.Mutex
	calls []string
}

func (o *ordered) Invoked(ev rtproxy.Event) {
	<-o.gate
	o.note("invoked " + ev.RequestID)
}

func (o *ordered) Ended(e rtproxy.End) { o.note("ended " + e.RequestID) }

func (o *ordered) note(s string) {
	o.mu.Lock()
	o.calls = append(o.calls, s)
	o.mu.Unlock()
}

func (o *ordered) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls)
}

// TestEndedComesAfterInvoked: the runtime answers while the Observer is
// still in Invoked for the event; Ended is called only once Invoked has
// returned, so the end can be read against the event.
func TestEndedComesAfterInvoked(t *testing.T) {
	api := &fakeAPI{event: []byte(`{"k":1}`)}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	obs := &ordered{gate: make(chan struct{})}
	p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), obs)
	const id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd" // what the fake API sends
	_ = do(t, p.Addr().String(), call{name: "next", method: http.MethodGet, path: "/2018-06-01/runtime/invocation/next"})
	_ = do(t, p.Addr().String(), call{name: "response", method: http.MethodPost,
		path: "/2018-06-01/runtime/invocation/" + id + "/response", body: []byte(`{}`)})
	// Give an unordered Ended the time to be called while Invoked waits.
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline) && len(obs.seen()) == 0; {
		time.Sleep(time.Millisecond)
	}
	close(obs.gate)
	deadline := time.Now().Add(5 * time.Second)
	for len(obs.seen()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got, want := obs.seen(), []string{"invoked " + id, "ended " + id}; !reflect.DeepEqual(got, want) {
		t.Errorf("Observer calls %q, want %q", got, want)
	}
}

// blockingObserver holds every Invoked call until release is closed.
type blockingObserver struct {
	entered chan struct{}
	release chan struct{}
}

func (o *blockingObserver) Invoked(rtproxy.Event) {
	select {
	case o.entered <- struct{}{}:
	default:
	}
	<-o.release
}

func (o *blockingObserver) Ended(rtproxy.End) {}

// TestShutdownIsBoundedByItsContext holds Shutdown to its context when an
// Observer call does not return: it gives up at the deadline and says so.
func TestShutdownIsBoundedByItsContext(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", "9999999999999")
		_, _ = w.Write([]byte(`{"k":"v"}`))
	}))
	t.Cleanup(upstream.Close)
	obs := &blockingObserver{entered: make(chan struct{}, 1), release: make(chan struct{})}
	t.Cleanup(func() { close(obs.release) })
	p, err := rtproxy.New(strings.TrimPrefix(upstream.URL, "http://"), obs, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Serve(ln)
	resp, err := http.Get("http://" + ln.Addr().String() + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Fatalf("next through the proxy: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	select {
	case <-obs.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the observer never heard of the event")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown with an observer that does not return: %v, want the context's deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return at its context's deadline")
	}
}
