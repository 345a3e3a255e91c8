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

// Handler receives the events of one push, in order. It is called from the
// listener's HTTP handler and must not block for long.
type Handler func(events []Event)

// Stats are the listener's counters.
type Stats struct {
	Pushes    uint64
	Events    uint64
	Unknown   uint64
	Malformed uint64
}

// Listener is the HTTP endpoint the Telemetry API pushes to.
type Listener struct {
	handler Handler
	log     *slog.Logger

	pushes, events, unknown, malformed atomic.Uint64

	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}
	shutdown bool
}

// NewListener returns a listener that hands events to h.
func NewListener(h Handler, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.Default()
	}
	return &Listener{handler: h, log: log}
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

// Shutdown stops the listener after in-flight pushes are handled. It is
// idempotent and safe before Start.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	l.shutdown = true
	srv, done := l.srv, l.done
	l.srv = nil
	l.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	if err != nil {
		return fmt.Errorf("shut down telemetry listener: %w", err)
	}
	return nil
}

// Stats returns the counters.
func (l *Listener) Stats() Stats {
	return Stats{Pushes: l.pushes.Load(), Events: l.events.Load(), Unknown: l.unknown.Load(), Malformed: l.malformed.Load()}
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
	events, err := Parse(data)
	if err != nil {
		l.malformed.Add(1)
		l.log.Debug("malformed telemetry push", "err", err, "bytes", len(data))
		http.Error(w, "malformed telemetry batch", http.StatusBadRequest)
		return
	}
	l.pushes.Add(1)
	l.events.Add(uint64(len(events)))
	for i := range events {
		if events[i].Kind == KindUnknown {
			l.unknown.Add(1)
		}
	}
	if l.handler != nil && len(events) > 0 {
		l.handler(events)
	}
	w.WriteHeader(http.StatusOK)
}
