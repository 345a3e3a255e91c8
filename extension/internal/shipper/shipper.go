// Package shipper sends the buffered telemetry to the collector's Ingest API
// over gRPC with zstd and the API key, retrying with the same batch ID when
// the collector asks for it.
package shipper

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/spool"
	"github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Config configures a Shipper.
type Config struct {
	// Endpoint is the collector's host:port; empty disables shipping (what
	// is buffered is then counted as dropped).
	Endpoint string
	TLS      bool
	// TLSCAFile is a PEM bundle trusted in addition to the system roots.
	TLSCAFile string
	// TLSServerName overrides the name the certificate is checked against.
	TLSServerName string
	APIKey        string
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
	// ThawGrace is how long a call that was in flight while the extension
	// waited on /event/next for at least LongWait (the environment was
	// probably frozen that long) may still take after the wait ends, plus
	// a second per MiB of its batch; then it is abandoned and retried on a
	// new connection, since the old one may have died during the freeze.
	// It is also how long the collector has to answer the ping sent with
	// the first call on a connection idle for idlePing (see dialOptions);
	// unanswered, the connection is given up and the call retried on a
	// new one.
	ThawGrace time.Duration
	// LongWait is the shortest wait on /event/next after which calls in
	// flight are suspected: connections die during long freezes (idle
	// timeouts of NATs and load balancers), not between the back-to-back
	// invocations of a busy function.
	LongWait time.Duration
	// MaxAttempts is the retry budget of one batch in one flush; when it
	// is spent the batch goes to the spool (or, without one, waits in
	// memory for the next flush). 0 means no budget: retry until the
	// flush's context ends.
	MaxAttempts int
	// Spool, when set, keeps on disk what the collector could not take:
	// batches over their retry budget, the buffer's oldest items when it is
	// full, and everything unsent at shutdown (SpoolRemaining). Spooled
	// batches are replayed first, oldest first, with their batch IDs.
	Spool *spool.Spool

	// noIdlePing leaves out the keepalive ping of dialOptions, as before
	// it existed; only the benchmark that measures what it saves sets it.
	noIdlePing bool
}

// DefaultConfig returns the defaults for everything but the endpoint.
func DefaultConfig() Config {
	return Config{
		MaxBatchBytes: 1 << 20,
		RPCTimeout:    5 * time.Second,
		Interval:      time.Second,
		MinBackoff:    50 * time.Millisecond,
		MaxBackoff:    2 * time.Second,
		ThawGrace:     300 * time.Millisecond,
		LongWait:      time.Second,
		MaxAttempts:   5,
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
	if c.ThawGrace <= 0 {
		errs = append(errs, errors.New("thaw_grace must be positive"))
	}
	if c.LongWait < 0 {
		errs = append(errs, errors.New("long_wait must not be negative"))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, errors.New("max_attempts must not be negative"))
	}
	return errors.Join(errs...)
}

// ErrStopped means the collector refused the API key; nothing more is sent.
var ErrStopped = errors.New("shipping stopped: collector refused the API key")

// ErrDisabled means no endpoint is configured.
var ErrDisabled = errors.New("shipping disabled: no endpoint configured")

// ErrSpooled means the collector did not take a batch within its retry
// budget; it was written to the spool and the flush stopped.
var ErrSpooled = errors.New("collector unreachable: batch spooled")

// errStale means a call in flight across a freeze was abandoned after the
// thaw grace; the batch is retried at once on a new connection.
var errStale = errors.New("collector call abandoned: connection may have died while the environment was frozen")

// idlePing is how long a connection must have read nothing before the next
// call on it also sends a keepalive ping: gRPC's shortest keepalive time.
// Connections die silently after minutes of idling (an AWS NAT gateway
// drops an idle flow after 350 s without a reset), never within seconds,
// so a busy function, whose connection reads an answer every invocation,
// never pings.
const idlePing = 10 * time.Second

// finalBackoff caps the wait between retries while draining, so a
// collector back within the shutdown deadline is found at once.
const finalBackoff = 200 * time.Millisecond

// errBudget means a batch ran out of its retry budget and stays where it is
// (in memory, or in the spool it came from).
var errBudget = errors.New("collector unreachable: retry budget spent")

