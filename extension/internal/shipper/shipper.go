// Package shipper sends the buffered telemetry to the collector's Ingest API
// over gRPC with zstd and the API key, retrying with the same batch ID when
// the collector asks for it.
package shipper

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Config configures a Shipper.
type Config struct {
	// Endpoint is the collector's host:port; empty disables shipping (what
	// is buffered is then counted as dropped).
	Endpoint string
	TLS      bool
	APIKey   string
	// Identity is sent with every batch.
	Identity *ingestv1.FunctionIdentity
	// MaxBatchBytes bounds the encoded size of one batch.
	MaxBatchBytes int
	// RPCTimeout bounds one Export call.
	RPCTimeout time.Duration
	// Interval is how often the background loop ships while the
	// environment is awake; 0 ships only when the buffer signals Ready or
	// on Kick.
	Interval time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries.
	MinBackoff, MaxBackoff time.Duration
}

// DefaultConfig returns the defaults for everything but the endpoint.
func DefaultConfig() Config {
	return Config{
		MaxBatchBytes: 1 << 20,
		RPCTimeout:    5 * time.Second,
		Interval:      time.Second,
		MinBackoff:    50 * time.Millisecond,
		MaxBackoff:    2 * time.Second,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBatchBytes <= 0 {
		errs = append(errs, errors.New("max_batch_bytes must be positive"))
	}
	if c.RPCTimeout <= 0 {
		errs = append(errs, errors.New("rpc_timeout must be positive"))
	}
	if c.Interval < 0 {
		errs = append(errs, errors.New("interval must not be negative"))
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		errs = append(errs, errors.New("min_backoff must be positive and at most max_backoff"))
	}
	return errors.Join(errs...)
}

// ErrStopped means the collector refused the API key; nothing more is sent.
var ErrStopped = errors.New("shipping stopped: collector refused the API key")

// ErrDisabled means no endpoint is configured.
var ErrDisabled = errors.New("shipping disabled: no endpoint configured")

// pendingBatch is a batch taken from the buffer and not yet accepted.
type pendingBatch struct {
	*buffer.Batch
	id       []byte
	attempts int
}

// Shipper moves batches from a buffer to the collector.
type Shipper struct {
	cfg    Config
	buf    *buffer.Buffer
	log    *slog.Logger
	conn   *grpc.ClientConn
	client ingestv1.IngestServiceClient
	kick   chan struct{}

	sem     chan struct{} // held by the one running flush
	pending *pendingBatch

	mu      sync.Mutex
	stopped bool
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
	// pendingCounts mirrors pending for Pending, which must not wait for
	// a running flush.
	pendingCounts buffer.Counts
}

// New returns a shipper for buf. It does not connect yet: the connection is
// made on the first Export, so startup stays fast.
func New(cfg Config, buf *buffer.Buffer, log *slog.Logger) (*Shipper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure shipper: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Shipper{cfg: cfg, buf: buf, log: log, kick: make(chan struct{}, 1), sem: make(chan struct{}, 1)}
	if cfg.Endpoint == "" {
		return s, nil
	}
	creds := insecure.NewCredentials()
	if cfg.TLS {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	conn, err := grpc.NewClient(cfg.Endpoint, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("create collector client: %w", err)
	}
	s.conn = conn
	s.client = ingestv1.NewIngestServiceClient(conn)
	return s, nil
}

// Start runs the background loop that ships whenever the buffer signals
// Ready, on Kick, and every Interval.
func (s *Shipper) Start(_ context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("start shipper: already started")
	}
	s.started = true
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	go s.loop(ctx)
	return nil
}

func (s *Shipper) loop(ctx context.Context) {
	defer close(s.done)
	var tick <-chan time.Time
	if s.cfg.Interval > 0 {
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.buf.Ready():
		case <-s.kick:
		case <-tick:
		}
		// A background round gives up after a while so a dead collector
		// does not keep the loop in one endless retry; the batch is kept.
		fctx, cancel := context.WithTimeout(ctx, 4*s.cfg.RPCTimeout)
		if err := s.Flush(fctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrDisabled) {
			s.log.Debug("background flush incomplete", "err", err)
		}
		cancel()
	}
}

