// Package rtproxy serves the Lambda Runtime API on a loopback port and
// forwards every call to the real one, so that the extension sees each
// event the runtime takes and each answer it gives without any code in the
// function. The layer's exec wrapper points the runtime at it
// (AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>) only while it is up.
//
// Pass-through is exact: method, path and query, headers (hop-by-hop ones
// aside, as HTTP requires) and bodies are relayed byte for byte in both
// directions, status codes and trailers too. Every body is forwarded as
// it arrives, never stored first: one of known length (a 6 MB event or
// answer) in the pieces it arrives in, one of unknown length (response
// streaming, Lambda-Runtime-Function-Response-Mode: streaming) chunk by
// chunk, flushed, with the error trailers the runtime sends at its end.
// The first bytes of events and answers, up to the capture limit
// (MaxCapture, or less: see SetCaptureLimit), are kept for the Observer in
// buffers reused from call to call (see keptBuffers): read straight into
// them and passed on from there, so keeping them costs no copy of its
// own; the rest of a body crosses a reused 256 KiB buffer. The Observer
// is called only once the call has been relayed: what the extension
// derives from a call never delays it, and a failure of the Observer
// (even a panic) never changes it. Concurrent calls (Lambda Managed
// Instances) are served concurrently.
//
// Only the Observer sees bodies; they never leave the process.
package rtproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxCapture is the most of one body kept for the Observer: Lambda's limit
// of a buffered event or response (6 MB) plus room for the JSON around it.
const MaxCapture = 6<<20 + 64<<10

// Paths of the Runtime API, version 2018-06-01.
const (
	prefix      = "/2018-06-01/runtime/"
	pathNext    = prefix + "invocation/next"
	invocations = prefix + "invocation/"
)

// Headers the Runtime API sends with an event.
const (
	HeaderRequestID   = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadline    = "Lambda-Runtime-Deadline-Ms"
	HeaderTraceID     = "Lambda-Runtime-Trace-Id"
	HeaderFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	// HeaderErrorType is sent by the runtime with /error, and as a trailer
	// of a streamed response that failed.
	HeaderErrorType = "Lambda-Runtime-Function-Error-Type"
	// HeaderErrorBody is the trailer of a streamed response that failed
	// (base64 of the error's JSON).
	HeaderErrorBody = "Lambda-Runtime-Function-Error-Body"
	// HeaderResponseMode is "streaming" on a streamed response.
	HeaderResponseMode = "Lambda-Runtime-Function-Response-Mode"
)

// Event is an invocation event as the runtime received it.
type Event struct {
	RequestID string
	// TraceID is the Lambda-Runtime-Trace-Id header (X-Ray format).
	TraceID  string
	Deadline time.Time
	// Received is when the event reached the proxy.
	Received time.Time
	// Body is the event (up to the capture limit), valid only during the
	// Observer's call; Truncated says it was longer.
	Body      []byte
	Truncated bool
}

// Kind is what a runtime's answer is.
type Kind int

const (
	// Response is POST .../{id}/response.
	Response Kind = iota + 1
	// Error is POST .../{id}/error.
	Error
)

// End is the runtime's answer to an invocation, as relayed to the platform.
type End struct {
	RequestID string
	Kind      Kind
	// Status is what the platform answered (202 when it took the answer).
	Status int
	// Size is the number of body bytes the runtime sent.
	Size int64
	// Streamed says the body came in chunks of unknown total length.
	Streamed bool
	// ErrorType is the Lambda-Runtime-Function-Error-Type header or, for a
	// streamed response that failed, trailer.
	ErrorType string
	// ErrorBody is the Lambda-Runtime-Function-Error-Body trailer of a
	// streamed response that failed.
	ErrorBody string
	// Body is the answer (up to the capture limit), valid only during the
	// Observer's call; Truncated says it was longer.
	Body      []byte
	Truncated bool
	// Started is when the runtime began sending the answer; Ended when the
	// platform's answer was relayed back to it.
	Started, Ended time.Time
	// Failed says the platform could not be reached: the runtime was
	// answered 502.
	Failed bool
}

// Observer is told what passes through the proxy. Its methods are called
// once the call was relayed, each from a goroutine of its own (so the
// runtime's next call never waits for them), possibly concurrently for
// different invocations. For one invocation, Ended is called only once
// Invoked has returned (however quick the runtime's answer), unless
// Invoked takes longer than a bound (invokedWait).
type Observer interface {
	Invoked(Event)
	Ended(End)
}

