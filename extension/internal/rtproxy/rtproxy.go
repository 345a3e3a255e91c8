// Package rtproxy serves the Lambda Runtime API on a loopback port and
// forwards every call to the real one, so that the extension sees each
// event the runtime takes and each answer it gives without any code in the
// function. The layer's exec wrapper points the runtime at it
// (AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>) only while it is up.
//
// Pass-through is exact: the proxy reads and writes the Runtime API's
// HTTP/1.1 itself, without net/http. Each message's head (request line or
// status line, and headers) is passed on byte for byte as it was read,
// once read whole (at most maxHead, within headTimeout for the runtime's);
// its body follows as it arrives, never stored first: one of known length
// (a 6 MB event or answer) in the pieces it arrives in, a chunked one
// (response streaming, Lambda-Runtime-Function-Response-Mode: streaming,
// up to 20 MB) chunk by chunk, framing and trailers (the error trailers
// of a streamed answer) included, each piece sent on as soon as nothing
// more is waiting to be read. Interim 1xx answers are passed on, a
// refusal the platform sends before it read a body reaches the runtime at
// once, connections are kept open on both sides as HTTP/1.1 allows, and a
// call whose platform cannot be reached is answered 502. Each connection
// of the runtime is served by one goroutine, its calls one after the
// other; concurrent calls (Lambda Managed Instances) come on concurrent
// connections, each relayed on a connection of its own to the platform.
// The first bytes of events and answers, up to the capture limit
// (MaxCapture, or less: see SetCaptureLimit), are kept for the Observer in
// buffers reused from call to call (see keptBuffers): read straight into
// them and passed on from there, so keeping them costs no copy of its
// own; the rest of a body crosses a reused 256 KiB buffer, or, on Linux,
// when 64 KiB or more of it are left beyond what the Observer keeps (the
// rest of a 6 MB body, which only has its first bytes sniffed), a pipe,
// with splice(2) from one
// socket to the other: the kernel passes on the pages the bytes came in,
// and the proxy copies neither in nor out; what the Observer keeps of
// those bytes is copied into a second pipe (tee(2)) and read from it once
// they were passed on, while the other side reads them. The Observer
// is called only once the call has been relayed, by a goroutine of the
// proxy's that does only that: what the extension derives from a call
// never delays it, and a failure of the Observer (even a panic) never
// changes it. On Linux that goroutine is woken through the network
// poller when the process has more than one processor, so that the
// thread that relayed the call runs it once it waits for the next, rather
// than the scheduler waking a second thread for it (see waker); and the
// relay reads and writes its sockets with raw system calls, which do not
// wake the runtime's monitor thread on each hop (see rawIO).
//
// Only the Observer sees bodies; they never leave the process.
package rtproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

	// MaxErrorBodyKept is the most of the error-body trailer's value kept
	// for the Observer (End.ErrorBody): what of its line fits in
	// maxTrailerKept. The whole is relayed.
	MaxErrorBodyKept = maxTrailerKept - len(HeaderErrorBody) - 1

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
	// streamed response that failed (base64): its first bytes, at most
	// MaxErrorBodyKept; ErrorBodySize is its whole length, as relayed.
	ErrorBody     string
	ErrorBodySize int64
	// Body is the answer (up to the capture limit), valid only during the
	// Observer's call; Truncated says it was longer.
	Body      []byte
	Truncated bool
	// Started is when the runtime began sending the answer; Ended when the
	// platform's answer was relayed back to it.
	Started, Ended time.Time
	// Failed says the platform could not be reached (the runtime was
	// answered 502, Status), or closed the connection without answering
	// (the runtime's was closed the same way, Status 0).
	Failed bool
}

// Observer is told what passes through the proxy. Its methods are called
// once the call was relayed, one call at a time, in the order the calls
// were relayed, from one goroutine of the proxy's that only does that (so
// the runtime's next call never waits for them): Ended is called only
// once Invoked has returned for the invocation's event, however quick
// the runtime's answer. An Observer that falls behind by more than
// queuedObservations calls loses the next ones (counted in Stats).
type Observer interface {
	Invoked(Event)
	Ended(End)
}

// Stats are the proxy's counters.
type Stats struct {
	// Calls is the number of calls relayed; UpstreamErrors the calls the
	// real Runtime API could not be reached for (answered 502) or closed
	// the connection of without answering (the runtime's closed so too).
	Calls, UpstreamErrors uint64
	// BadRequests counts requests whose head could not be read (answered
	// 400 or 431, or not at all when it did not come in time).
	BadRequests uint64
	// ObserverPanics counts Observer calls that panicked (the call itself
	// was relayed); ObserverDropped the calls not made because the
	// Observer was too far behind.
	ObserverPanics, ObserverDropped uint64
}