// Kick asks the background loop to ship now.
func (s *Shipper) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Flush ships everything buffered, batch by batch, until the buffer is
// empty or ctx is done. A batch the collector could not take yet is kept
// (with its batch ID) for the next Flush.
func (s *Shipper) Flush(ctx context.Context) error {
	if s.client == nil {
		s.discard()
		return ErrDisabled
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("flush: %w", ctx.Err())
	default:
	}
	// Wait for a running flush, but not past ctx.
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("flush: %w", ctx.Err())
	}
	defer func() { <-s.sem }()

	for {
		if s.isStopped() {
			s.discardLocked()
			return ErrStopped
		}
		if s.pending == nil {
			b := s.buf.Take(s.cfg.MaxBatchBytes)
			if b == nil {
				return nil
			}
			s.setPending(&pendingBatch{Batch: b, id: newBatchID()})
		}
		if err := s.sendPending(ctx); err != nil {
			return err
		}
	}
}

// sendPending sends s.pending until it is accepted, dropped, or ctx ends.
func (s *Shipper) sendPending(ctx context.Context) error {
	p := s.pending
	backoff := s.cfg.MinBackoff
	for {
		p.attempts++
		err := s.export(ctx, p)
		code := status.Code(err)
		switch {
		case err == nil:
			s.buf.MarkSent(p.Counts)
			s.setPending(nil)
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("export batch: %w", ctx.Err())
		case code == codes.InvalidArgument:
			s.log.Warn("collector rejected a batch as invalid; dropping it", "err", err, "dropped", p.Counts)
			s.buf.MarkDropped(p.Counts)
			s.setPending(nil)
			return nil
		case code == codes.Unauthenticated || code == codes.PermissionDenied:
			s.stop(err)
			s.buf.MarkDropped(p.Counts)
			s.setPending(nil)
			return ErrStopped
		case retryable(code):
			s.log.Debug("collector busy or unreachable; retrying", "code", code, "attempt", p.attempts)
		default:
			s.log.Warn("collector answered with an error that is not retried; dropping the batch", "err", err, "dropped", p.Counts)
			s.buf.MarkDropped(p.Counts)
			s.setPending(nil)
			return nil
		}
		wait := jitter(backoff)
		backoff = min(2*backoff, s.cfg.MaxBackoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("export batch: %w", ctx.Err())
		case <-t.C:
		}
	}
}

func (s *Shipper) export(ctx context.Context, p *pendingBatch) error {
	req := p.Request
	req.BatchId = p.id
	req.Function = s.cfg.Identity
	req.SentTimeUnixNano = uint64(time.Now().UnixNano())
	if s.cfg.APIKey != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.cfg.APIKey)
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout)
	defer cancel()
	_, err := s.client.Export(rctx, req, grpc.UseCompressor(grpczstd.Name))
	return err
}

func retryable(c codes.Code) bool {
	switch c {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted:
		return true
	}
	return false
}

func jitter(d time.Duration) time.Duration {
	// ±20 %.
	return d*8/10 + rand.N(d*4/10+1)
}

func newBatchID() []byte {
	id := make([]byte, 16)
	_, _ = crand.Read(id) // crypto/rand.Read never fails on supported platforms.
	return id
}

func (s *Shipper) isStopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

func (s *Shipper) stop(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.stopped = true
		s.log.Error("collector refused the API key; shipping stopped, telemetry will be counted as dropped", "err", err)
	}
}

// discard drops what is buffered when shipping is disabled.
func (s *Shipper) discard() {
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	s.discardLocked()
}

func (s *Shipper) discardLocked() {
	for {
		b := s.buf.Take(s.cfg.MaxBatchBytes)
		if b == nil {
			break
		}
		s.buf.MarkDropped(b.Counts)
	}
}

// setPending replaces the batch held for a retry; the caller holds sem.
func (s *Shipper) setPending(p *pendingBatch) {
	s.pending = p
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pendingCounts = buffer.Counts{}
	if p != nil {
		s.pendingCounts = p.Counts
	}
}

// Pending returns the counts of the batch taken from the buffer and not
// yet accepted by the collector.
func (s *Shipper) Pending() buffer.Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingCounts
}

// Shutdown stops the background loop and closes the connection. It does
// not flush; call Flush first. It is idempotent and safe before Start.
func (s *Shipper) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	var errs []error
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("shut down shipper: %w", ctx.Err()))
		}
	}
	if s.conn != nil {
		// Closing the connection also ends an export still in flight.
		if err := s.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close collector connection: %w", err))
		}
	}
	if cancel != nil && len(errs) > 0 {
		<-done
	}
	return errors.Join(errs...)
}