// pendingBatch is a batch taken from the buffer or the spool and not yet
// accepted.
type pendingBatch struct {
	*buffer.Batch
	id       []byte
	attempts int
	// entry is set when the batch was read from the spool.
	entry *spool.Entry
	// beside is set on a batch Drain sends beside a running flush; it is
	// not s.pending.
	beside bool
	// done is set once the batch is sent, dropped or spooled.
	done bool
	// idleRetried is set once the batch was retried after its connection
	// was found dead after idling.
	idleRetried bool
}

// Shipper moves batches from a buffer to the collector.
type Shipper struct {
	cfg   Config
	buf   *buffer.Buffer
	log   *slog.Logger
	creds credentials.TransportCredentials
	kick  chan struct{}

	sem chan struct{} // held by the one running flush
	// final is set by Drain: at shutdown nothing comes after, so a batch
	// is retried until the drain's deadline instead of within its budget.
	final   atomic.Bool
	pending *pendingBatch
	// left are batches Drain took from the buffer and the collector did
	// not take in time: the next flush sends them first, SpoolRemaining
	// spools them. Guarded by mu.
	left []*pendingBatch

	mu sync.Mutex
	// conn and client are replaced when a call times out: after the
	// environment was frozen the connection may be dead without the
	// transport noticing.
	conn       *grpc.ClientConn
	client     ingestv1.IngestServiceClient
	reconnects uint64
	conns      ConnStats
	// inflight is the Export call under way, if any.
	inflight *inflightCall
	stopped  bool
	started  bool
	closed   bool
	cancel   context.CancelFunc
	done     chan struct{}
	// pendingCounts mirrors pending for Pending, which must not wait for
	// a running flush.
	pendingCounts buffer.Counts
}

// inflightCall is an Export call under way.
type inflightCall struct {
	started time.Time
	bytes   int
	cancel  context.CancelCauseFunc
	// suspected is set once a timer to abandon the call is armed.
	suspected atomic.Bool
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
	if cfg.Spool != nil {
		buf.SetOverflow(s.spill)
	}
	creds := insecure.NewCredentials()
	if cfg.TLS {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("configure collector TLS: %w", err)
		}
		creds = credentials.NewTLS(tc)
	}
	s.creds = creds
	conn, err := grpc.NewClient(cfg.Endpoint, s.dialOptions()...)
	if err != nil {
		return nil, fmt.Errorf("create collector client: %w", err)
	}
	s.conn = conn
	s.client = ingestv1.NewIngestServiceClient(conn)
	return s, nil
}

// dialOptions are the options of every connection to the collector.
//
// A call that starts on a connection that died silently while the
// environment was frozen or idle (a NAT or load balancer dropped the flow
// without a reset) would wait its whole RPCTimeout, and the flush at an
// invocation's end is billed to the user. gRPC's keepalive finds such a
// connection at the first call: once the connection has read nothing for
// idlePing, the call is sent with an HTTP/2 PING beside it, and a
// connection whose PING is not acknowledged within ThawGrace is closed;
// the call ends with Unavailable and send retries it at once, with the same
// batch ID, on the new connection gRPC dials.
//
// A PING rather than a grace timer on the call itself: the PING is
// acknowledged by the collector's HTTP/2 layer (or the load balancer in
// front of it) within one round trip, however long the collector takes to
// answer the call, so a collector that is slow but alive (an insert into
// ClickHouse takes hundreds of milliseconds under load) keeps its call and
// its full RPCTimeout, where a timer would abandon the call, make the
// collector take the batch twice and bill the user the grace and a second
// call. A busy function does not ping at all (its connection never idles
// for idlePing) and no PING is sent on an idle connection with no call on
// it (PermitWithoutStream false), so a frozen environment sends nothing.
// The collector's keepalive policy (gRPC's default) holds a PING against
// the client only when the server has written nothing since the last one
// and less than 5 minutes passed; every PING here goes with a call the
// collector answers (a call outlasting idlePing would ping again, but
// RPCTimeout is 5 s).
func (s *Shipper) dialOptions() []grpc.DialOption {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(s.creds), grpc.WithStatsHandler(connCounter{s})}
	if !s.cfg.noIdlePing {
		opts = append(opts, grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:    idlePing,
			Timeout: s.cfg.ThawGrace,
		}))
	}
	return opts
}