// Proxy is a Runtime API proxy.
type Proxy struct {
	upstream string
	obs      Observer
	log      *slog.Logger
	ln       net.Listener
	addr     net.Addr
	// free are the captures kept between calls (see keptBuffers).
	free chan *capture
	// limit is the most of one body kept for the Observer; sniff, when
	// not 0, the most of one whose length is known to be over limit.
	limit, sniff int

	calls, upstreamErrors, badRequests, panics, dropped atomic.Uint64

	// idle are the connections to the platform kept between calls.
	idleMu sync.Mutex
	idle   []*upstreamConn

	// conns are the runtime's connections being served.
	connsMu sync.Mutex
	conns   map[*runtimeConn]struct{}
	connsWG sync.WaitGroup
	closing atomic.Bool

	// queue holds the Observer calls to make, in order; wake wakes the
	// goroutine making them; observed is closed once it has returned.
	queue    chan observation
	wake     *waker
	observed chan struct{}
	// invoking holds, by request ID, the events relayed whose Invoked
	// call has not returned yet.
	invokingMu sync.Mutex
	invoking   map[string]*invocation
	// freeInv are invocation entries done with, for the next events.
	freeInv []*invocation

	shutdownOnce sync.Once
	done         chan struct{}
}

// queuedObservations bounds the Observer calls waiting to be made: each
// holds a capture (up to the capture limit).
const queuedObservations = 64

// observation is one Observer call to make (Ended when isEnd, else
// Invoked), and the capture it reads. It is queued by value: an
// observation costs no allocation of its own.
type observation struct {
	ev    Event
	end   End
	isEnd bool
	c     *capture
	// inv is the event's invocation entry, when one was made.
	inv *invocation
}

// invocation is an event relayed whose Invoked call has not returned.
// Entries are reused once done (see doneInvokingLocked), so that relaying
// an event allocates none.
type invocation struct {
	// queued says its Invoked call was queued; ends are the ends of the
	// invocation that came before that, queued right after it.
	queued bool
	ends   []observation
	// done is closed once Invoked returned; it is made by the first
	// WaitInvoked that waits for it (most invocations have none).
	done chan struct{}
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
	return &Proxy{upstream: upstream, obs: obs, log: log, limit: MaxCapture,
		free: make(chan *capture, keptBuffers), conns: map[*runtimeConn]struct{}{},
		queue: make(chan observation, queuedObservations), observed: make(chan struct{}),
		invoking: map[string]*invocation{}, done: make(chan struct{})}, nil
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

// SetSniffLimit keeps at most n bytes (from 1 to the capture limit; other
// values are ignored) of a body over the capture limit: for an Observer
// that reads only the first bytes of such a body (it is marked Truncated,
// as any body over the limit), which saves keeping the capture limit's
// worth of it. A body whose Content-Length says it is over the limit has
// only those bytes read into its capture; a chunked one as soon as a
// chunk's size says it goes over, else once it went over (only its
// first bytes are then kept). Call it after
// SetCaptureLimit, before Serve.
func (p *Proxy) SetSniffLimit(n int) {
	if n > 0 && n <= p.limit {
		p.sniff = n
	}
}

// Serve serves on ln in the background until Shutdown.
func (p *Proxy) Serve(ln net.Listener) {
	p.ln, p.addr = ln, ln.Addr()
	p.wake = newWaker(p.queue)
	go p.observeLoop()
	go func() {
		defer close(p.done)
		p.accept(ln)
	}()
}

// accept serves each connection of ln on a goroutine of its own.
func (p *Proxy) accept(ln net.Listener) {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if p.closing.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				p.log.Warn("runtime API proxy: accepting a connection failed; retrying", "err", err, "in", delay)
				time.Sleep(delay)
				continue
			}
			p.log.Error("runtime API proxy stopped", "err", err)
			return
		}
		delay = 0
		p.connsWG.Add(1)
		go func() {
			defer p.connsWG.Done()
			p.serveConn(nc)
		}()
	}
}