// Stats are the proxy's counters.
type Stats struct {
	// Calls is the number of calls relayed; UpstreamErrors the calls the
	// real Runtime API could not be reached for (answered 502).
	Calls, UpstreamErrors uint64
	// ObserverPanics counts Observer calls that panicked (the call itself
	// was relayed).
	ObserverPanics uint64
}

// Proxy is a Runtime API proxy.
type Proxy struct {
	upstream string
	obs      Observer
	log      *slog.Logger
	// transport makes the calls upstream. It is used directly, not
	// through an http.Client, which would follow redirects instead of
	// relaying them, and clone every call's headers to be able to.
	transport *http.Transport
	srv       *http.Server
	addr      net.Addr
	// free are the captures kept between calls (see keptBuffers).
	free chan *capture
	// limit is the most of one body kept for the Observer.
	limit int

	calls, upstreamErrors, panics atomic.Uint64
	// invoking holds, by request ID, a channel closed when the Observer's
	// Invoked call for that event has returned.
	invokingMu sync.Mutex
	invoking   map[string]chan struct{}
	// observers are the Observer calls under way.
	observers    sync.WaitGroup
	shutdownOnce sync.Once
	done         chan struct{}
	serveErr     error
}

// New prepares a proxy forwarding to upstream (AWS_LAMBDA_RUNTIME_API,
// host:port). obs may be nil.
func New(upstream string, obs Observer, log *slog.Logger) (*Proxy, error) {
	if upstream == "" {
		return nil, errors.New("runtime proxy: AWS_LAMBDA_RUNTIME_API is not set")
	}
	if log == nil {
		log = slog.Default()
	}
	tr := &http.Transport{
		// The platform is on the same host; no proxy, no compression (it
		// would change the bytes), enough idle connections for the
		// concurrent calls of Managed Instances.
		Proxy:               nil,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 64,
		// Large bodies cross in few system calls.
		WriteBufferSize: 64 << 10,
		ReadBufferSize:  64 << 10,
		IdleConnTimeout: 90 * time.Second,
		DialContext:     dialUpstream,
	}
	p := &Proxy{upstream: upstream, obs: obs, log: log, transport: tr, done: make(chan struct{}), limit: MaxCapture,
		invoking: map[string]chan struct{}{}, free: make(chan *capture, keptBuffers)}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	return p, nil
}

// SetCaptureLimit keeps at most n bytes of each body for the Observer
// (from 1 to MaxCapture; other values are ignored): an Observer that reads
// no more of a body than its first bytes saves the copy of the rest, and
// the memory, on large events and answers. Call it before Serve.
func (p *Proxy) SetCaptureLimit(n int) {
	if n > 0 && n <= MaxCapture {
		p.limit = n
	}
}

// Serve serves on ln in the background until Shutdown.
func (p *Proxy) Serve(ln net.Listener) {
	p.addr = ln.Addr()
	go func() {
		defer close(p.done)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.serveErr = err
			p.log.Error("runtime API proxy stopped", "err", err)
		}
	}()
}

// Addr is the address served on (nil before Serve).
func (p *Proxy) Addr() net.Addr { return p.addr }

// Shutdown stops taking connections and waits, within ctx, for the calls
// in flight to be relayed and the Observer calls to return; then it closes
// what is left. It is idempotent
// and safe before Serve.
func (p *Proxy) Shutdown(ctx context.Context) error {
	var err error
	p.shutdownOnce.Do(func() {
		err = p.srv.Shutdown(ctx)
		if err != nil {
			_ = p.srv.Close()
		}
		if p.addr != nil {
			<-p.done
		}
		// An Observer that does not return cannot hold the shutdown
		// past ctx.
		observed := make(chan struct{})
		go func() {
			p.observers.Wait()
			close(observed)
		}()
		select {
		case <-observed:
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("wait for the proxy's observers: %w", ctx.Err())
			}
		}
		p.transport.CloseIdleConnections()
	})
	return err
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	return Stats{Calls: p.calls.Load(), UpstreamErrors: p.upstreamErrors.Load(), ObserverPanics: p.panics.Load()}
}

// hopByHop are the headers that belong to one connection, not to the
// message (RFC 9110, 7.6.1); Go's HTTP code writes its own.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Transfer-Encoding", "Upgrade", "Trailer"}