// tlsConfig is the client TLS configuration: the system roots plus the
// certificates of TLSCAFile, and TLSServerName when set.
func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.TLSServerName}
	if cfg.TLSCAFile == "" {
		return tc, nil
	}
	data, err := os.ReadFile(cfg.TLSCAFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate", cfg.TLSCAFile)
	}
	tc.RootCAs = pool
	return tc, nil
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
	if s.cfg.Spool != nil && s.cfg.Spool.Len() > 0 && s.cfg.Endpoint != "" {
		s.Kick() // replay what an earlier run spooled
	}
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
	if s.cfg.Endpoint == "" {
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
			p := s.nextBatch()
			if p == nil {
				return nil
			}
			s.setPending(p)
		}
		if err := s.sendPending(ctx); err != nil {
			return err
		}
	}
}

// Drain ships everything for a shutdown, within ctx. When a flush is
// already running (the background loop, with a batch in flight to a slow
// collector), what is buffered goes out at once beside that batch rather
// than after it: a shutdown deadline then holds one round trip to the
// collector, not two in a row. Then, as Flush, it sends what is left once
// the running flush is done. A batch sent beside that the collector does
// not take in time is kept for SpoolRemaining.
//
// From Drain on, no batch is given up for its retry budget: at SHUTDOWN a
// spooled batch waits for the next start of this environment's /tmp, which
// comes only if Lambda reuses the environment, so a collector that is
// restarting or busy ("retry later") is retried until ctx ends, at most
// finalBackoff apart.
func (s *Shipper) Drain(ctx context.Context) error {
	s.final.Store(true)
	if s.cfg.Endpoint != "" {
		select {
		case s.sem <- struct{}{}:
			<-s.sem // nothing running: Flush does it all
		default:
			if err := s.sendBeside(ctx); err != nil {
				return err
			}
		}
	}
	return s.Flush(ctx)
}

// sendBeside sends what is buffered, batch by batch, while another flush
// holds sem.
func (s *Shipper) sendBeside(ctx context.Context) error {
	for !s.isStopped() {
		b := s.buf.Take(s.cfg.MaxBatchBytes)
		if b == nil {
			return nil
		}
		p := &pendingBatch{Batch: b, id: newBatchID(), beside: true}
		if err := s.send(ctx, p); err != nil {
			if !p.done {
				s.mu.Lock()
				s.left = append(s.left, p)
				s.mu.Unlock()
			}
			return err
		}
	}
	return nil
}

// sendPending sends s.pending until it is accepted, dropped, or ctx ends.
func (s *Shipper) sendPending(ctx context.Context) error {
	return s.send(ctx, s.pending)
}

