package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// maxBodyBytes bounds one push. Lambda sends at most the subscription's
// maxBytes (256 KiB) per push; the margin covers larger buffering settings.
const maxBodyBytes = 8 << 20

// Handler receives the events of one push, in order. It is called from one
// goroutine, push after push in the order they arrived, once the push has
// been answered: Lambda waits for that answer (at the start of an
// invocation, for what it held while the environment was frozen), so the
// work of the events is not on its path.
type Handler func(events []Event)

// queuedPushes bounds the pushes answered and not yet handled; a push that
// finds the queue full waits for room before it is answered, as Lambda
// waits for the answer.
const queuedPushes = 16

// Stats are the listener's counters.
type Stats struct {
	Pushes    uint64
	Events    uint64
	Unknown   uint64
	Malformed uint64
	// Unhandled and UnhandledBytes count the pushes answered whose
	// handling had not ended when Shutdown's context did: their events
	// are lost (a push in the handler then may be partly handled).
	Unhandled      uint64
	UnhandledBytes uint64
}

// Listener is the HTTP endpoint the Telemetry API pushes to.
type Listener struct {
	handler Handler
	log     *slog.Logger

	pushes, events, unknown, malformed atomic.Uint64
	unhandled, unhandledBytes          atomic.Uint64

	// pending and pendingBytes are the pushes answered whose handling
	// has not ended; abandoned says Shutdown gave up waiting for them,
	// counted them as unhandled, and that they are no longer handled.
	pending, pendingBytes atomic.Int64
	abandoned             atomic.Bool

	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}
	shutdown bool

	// queue carries the answered pushes to the goroutine that parses and
	// handles them (work, done once it has ended). qmu guards sending on
	// it against its closing: handlers hold it to read, Shutdown to close.
	qmu   sync.RWMutex
	queue chan queued
	// stop is closed when Shutdown begins to close the queue: a push
	// waiting for room in it gives up (and is counted) rather than hold
	// qmu while the handler may never make room.
	stop     chan struct{}
	stopOnce sync.Once
	served   bool
	closed   bool
	work     chan struct{}
}

// queued is one answered push, or (data nil, handled set) a mark closed
// once every push before it is handled.
type queued struct {
	data    []byte
	handled chan struct{}
}

// NewListener returns a listener that hands events to h.
func NewListener(h Handler, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.Default()
	}
	return &Listener{handler: h, log: log, queue: make(chan queued, queuedPushes), work: make(chan struct{}), stop: make(chan struct{})}
}

// handleQueued parses and handles the answered pushes in order until the
// queue is closed.
func (l *Listener) handleQueued() {
	defer close(l.work)
	for q := range l.queue {
		if q.handled != nil {
			close(q.handled)
			continue
		}
		l.handle(q.data)
	}
}

// handle parses one push, which was checked to be a JSON array, counts
// its events and hands them to the handler; once Shutdown gave up on the
// pushes answered (abandoned), it only lets go of them.
func (l *Listener) handle(data []byte) {
	defer func() {
		l.pending.Add(-1)
		l.pendingBytes.Add(-int64(len(data)))
	}()
	if l.abandoned.Load() {
		return
	}
	events, err := Parse(data)
	if err != nil {
		// Not expected: the push was checked before it was answered.
		l.malformed.Add(1)
		l.log.Warn("telemetry push answered but unreadable; its events are lost", "err", err, "bytes", len(data))
		return
	}
	l.events.Add(uint64(len(events)))
	for i := range events {
		if events[i].Kind == KindUnknown {
			l.unknown.Add(1)
		}
	}
	if l.handler != nil && len(events) > 0 {
		l.handler(events)
	}
}

// enqueue hands a push about to be answered to handleQueued (waiting for
// room), or handles it here when the listener is shut down. It reports
// false, having counted the push as unhandled, once Shutdown gave up on
// the pushes answered (abandon), or when Shutdown began while the push
// waited for room.
func (l *Listener) enqueue(data []byte) bool {
	l.qmu.RLock()
	if l.abandoned.Load() {
		l.qmu.RUnlock()
		l.unhandled.Add(1)
		l.unhandledBytes.Add(uint64(len(data)))
		return false
	}
	l.pending.Add(1)
	l.pendingBytes.Add(int64(len(data)))
	if l.closed {
		l.qmu.RUnlock()
		l.handle(data)
		return true
	}
	select {
	case l.queue <- queued{data: data}:
		l.qmu.RUnlock()
		return true
	default:
	}
	select {
	case l.queue <- queued{data: data}:
		l.qmu.RUnlock()
		return true
	case <-l.stop:
		// Shutting down with the queue full.
		l.pending.Add(-1)
		l.pendingBytes.Add(-int64(len(data)))
		l.qmu.RUnlock()
		l.unhandled.Add(1)
		l.unhandledBytes.Add(uint64(len(data)))
		return false
	}
}