// track adds c to the connections served (or removes it); false says the
// proxy is shutting down.
func (p *Proxy) track(c *runtimeConn, add bool) bool {
	p.connsMu.Lock()
	defer p.connsMu.Unlock()
	if !add {
		delete(p.conns, c)
		return true
	}
	if p.closing.Load() {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// closeConns closes the runtime's connections that are idle (all of
// them, when force) and says how many are left.
func (p *Proxy) closeConns(force bool) int {
	p.connsMu.Lock()
	defer p.connsMu.Unlock()
	for c := range p.conns {
		c.closeIf(force)
	}
	return len(p.conns)
}

// Addr is the address served on (nil before Serve).
func (p *Proxy) Addr() net.Addr { return p.addr }

// Shutdown stops taking connections and waits, within ctx, for the calls
// in flight to be relayed and the Observer calls to return; then it closes
// what is left. It is idempotent and safe before Serve.
func (p *Proxy) Shutdown(ctx context.Context) error {
	var err error
	p.shutdownOnce.Do(func() {
		p.closing.Store(true)
		if p.ln == nil {
			return
		}
		_ = p.ln.Close()
		<-p.done
		// Idle connections are closed at once; the others once their call
		// was relayed (see setActive), or at ctx's end.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for p.closeConns(false) > 0 {
			select {
			case <-ctx.Done():
				p.closeConns(true)
				err = fmt.Errorf("wait for the proxy's calls: %w", ctx.Err())
			case <-tick.C:
				continue
			}
			break
		}
		p.connsWG.Wait()
		// No call is left to queue an observation.
		p.wake.closeQueue()
		select {
		case <-p.observed:
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("wait for the proxy's observers: %w", ctx.Err())
			}
		}
		p.closeIdleUpstream()
	})
	return err
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	return Stats{Calls: p.calls.Load(), UpstreamErrors: p.upstreamErrors.Load(), BadRequests: p.badRequests.Load(),
		ObserverPanics: p.panics.Load(), ObserverDropped: p.dropped.Load()}
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

// invokedWait bounds how long WaitInvoked waits.
const invokedWait = 2 * time.Second

// startInvoking notes that the event of request id is about to be relayed
// and its Invoked call queued.
func (p *Proxy) startInvoking(id string) {
	p.invokingMu.Lock()
	var inv *invocation
	if n := len(p.freeInv); n > 0 {
		inv = p.freeInv[n-1]
		p.freeInv = p.freeInv[:n-1]
	} else {
		inv = &invocation{}
	}
	if prev := p.invoking[id]; prev != nil && !prev.queued {
		// The same event again: its answers follow this one.
		inv.ends, prev.ends = append(inv.ends, prev.ends...), nil
	}
	p.invoking[id] = inv
	p.invokingMu.Unlock()
}

// enqueueInvoked queues the Invoked call of ev, then the ends of its
// invocation that came before.
func (p *Proxy) enqueueInvoked(ev Event, c *capture) {
	p.invokingMu.Lock()
	defer p.invokingMu.Unlock()
	inv := p.invoking[ev.RequestID]
	if inv != nil && inv.queued {
		inv = nil // another relay of the same event queued its own
	}
	queued := p.enqueue(observation{ev: ev, c: c, inv: inv})
	if inv == nil {
		return
	}
	inv.queued = true
	for _, o := range inv.ends {
		p.enqueue(o)
	}
	clear(inv.ends)
	inv.ends = inv.ends[:0]
	if !queued {
		p.doneInvokingLocked(ev.RequestID, inv)
	}
}

// enqueueEnd queues the Ended call of end: after the Invoked call of its
// event when that event is being relayed.
func (p *Proxy) enqueueEnd(end End, c *capture) {
	o := observation{end: end, isEnd: true, c: c}
	p.invokingMu.Lock()
	defer p.invokingMu.Unlock()
	if inv := p.invoking[end.RequestID]; inv != nil && !inv.queued {
		inv.ends = append(inv.ends, o)
		return
	}
	p.enqueue(o)
}

// enqueue queues o, or drops it (counted and logged) when the Observer is
// too far behind. Called with invokingMu held, so that calls are queued in
// the order decided under it.
func (p *Proxy) enqueue(o observation) bool {
	select {
	case p.queue <- o:
		p.wake.signal()
		return true
	default:
	}
	n := p.dropped.Add(1)
	p.log.Warn("runtime API proxy: the observer is behind; a call is not observed (it was relayed)", "total", n)
	p.putCapture(o.c)
	return false
}

// maxFreeInv bounds the invocation entries kept for reuse.
const maxFreeInv = 64

// doneInvokingLocked ends inv, whose Invoked call returned (or was
// dropped): a WaitInvoked waiting for it returns, and the entry is kept
// for reuse (nothing refers to it any more: it left the map, its
// observation was made, and a waiter holds only its channel).
func (p *Proxy) doneInvokingLocked(id string, inv *invocation) {
	if p.invoking[id] == inv {
		delete(p.invoking, id)
	}
	if inv.done != nil {
		close(inv.done)
	}
	clear(inv.ends)
	*inv = invocation{ends: inv.ends[:0]}
	if len(p.freeInv) < maxFreeInv {
		p.freeInv = append(p.freeInv, inv)
	}
}

// observeLoop makes the Observer calls queued, in order, until the queue
// is closed.
func (p *Proxy) observeLoop() {
	defer close(p.observed)
	defer p.wake.release()
	for {
		o, ok := p.wake.next()
		if !ok {
			return
		}
		p.observeOne(o)
	}
}

// observeOne makes one Observer call and returns its capture to the kept
// ones; a panic is counted and logged, never passed on.
func (p *Proxy) observeOne(o observation) {
	defer p.putCapture(o.c)
	if o.inv != nil {
		defer func() {
			p.invokingMu.Lock()
			p.doneInvokingLocked(o.ev.RequestID, o.inv)
			p.invokingMu.Unlock()
		}()
	}
	defer func() {
		if v := recover(); v != nil {
			n := p.panics.Add(1)
			p.log.Error("runtime API proxy: observing a call failed; the call itself was relayed", "panic", fmt.Sprint(v), "total", n)
		}
	}()
	if o.isEnd {
		p.obs.Ended(o.end)
	} else {
		p.obs.Invoked(o.ev)
	}
}

// WaitInvoked waits, within invokedWait, for the Observer's Invoked call
// of request id's event to return, if one is under way (the event was
// relayed): what the function sends about an invocation (its spans) may
// reach the extension before the Observer read the event.
func (p *Proxy) WaitInvoked(id string) {
	p.invokingMu.Lock()
	inv := p.invoking[id]
	var done chan struct{}
	if inv != nil {
		if inv.done == nil {
			inv.done = make(chan struct{})
		}
		done = inv.done
	}
	p.invokingMu.Unlock()
	if done == nil {
		return
	}
	timer := time.NewTimer(invokedWait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	}
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
// of at most keepCapture, keptBuffers relay buffers of 256 KiB and, on
// Linux, keptBuffers pairs of pipes (see keptPipes).
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
	// expect says at least n more bytes of the body are coming (the size
	// of a chunk about to be copied).
	expect(n int64)
	// wants is how many more bytes it would keep.
	wants() int
	// skip says n more bytes were passed on and not kept: the keeper
	// keeps nothing after them.
	skip(n int64)
}

// capture keeps the first limit bytes of a body and counts them all.
// When sniff is not 0, a body found to be over limit has only its first
// sniff bytes kept, whether its length was known up front (see
// getCapture) or only as it came (chunked, see expect and write).
type capture struct {
	buf       []byte
	n         int64
	limit     int
	sniff     int
	truncated bool
}

func (c *capture) write(p []byte) {
	c.n += int64(len(p))
	if len(p) > c.limit-len(c.buf) {
		c.truncated = true
		c.toSniff()
		p = p[:c.limit-len(c.buf)]
	}
	c.buf = append(c.buf, p...)
}

func (c *capture) wants() int { return max(c.limit-len(c.buf), 0) }

func (c *capture) skip(n int64) {
	if n <= 0 {
		return
	}
	c.n += n
	c.truncated = true
	c.toSniff()
	c.limit = min(c.limit, len(c.buf))
}

// expect lowers the limit to sniff as soon as the body is known to go
// over the limit: a chunk announced larger than the room left is not
// read into the capture first.
func (c *capture) expect(n int64) {
	if c.sniff > 0 && int64(len(c.buf))+n > int64(c.limit) {
		c.toSniff()
	}
}

// toSniff keeps only the first sniff bytes (when sniff is set) of a body
// over the limit.
func (c *capture) toSniff() {
	if c.sniff == 0 || c.limit <= c.sniff {
		return
	}
	c.limit = c.sniff
	if len(c.buf) > c.sniff {
		c.buf = c.buf[:c.sniff]
	}
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
	c.limit, c.sniff = p.limit, p.sniff
	if n > int64(p.limit) && p.sniff > 0 {
		c.limit = p.sniff
	}
	if n > 0 && int64(cap(c.buf)) < min(n, int64(c.limit)) {
		c.buf = make([]byte, 0, min(n, int64(c.limit)))
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