func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = append([]string(nil), vv...)
	}
	for _, c := range src.Values("Connection") {
		for _, name := range strings.Split(c, ",") {
			dst.Del(strings.TrimSpace(name))
		}
	}
	for _, h := range hopByHop {
		dst.Del(h)
	}
}

// answer classifies a path: the request ID and kind of an invocation's
// answer, or "" and 0.
func answer(path string) (string, Kind) {
	rest, ok := strings.CutPrefix(path, invocations)
	if !ok {
		return "", 0
	}
	id, what, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return "", 0
	}
	switch what {
	case "response":
		return id, Response
	case "error":
		return id, Error
	}
	return "", 0
}

// ServeHTTP relays one call.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.calls.Add(1)
	started := time.Now()
	id, kind := answer(r.URL.Path)
	isNext := r.URL.Path == pathNext && r.Method == http.MethodGet

	var capIn, capOut *capture
	handedOff := false // the captures went to an Observer call
	var tee *teeBody
	defer func() {
		if !handedOff {
			if tee != nil {
				tee.stop() // the transport may still read the body
			}
			p.putCapture(capIn)
			p.putCapture(capOut)
		}
	}()
	body := r.Body
	if kind != 0 && p.obs != nil {
		capIn = p.getCapture(r.ContentLength)
		tee = newTeeBody(r.Body, capIn)
		body = tee
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.upstream+r.URL.RequestURI(), body)
	if err != nil {
		tee = nil // never read
		handedOff = p.fail(w, r, kind, id, started, capIn, tee, fmt.Errorf("build the upstream request: %w", err))
		return
	}
	copyHeader(out.Header, r.Header)
	if _, ok := r.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // send none, as the runtime did
	}
	out.Host = r.Host
	switch {
	case r.ContentLength > 0:
		out.ContentLength = r.ContentLength
	case r.ContentLength < 0:
		out.ContentLength = -1 // chunked, as it came
	default:
		out.Body, out.GetBody, out.ContentLength = http.NoBody, nil, 0
		if tee != nil {
			tee.done() // nothing to read: the transport never closes it
		}
	}
	// The server fills r.Trailer when the body ends; the transport writes
	// out.Trailer after the body: sharing the map relays the trailers.
	out.Trailer = r.Trailer

	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		handedOff = p.fail(w, r, kind, id, started, capIn, tee, fmt.Errorf("call the runtime API: %w", err))
		return
	}
	defer resp.Body.Close()

	copyHeader(w.Header(), resp.Header)
	for k := range resp.Trailer {
		w.Header().Add("Trailer", k)
	}
	if isNext && p.obs != nil && resp.StatusCode == http.StatusOK {
		capOut = p.getCapture(resp.ContentLength)
	}
	var invoked chan struct{} // closed once the Observer's Invoked returned
	eventID := resp.Header.Get(HeaderRequestID)
	if capOut != nil && eventID != "" {
		// Before the runtime has the event, and so before its answer.
		invoked = p.startInvoking(eventID)
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	if err := relay(w, rc, resp.Body, capOut, resp.ContentLength < 0); err != nil {
		p.log.Debug("runtime API proxy: relaying an answer to the runtime failed", "path", r.URL.Path, "err", err)
	}
	for k, vv := range resp.Trailer {
		w.Header()[k] = vv
	}
	_ = rc.Flush()

	if p.obs == nil {
		return
	}
	switch {
	case capOut != nil:
		ev := Event{
			RequestID: resp.Header.Get(HeaderRequestID),
			TraceID:   resp.Header.Get(HeaderTraceID),
			Received:  started,
			Body:      capOut.buf, Truncated: capOut.truncated,
		}
		if ms, ok := parseMillis(resp.Header.Get(HeaderDeadline)); ok {
			ev.Deadline = time.UnixMilli(ms)
		}
		handedOff = true
		p.observe(func() {
			defer p.endInvoking(eventID, invoked)
			p.obs.Invoked(ev)
		}, capOut)
	case kind != 0:
		end := End{
			RequestID: id, Kind: kind, Status: resp.StatusCode,
			Streamed:  r.ContentLength < 0,
			ErrorType: r.Header.Get(HeaderErrorType),
			Started:   started, Ended: time.Now(),
		}
		handedOff = true
		p.observe(func() {
			p.waitInvoked(id)
			c, done := tee.release()
			end.Size, end.Body, end.Truncated = c.n, c.buf, c.truncated
			// The trailers come with the body's end; still being read
			// (the body is not done), they are left alone.
			if done && r.Trailer.Get(HeaderErrorType) != "" {
				end.ErrorType = r.Trailer.Get(HeaderErrorType)
				end.ErrorBody = r.Trailer.Get(HeaderErrorBody)
			}
			p.obs.Ended(end)
		}, capIn)
	}
}