// Handled waits until every push answered so far has been handled, or ctx
// ends.
func (l *Listener) Handled(ctx context.Context) error {
	mark := make(chan struct{})
	l.qmu.RLock()
	if l.closed {
		l.qmu.RUnlock()
		select {
		case <-l.work:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("wait for telemetry pushes: %w", ctx.Err())
		}
	}
	select {
	case l.queue <- queued{handled: mark}:
	case <-ctx.Done():
		l.qmu.RUnlock()
		return fmt.Errorf("wait for telemetry pushes: %w", ctx.Err())
	}
	l.qmu.RUnlock()
	select {
	case <-mark:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for telemetry pushes: %w", ctx.Err())
	}
}

// closeQueue ends handleQueued once it has handled every queued push and
// waits for that, within ctx; when ctx ends first, the pushes not yet
// handled are counted as unhandled (abandon). Idempotent.
func (l *Listener) closeQueue(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	l.qmu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
		if !l.served {
			close(l.work)
		}
	}
	l.qmu.Unlock()
	select {
	case <-l.work:
		return nil
	case <-ctx.Done():
		select {
		case <-l.work:
			return nil
		default:
		}
		pushes, bytes := l.abandon()
		return fmt.Errorf("handle the telemetry pushes answered: %d pushes (%d bytes) not handled: %w", pushes, bytes, ctx.Err())
	}
}

// abandon stops handling the pushes answered and counts those whose
// handling has not ended as unhandled, once; it returns how many there
// were.
func (l *Listener) abandon() (pushes, bytes uint64) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if !l.abandoned.CompareAndSwap(false, true) {
		return 0, 0
	}
	pushes, bytes = uint64(max(l.pending.Load(), 0)), uint64(max(l.pendingBytes.Load(), 0))
	l.unhandled.Add(pushes)
	l.unhandledBytes.Add(bytes)
	return pushes, bytes
}

// Start listens on addr (host:port; port 0 picks a free one) and serves in
// the background.
func (l *Listener) Start(_ context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("start telemetry listener: %w", err)
	}
	if err := l.Serve(ln); err != nil {
		_ = ln.Close()
		return err
	}
	return nil
}

// Serve serves in the background on ln, a socket bound elsewhere (the
// launcher's); Shutdown closes it.
func (l *Listener) Serve(ln net.Listener) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srv != nil || l.shutdown {
		return errors.New("start telemetry listener: already started")
	}
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	l.ln, l.srv, l.done = ln, srv, done
	l.qmu.Lock()
	l.served = true
	l.qmu.Unlock()
	go l.handleQueued()
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.log.Error("telemetry listener stopped", "err", err)
		}
	}()
	return nil
}

// Port is the port the listener is bound to (0 before Start).
func (l *Listener) Port() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return 0
	}
	_, p, _ := net.SplitHostPort(l.ln.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// Shutdown stops the listener once the pushes in flight are answered and
// every answered push is handled. When ctx ends first, the pushes not yet
// handled are counted (Stats.Unhandled) and left unhandled: whatever
// their events would have produced could no longer be shipped. It is
// idempotent and safe before Start.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	l.shutdown = true
	srv, done := l.srv, l.done
	l.srv = nil
	l.mu.Unlock()
	var err error
	if srv != nil {
		if err = srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}
	// A push still in its handler after Close is handled there.
	if qerr := l.closeQueue(ctx); qerr != nil && err == nil {
		err = qerr
	}
	if err != nil {
		return fmt.Errorf("shut down telemetry listener: %w", err)
	}
	return nil
}

// Stats returns the counters.
func (l *Listener) Stats() Stats {
	return Stats{Pushes: l.pushes.Load(), Events: l.events.Load(), Unknown: l.unknown.Load(), Malformed: l.malformed.Load(),
		Unhandled: l.unhandled.Load(), UnhandledBytes: l.unhandledBytes.Load()}
}

// ServeHTTP handles one push.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		l.malformed.Add(1)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	// Only what Parse refuses is refused here; the events are read once
	// the push is answered.
	if err := CheckBatch(data); err != nil {
		l.malformed.Add(1)
		l.log.Debug("malformed telemetry push", "err", err, "bytes", len(data))
		http.Error(w, "malformed telemetry batch", http.StatusBadRequest)
		return
	}
	l.pushes.Add(1)
	if !l.enqueue(data) {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}