// send sends p until it is accepted, dropped, or ctx ends.
func (s *Shipper) send(ctx context.Context, p *pendingBatch) error {
	backoff := s.cfg.MinBackoff
	for {
		p.attempts++
		err := s.export(ctx, p)
		code := status.Code(err)
		switch {
		case err == nil:
			s.finish(p, true)
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("export batch: %w", ctx.Err())
		case errors.Is(err, errStale):
			// Not the collector's fault: retry at once, without using up
			// the batch's budget.
			s.log.Debug("collector call outlived a freeze; retrying on a new connection", "attempt", p.attempts)
			p.attempts--
			s.count(func(c *ConnStats) { c.Stale++ })
			s.reconnect()
			continue
		case deadAfterIdle(err):
			// The connection died while idle (see dialOptions); gRPC has
			// closed it and dials a new one for the retry. Not the
			// collector's fault: retried at once, and the first time
			// without using up the batch's budget. A call ends so only on
			// a connection that read nothing for idlePing, so this does
			// not spin.
			s.count(func(c *ConnStats) { c.DeadAfterIdle++; c.Reconnects++ })
			s.log.Debug("collector connection died while idle (keepalive ping unanswered); retrying on a new connection", "attempt", p.attempts)
			if !p.idleRetried {
				p.idleRetried = true
				p.attempts--
			} else if s.cfg.MaxAttempts > 0 && p.attempts >= s.cfg.MaxAttempts && !s.final.Load() {
				return s.overBudget(p, err)
			}
			continue
		case code == codes.Canceled:
			// Not the collector's answer: this side closed the connection
			// under the call (a reconnect after another call outlived a
			// freeze, or Shutdown). The batch is kept: retried on the new
			// connection without using up its budget, or, once shut
			// down, left for SpoolRemaining.
			if s.isClosed() {
				return fmt.Errorf("export batch: the shipper is shut down: %w", err)
			}
			s.log.Debug("collector call ended by a replaced connection; retrying", "attempt", p.attempts)
			p.attempts--
		case code == codes.InvalidArgument:
			s.log.Warn("collector rejected a batch as invalid; dropping it", "err", err, "dropped", p.Counts)
			s.refused(p)
			return nil
		case code == codes.Unauthenticated || code == codes.PermissionDenied:
			s.stop(err)
			s.finish(p, false)
			return ErrStopped
		case retryable(code):
			// Not beside a running flush: a new connection would end the
			// call that flush has in flight on the old one.
			if code == codes.DeadlineExceeded && !p.beside {
				s.count(func(c *ConnStats) { c.Timeouts++ })
				s.reconnect()
			}
			if s.cfg.MaxAttempts > 0 && p.attempts >= s.cfg.MaxAttempts && !s.final.Load() {
				return s.overBudget(p, err)
			}
			s.log.Debug("collector busy or unreachable; retrying", "code", code, "attempt", p.attempts)
		default:
			s.log.Warn("collector answered with an error that is not retried; dropping the batch", "err", err, "dropped", p.Counts)
			s.refused(p)
			return nil
		}
		wait := jitter(backoff)
		backoff = min(2*backoff, s.cfg.MaxBackoff)
		if s.final.Load() {
			wait = min(wait, finalBackoff)
		}
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
	// Set once: every attempt of a batch carries the same bytes, so that
	// rows timed by it (an invocation without a start, a point without a
	// time) are the same in a retry and ClickHouse's block deduplication
	// drops it.
	if req.SentTimeUnixNano == 0 {
		req.SentTimeUnixNano = uint64(time.Now().UnixNano())
	}
	if s.cfg.APIKey != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.cfg.APIKey)
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout)
	defer cancel()
	cctx, ccancel := context.WithCancelCause(rctx)
	defer ccancel(nil)
	call := &inflightCall{started: time.Now(), bytes: p.Bytes, cancel: ccancel}
	s.mu.Lock()
	client := s.client
	if !p.beside {
		// Resumed watches the flush's own call; a call beside it runs
		// only at shutdown, when no freeze can come.
		s.inflight = call
	}
	s.mu.Unlock()
	_, err := client.Export(cctx, req, grpc.UseCompressor(grpczstd.Name), grpc.ForceCodecV2(RequestCodec{Spans: p.Spans}))
	s.mu.Lock()
	if s.inflight == call {
		s.inflight = nil
	}
	s.mu.Unlock()
	if err != nil && errors.Is(context.Cause(cctx), errStale) {
		return fmt.Errorf("%w (%w)", errStale, err)
	}
	return err
}

// Resumed tells the shipper that the extension is running again after
// waiting on /event/next since waitStarted; the environment may have been
// frozen meanwhile, and a connection can die during a long freeze without
// either end noticing. After a wait of at least LongWait, a call in flight
// since before the wait gets ThawGrace (plus a second per MiB) to finish;
// then it is abandoned and its batch retried (same batch ID, so the
// collector keeps it once) on a new connection.
func (s *Shipper) Resumed(waitStarted time.Time) {
	if time.Since(waitStarted) < s.cfg.LongWait {
		return
	}
	s.mu.Lock()
	call := s.inflight
	s.mu.Unlock()
	if call == nil || !call.started.Before(waitStarted) || call.suspected.Swap(true) {
		return
	}
	grace := s.cfg.ThawGrace + time.Duration(call.bytes)*time.Second/(1<<20)
	time.AfterFunc(grace, func() { call.cancel(errStale) })
}