// fail answers a call the platform could not be reached for with 502 (the
// runtime then fails as it would have against the unreachable API).
// It reports whether c was handed to an Observer call.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, kind Kind, id string, started time.Time, c *capture, tee *teeBody, err error) bool {
	if r.Context().Err() != nil {
		// The runtime went away (it was stopped while waiting on /next):
		// nobody is left to answer.
		p.log.Debug("runtime API proxy: the runtime left during a call", "path", r.URL.Path, "err", err)
		return false
	}
	p.upstreamErrors.Add(1)
	p.log.Warn("runtime API proxy: the runtime API could not be reached", "err", err)
	http.Error(w, "runtime API unreachable", http.StatusBadGateway)
	if kind != 0 && p.obs != nil {
		end := End{RequestID: id, Kind: kind, Status: http.StatusBadGateway, Started: started, Ended: time.Now(), Failed: true}
		p.observe(func() {
			p.waitInvoked(id)
			if tee != nil {
				tee.release()
			}
			end.Size, end.Body, end.Truncated = c.n, c.buf, c.truncated
			p.obs.Ended(end)
		}, c)
		return true
	}
	return false
}

// invokedWait bounds how long the end of an invocation waits for the
// Observer's Invoked call of its event to return.
const invokedWait = 2 * time.Second

// startInvoking notes that the event of request id is about to be relayed
// and its Invoked call made; the returned channel is closed by
// endInvoking once it returned.
func (p *Proxy) startInvoking(id string) chan struct{} {
	ch := make(chan struct{})
	p.invokingMu.Lock()
	p.invoking[id] = ch
	p.invokingMu.Unlock()
	return ch
}

func (p *Proxy) endInvoking(id string, ch chan struct{}) {
	if ch == nil {
		return
	}
	p.invokingMu.Lock()
	if p.invoking[id] == ch {
		delete(p.invoking, id)
	}
	p.invokingMu.Unlock()
	close(ch)
}

// WaitInvoked waits, within invokedWait, for the Observer's Invoked call
// of request id's event to return, if one is under way (the event was
// relayed): what the function sends about an invocation (its spans) may
// reach the extension before the Observer read the event.
func (p *Proxy) WaitInvoked(id string) { p.waitInvoked(id) }

// waitInvoked waits, within invokedWait, for the Invoked call of request
// id's event to return, if one is under way.
func (p *Proxy) waitInvoked(id string) {
	p.invokingMu.Lock()
	ch := p.invoking[id]
	p.invokingMu.Unlock()
	if ch == nil {
		return
	}
	timer := time.NewTimer(invokedWait)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
	}
}

// observe calls the Observer in a goroutine of its own and then returns c
// to the kept ones; a panic is counted and logged, never passed on.
func (p *Proxy) observe(f func(), c *capture) {
	p.observers.Add(1)
	go func() {
		defer p.observers.Done()
		defer p.putCapture(c)
		defer func() {
			if v := recover(); v != nil {
				n := p.panics.Add(1)
				p.log.Error("runtime API proxy: observing a call failed; the call itself was relayed", "panic", fmt.Sprint(v), "total", n)
			}
		}()
		f()
	}()
}

// keptBuffers is how many captures, and how many relay buffers, are kept
// between calls: enough for an invocation (its event's and its answer's,
// the event's still with the Observer when the answer comes) and a few
// concurrent ones. They are kept in lists of their own, not in a
// sync.Pool: the pool is emptied by garbage collections, which in the
// agent come every few invocations, and a capture of a body of unknown
// length regrown from nothing is more than a MiB of garbage, bringing the
// next collection closer (the agent's resident memory grew by 7–11 MiB
// while 6 MB bodies passed). What is kept is bounded: keptBuffers captures
// of at most keepCapture and keptBuffers relay buffers of 256 KiB.
const keptBuffers = 4

// relayBufs are the buffers bodies are relayed through, in both
// directions: few system calls per body, and no allocation per call.
var relayBufs = make(chan *[256 << 10]byte, keptBuffers)

