package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// OpenFunc opens the store the collector writes to (connect and migrate).
// NewConnecting calls it in the background until it succeeds.
type OpenFunc func(ctx context.Context) (BatchWriter, error)

// errNotConnected: the store has not been opened yet.
var errNotConnected = errors.New("not connected to ClickHouse yet")

// Connection attempts: the first at once, then with doubling pauses up to
// connectMaxBackoff; at most one log line per connectLogEvery.
const (
	connectMinBackoff = 500 * time.Millisecond
	connectMaxBackoff = 10 * time.Second
	connectLogEvery   = 10 * time.Second
	connectTimeout    = time.Minute
)

// connector is the BatchWriter of a collector started before its store
// could be opened: writes fail with errNotConnected (the pipeline puts the
// batches in the WAL) until open succeeds.
type connector struct {
	open OpenFunc
	log  *slog.Logger

	w        atomic.Pointer[BatchWriter]
	mu       sync.Mutex
	attempts int
	lastErr  error

	cancel context.CancelFunc
	done   chan struct{}
}

var (
	_ BatchWriter        = (*connector)(nil)
	_ LossWriter         = (*connector)(nil)
	_ ViewsAtRiskCounter = (*connector)(nil)
)

func (c *connector) WriteExports(ctx context.Context, reqs []*ingestv1.ExportRequest) (storage.WriteCounts, error) {
	w := c.writer()
	if w == nil {
		return storage.WriteCounts{}, fmt.Errorf("%w: %v", errNotConnected, c.status())
	}
	return w.WriteExports(ctx, reqs)
}

// WriteExportsWithColumns writes through the opened store's
// WriteExportsWithColumns, or says errNoSpanColumns, for a write with the
// spans and log records as messages, when the store has no such method.
func (c *connector) WriteExportsWithColumns(ctx context.Context, reqs []*ingestv1.ExportRequest, spans []*dbmodel.SpanColumns, logs []*dbmodel.LogColumns) (storage.WriteCounts, error) {
	w := c.writer()
	if w == nil {
		return storage.WriteCounts{}, fmt.Errorf("%w: %v", errNotConnected, c.status())
	}
	if sw, ok := w.(spanColumnsWriter); ok {
		return sw.WriteExportsWithColumns(ctx, reqs, spans, logs)
	}
	return storage.WriteCounts{}, errNoSpanColumns
}

// WriteIngestLosses records the loss rows through the opened store, or
// says errNotConnected; a store without WriteIngestLosses records none.
func (c *connector) WriteIngestLosses(ctx context.Context, losses []storage.IngestLoss) error {
	w := c.writer()
	if w == nil {
		return fmt.Errorf("%w: %v", errNotConnected, c.status())
	}
	if lw, ok := w.(LossWriter); ok {
		return lw.WriteIngestLosses(ctx, losses)
	}
	return nil
}

// ViewsAtRisk is the opened store's ViewsAtRisk, 0 before it is open or
// when it does not count them.
func (c *connector) ViewsAtRisk() uint64 {
	if v, ok := c.writer().(ViewsAtRiskCounter); ok {
		return v.ViewsAtRisk()
	}
	return 0
}

// writer is the opened store, or nil.
func (c *connector) writer() BatchWriter {
	if p := c.w.Load(); p != nil {
		return *p
	}
	return nil
}

// status says why there is no store yet.
func (c *connector) status() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.attempts == 0 {
		return "first attempt running"
	}
	return fmt.Sprintf("%d attempts, last: %v", c.attempts, c.lastErr)
}

// start tries to open the store until it succeeds or stop is called;
// connected runs once it did.
func (c *connector) start(connected func()) {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		backoff := connectMinBackoff
		var lastLog time.Time
		suppressed := 0
		for {
			actx, acancel := context.WithTimeout(ctx, connectTimeout)
			w, err := c.open(actx)
			acancel()
			if err == nil {
				c.w.Store(&w)
				c.log.Info("connected to ClickHouse; schema ready", "attempts", c.count(nil)+1)
				connected()
				return
			}
			if ctx.Err() != nil {
				return
			}
			n := c.count(err)
			if time.Since(lastLog) >= connectLogEvery {
				c.log.Warn("cannot open ClickHouse; retrying in the background", "attempt", n,
					"attempts_not_logged", suppressed, "retry_in", backoff.String(), "err", err)
				lastLog, suppressed = time.Now(), 0
			} else {
				suppressed++
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, connectMaxBackoff)
		}
	}()
}

// count records a failed attempt and returns how many there were.
func (c *connector) count(err error) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.attempts++
		c.lastErr = err
	}
	return c.attempts
}

// stop ends the attempts and closes the store if it was opened.
func (c *connector) stop() error {
	if c.cancel == nil {
		return nil
	}
	c.cancel()
	<-c.done
	if cl, ok := c.writer().(io.Closer); ok {
		if err := cl.Close(); err != nil {
			return fmt.Errorf("close store: %w", err)
		}
	}
	return nil
}