// reconnect replaces the connection after a call ran out of time or outlived
// a freeze, so the retry (same batch ID) does not wait on a connection that
// died while the environment was frozen.
func (s *Shipper) reconnect() {
	conn, err := grpc.NewClient(s.cfg.Endpoint, s.dialOptions()...)
	if err != nil {
		s.log.Warn("could not recreate the collector connection", "err", err)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	old := s.conn
	s.conn, s.client = conn, ingestv1.NewIngestServiceClient(conn)
	s.reconnects++
	s.conns.Reconnects++
	s.mu.Unlock()
	s.log.Debug("replaced the collector connection before the retry")
	_ = old.Close()
}

// isClosed says whether Shutdown was called.
func (s *Shipper) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Reconnects is how many times the shipper replaced the connection after
// a call timed out or outlived a freeze (not counting the connections gRPC
// replaced itself: see ConnStats).
func (s *Shipper) Reconnects() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconnects
}

// ConnStats counts the connections to the collector opened and given up,
// and why.
type ConnStats struct {
	// Connections is every connection opened (TCP, and TLS when set up),
	// the first one included.
	Connections uint64
	// Reconnects is every connection given up for one of the reasons
	// below, whether the shipper replaced it or gRPC did.
	Reconnects uint64
	// Stale counts calls in flight across a freeze abandoned after
	// ThawGrace.
	Stale uint64
	// Timeouts counts calls that ran out of RPCTimeout.
	Timeouts uint64
	// DeadAfterIdle counts connections found dead by the keepalive ping
	// of the first call after idling (see dialOptions).
	DeadAfterIdle uint64
}

// ConnStats returns the counts of connections opened and given up so far.
func (s *Shipper) ConnStats() ConnStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// count updates the connection counts.
func (s *Shipper) count(f func(*ConnStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.conns)
}

// connCounter counts the connections gRPC opens to the collector: also
// those it opens after closing one whose keepalive ping went unanswered
// while no call was on it (a flush cut by its deadline before the ping's
// timeout), which no call's error tells.
type connCounter struct{ s *Shipper }