func getRelayBuf() *[256 << 10]byte {
	select {
	case b := <-relayBufs:
		return b
	default:
		return new([256 << 10]byte)
	}
}

func putRelayBuf(b *[256 << 10]byte) {
	select {
	case relayBufs <- b:
	default: // enough are kept: left to the garbage collector
	}
}

// relay copies body to w as it arrives, flushing after every piece when
// streaming; the first bytes are kept in c (when not nil), read straight
// into it (see forward).
func relay(w io.Writer, rc *http.ResponseController, body io.Reader, c *capture, streaming bool) error {
	var k keeper
	if c != nil {
		k = c
	}
	var flush func()
	if streaming {
		flush = func() { _ = rc.Flush() }
	}
	_, err := forward(w, body, k, flush)
	return err
}

// keeper is where forward keeps the first bytes of a body for the
// Observer.
type keeper interface {
	// room is where the next bytes are read into, or nil when nothing
	// more is kept. Each room given is answered by a call of kept.
	room() []byte
	// kept says the first n bytes read into the last room were passed
	// on (0 when the write failed): they are the body's.
	kept(n int)
	// write copies p, read elsewhere and passed on, into the keeper.
	write(p []byte)
}

// forward copies src to dst as it arrives and returns the bytes written;
// it reads until src ends. While k (when not nil) has room, the body is
// read straight into it, so that keeping the first bytes for the Observer
// costs no copy of their own; otherwise it goes through a reused buffer
// and each piece is copied into k once dst took it. flush (when not nil)
// is called after each piece was written.
func forward(dst io.Writer, src io.Reader, k keeper, flush func()) (int64, error) {
	var b *[256 << 10]byte
	defer func() {
		if b != nil {
			putRelayBuf(b)
		}
	}()
	var total int64
	for {
		var p []byte
		if k != nil {
			p = k.room()
		}
		inRoom := len(p) > 0
		if !inRoom {
			if b == nil {
				b = getRelayBuf()
			}
			p = b[:]
		}
		n, err := src.Read(p)
		var werr error
		if n > 0 {
			var wn int
			wn, werr = dst.Write(p[:n])
			total += int64(wn)
			if werr != nil {
				n = 0 // the Observer sees only what was passed on
			} else if flush != nil {
				flush()
			}
		}
		switch {
		case inRoom:
			k.kept(n)
		case k != nil && n > 0:
			k.write(p[:n])
		}
		if werr != nil {
			return total, werr
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// capture keeps the first limit bytes of a body and counts them all.
type capture struct {
	buf       []byte
	n         int64
	limit     int
	truncated bool
}

func (c *capture) write(p []byte) {
	c.n += int64(len(p))
	room := c.limit - len(c.buf)
	if len(p) > room {
		p, c.truncated = p[:room], true
	}
	c.buf = append(c.buf, p...)
}

// minRoom is the room a capture of a body of unknown length starts with.
const minRoom = 64 << 10

// room is the capture's free room up to its limit. A full buffer below
// the limit (a body of unknown length) is first grown: to minRoom, then
// at once to the limit when a buffer that large is kept between calls
// (grown step by step, the capture of a large body would leave a MiB of
// garbage), else doubled.
func (c *capture) room() []byte {
	if len(c.buf) >= c.limit {
		return nil
	}
	if len(c.buf) == cap(c.buf) {
		size := max(2*cap(c.buf), minRoom)
		if cap(c.buf) >= minRoom && c.limit <= keepCapture {
			size = c.limit
		}
		nb := make([]byte, len(c.buf), min(c.limit, size))
		copy(nb, c.buf)
		c.buf = nb
	}
	return c.buf[len(c.buf):min(cap(c.buf), c.limit)]
}

func (c *capture) kept(n int) {
	c.buf = c.buf[:len(c.buf)+n]
	c.n += int64(n)
}

// getCapture takes a kept capture, or a new one, sized for a body of
// length n when it is known, so a buffered body is read into it without
// growing it; for one of unknown length (n < 0) it grows as the body
// comes (see room).
func (p *Proxy) getCapture(n int64) *capture {
	var c *capture
	select {
	case c = <-p.free:
	default:
		c = &capture{}
	}
	c.limit = p.limit
	if n > 0 && int64(cap(c.buf)) < min(n, int64(p.limit)) {
		c.buf = make([]byte, 0, min(n, int64(p.limit)))
	}
	return c
}

// keepCapture is the largest capture buffer kept between calls: the
// agent's limit (1 MiB and a byte) fits, so a large body costs no
// allocation once one was seen; the 6 MiB ones of a larger limit are not
// kept.
const keepCapture = 2 << 20

func (p *Proxy) putCapture(c *capture) {
	if c == nil {
		return
	}
	if cap(c.buf) > keepCapture {
		c.buf = nil // do not keep a big buffer between invocations
	}
	c.buf, c.n, c.truncated = c.buf[:0], 0, false
	select {
	case p.free <- c:
	default: // enough are kept: left to the garbage collector
	}
}

// teeBody keeps what is read from r in c. The transport may still
// read the body after the platform has answered (it answered before
// reading all of it); the capture is handed on only once the transport
// closed the body, or taken from it (release), so the copy never writes
// into a capture the Observer reads or another call was given.
type teeBody struct {
	r  io.ReadCloser
	mu sync.Mutex
	c  *capture
	// reading says a read into c's room is under way (see stop).
	reading bool
	closed  chan struct{}
	once    sync.Once
}

func newTeeBody(r io.ReadCloser, c *capture) *teeBody {
	return &teeBody{r: r, c: c, closed: make(chan struct{})}
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.capture(p[:n])
	return n, err
}

// capture copies p into the capture unless it was released.
func (t *teeBody) capture(p []byte) {
	if len(p) == 0 {
		return
	}
	t.mu.Lock()
	if t.c != nil {
		t.c.write(p)
	}
	t.mu.Unlock()
}

// WriteTo forwards the body to w as it arrives, its first bytes read
// into the capture: the transport copies a streamed (chunked) body this
// way.
func (t *teeBody) WriteTo(w io.Writer) (int64, error) {
	return forward(w, t.r, t, nil)
}

// room is the capture's room, unless the capture was released.
func (t *teeBody) room() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.c == nil {
		return nil
	}
	r := t.c.room()
	t.reading = len(r) > 0
	return r
}

func (t *teeBody) kept(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reading = false
	if t.c != nil {
		t.c.kept(n)
	}
}

func (t *teeBody) write(p []byte) { t.capture(p) }

func (t *teeBody) Close() error {
	t.done()
	return t.r.Close()
}

// done marks the body as read to its end.
func (t *teeBody) done() { t.once.Do(func() { close(t.closed) }) }

// teeWait bounds how long an Observer call waits for the transport to be
// done with a body after the platform answered (a variable for tests).
var teeWait = 5 * time.Second

// release waits, within teeWait, for the transport to close the body,
// then stops the copy and returns the capture; done says the body was
// closed in time (its trailers, if any, are then in the request).
func (t *teeBody) release() (c *capture, done bool) {
	timer := time.NewTimer(teeWait)
	select {
	case <-t.closed:
		done = true
	case <-timer.C:
	}
	timer.Stop()
	return t.stop(), done
}

// stop ends the copy into the capture, at once, and returns the capture.
// While a read into the capture's room is under way, what it holds is
// returned in a copy: the capture itself is left to that read, never
// kept for another call, so the read cannot write into a buffer another
// call was given.
func (t *teeBody) stop() *capture {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.c
	t.c = nil
	if c != nil && t.reading {
		c = &capture{buf: append([]byte(nil), c.buf...), n: c.n, limit: c.limit, truncated: c.truncated}
	}
	return c
}

// upstreamConn is a connection to the real Runtime API. The transport
// writes a request body of known length through its ReadFrom (by way of
// its buffered writer, once the headers are out), which forwards it
// through the capture of a teed body while it has room, then through a
// reused 256 KiB buffer instead of the 32 KiB one of a plain copy.
type upstreamConn struct {
	net.Conn
}

var upstreamDialer = &net.Dialer{Timeout: 2 * time.Second, KeepAlive: -1}

func dialUpstream(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := upstreamDialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &upstreamConn{Conn: c}, nil
}

// ReadFrom copies r to the connection until r ends.
func (u *upstreamConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if t, ok := lr.R.(*teeBody); ok {
			// The transport's limit, applied to the body itself.
			n, err := forward(u.Conn, &io.LimitedReader{R: t.r, N: lr.N}, t, nil)
			lr.N -= n
			return n, err
		}
	}
	return forward(u.Conn, r, nil, nil)
}

func parseMillis(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int64(s[i]-'0')
	}
	return v, true
}