func (c connCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (c connCounter) HandleRPC(context.Context, stats.RPCStats) {}

func (c connCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (c connCounter) HandleConn(_ context.Context, st stats.ConnStats) {
	if _, ok := st.(*stats.ConnBegin); !ok {
		return
	}
	var n uint64
	c.s.count(func(cs *ConnStats) { cs.Connections++; n = cs.Connections })
	if n > 1 {
		c.s.log.Debug("opened a new connection to the collector", "connections", n)
	}
}

// deadAfterIdle says whether err ends a call whose connection gRPC closed
// because its keepalive ping went unanswered. gRPC says so only in the
// status message; were that text to change, such a call would be retried as
// any other Unavailable (after a backoff, within its budget) and
// TestCallAfterIdleOnDeadConnection would fail.
func deadAfterIdle(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.Unavailable && strings.Contains(st.Message(), "keepalive ping failed to receive ACK")
}

// nextBatch returns a batch Drain left (with its batch ID), else the
// oldest spooled batch, else the oldest buffered items under a new batch
// ID; nil when there is nothing to send.
func (s *Shipper) nextBatch() *pendingBatch {
	s.mu.Lock()
	if len(s.left) > 0 {
		p := s.left[0]
		s.left = s.left[1:]
		s.mu.Unlock()
		p.beside, p.attempts = false, 0
		return p
	}
	s.mu.Unlock()
	if sp := s.cfg.Spool; sp != nil {
		if e, ok := sp.Oldest(); ok {
			return &pendingBatch{
				Batch: &buffer.Batch{Request: e.Request, Counts: e.Counts},
				id:    e.Request.GetBatchId(),
				entry: &e,
			}
		}
	}
	b := s.buf.Take(s.cfg.MaxBatchBytes)
	if b == nil {
		return nil
	}
	return &pendingBatch{Batch: b, id: newBatchID()}
}

// finish accounts for a batch the collector accepted (sent) or refused for
// good, and clears it.
func (s *Shipper) finish(p *pendingBatch, sent bool) {
	if sent {
		n := p.Bytes
		if n == 0 {
			n = proto.Size(p.Request)
		}
		s.buf.MarkSentBytes(n)
	}
	switch {
	case p.entry != nil:
		s.cfg.Spool.Done(*p.entry, sent)
	case sent:
		s.buf.MarkSent(p.Counts)
	default:
		s.buf.MarkDropped(p.Counts)
	}
	s.clear(p)
}

// refused accounts for a batch the collector refused for good: counted as
// refused (and dropped) when it came from the buffer; a spooled one is
// counted by the spool as dropped.
func (s *Shipper) refused(p *pendingBatch) {
	if p.entry != nil {
		s.finish(p, false)
		return
	}
	s.buf.MarkRefused(p.Counts)
	s.clear(p)
}

// clear marks p as dealt with (sent, dropped or spooled) and, unless it
// was sent beside a running flush, clears s.pending.
func (s *Shipper) clear(p *pendingBatch) {
	p.done = true
	if !p.beside {
		s.setPending(nil)
	}
}

// overBudget handles a batch whose retry budget is spent: a buffered batch
// is spooled, a spooled one stays on disk, and without a spool the batch
// waits in memory for the next flush.
func (s *Shipper) overBudget(p *pendingBatch, cause error) error {
	switch {
	case p.entry != nil:
		s.clear(p)
		return fmt.Errorf("replay spooled batch: %w: %w", errBudget, cause)
	case s.cfg.Spool != nil:
		s.clear(p)
		p.Request.BatchId = p.id
		if err := s.cfg.Spool.Put(p.Message(), p.Counts); err != nil {
			s.log.Warn("could not spool a batch the collector did not take; dropped", "err", err, "dropped", p.Counts)
		} else {
			s.log.Debug("collector unreachable; batch spooled", "counts", p.Counts, "err", cause)
		}
		return fmt.Errorf("export batch: %w: %w", ErrSpooled, cause)
	}
	return fmt.Errorf("export batch: %w: %w", errBudget, cause)
}

// spill receives what the full buffer moves out to make room.
func (s *Shipper) spill(b *buffer.Batch) {
	b.Request.BatchId = newBatchID()
	if err := s.cfg.Spool.Put(b.Message(), b.Counts); err != nil {
		s.log.Warn("buffer full and the spool could not take its oldest telemetry; dropped", "err", err, "dropped", b.Counts)
	}
}

// SpoolRemaining writes everything not yet sent (the batch being retried
// and all that is buffered) to the spool; it is called at shutdown after
// the last Flush. It returns what was spooled and what was dropped (no
// spool, spool full or unwritable, or shipping stopped or disabled).
func (s *Shipper) SpoolRemaining(ctx context.Context) (spooled, dropped buffer.Counts, err error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return spooled, dropped, fmt.Errorf("spool remaining: %w", ctx.Err())
	}
	defer func() { <-s.sem }()
	put := func(req *ingestv1.ExportRequest, c buffer.Counts) {
		if s.cfg.Spool == nil || s.cfg.Endpoint == "" || s.isStopped() {
			s.buf.MarkDropped(c)
			dropped.Add(c)
			return
		}
		if err := s.cfg.Spool.Put(req, c); err != nil {
			dropped.Add(c)
			return
		}
		spooled.Add(c)
	}
	if p := s.pending; p != nil {
		if p.entry == nil {
			p.Request.BatchId = p.id
			put(p.Message(), p.Counts)
		}
		s.setPending(nil)
	}
	s.mu.Lock()
	left := s.left
	s.left = nil
	s.mu.Unlock()
	for _, p := range left {
		p.Request.BatchId = p.id
		put(p.Message(), p.Counts)
	}
	for {
		b := s.buf.Take(s.cfg.MaxBatchBytes)
		if b == nil {
			return spooled, dropped, nil
		}
		b.Request.BatchId = newBatchID()
		put(b.Message(), b.Counts)
	}
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
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		// Closing the connection also ends an export still in flight.
		if err := conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close collector connection: %w", err))
		}
	}
	if cancel != nil && len(errs) > 0 {
		<-done
	}
	return errors.Join(errs...)
}
