package collector

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// front is the collector's front door, shared by gRPC and OTLP/HTTP: the
// API key is checked before a body is read, the bytes of all requests in
// flight are bounded (max_inflight_bytes), and every refusal is counted.
type front struct {
	keys       *keyring
	budget     *budget
	maxMessage int64
	// readTimeout is http_limits.read_timeout, for log lines.
	readTimeout time.Duration
	// grpcReadTimeout is grpc_read_timeout.
	grpcReadTimeout time.Duration
	codec           *lenientCodec
	log             *slog.Logger

	bytesRead *prometheus.CounterVec // via
	refused   *prometheus.CounterVec // reason
	grpcRead  atomic.Uint64
	httpRead  atomic.Uint64
	connsRef  atomic.Uint64

	logMu   sync.Mutex
	lastLog map[string]time.Time
}

func newFront(cfg Config, reg *prometheus.Registry, log *slog.Logger) *front {
	f := &front{
		keys:            newKeyring(cfg),
		budget:          &budget{limit: cfg.MaxInflightBytes},
		maxMessage:      int64(cfg.MaxMessageBytes),
		readTimeout:     cfg.HTTPLimits.ReadTimeout,
		grpcReadTimeout: cfg.GRPCReadTimeout,
		codec:           newLenientCodec(cfg),
		log:             log,
		lastLog:         map[string]time.Time{},
		bytesRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lambdascope_collector_request_bytes_read_total",
			Help: "Request body bytes read (decompressed), by protocol; never read before the API key is checked.",
		}, []string{"via"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lambdascope_collector_refused_requests_total",
			Help: "Requests and connections refused at the front door, by reason (unauthenticated, over_budget, conns_per_ip, read_timeout, unsupported_media_type, undecodable).",
		}, []string{"reason"}),
	}
	reg.MustRegister(f.bytesRead, f.refused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lambdascope_collector_inflight_bytes",
			Help: "Request bytes held by the requests in flight (bounded by max_inflight_bytes).",
		}, func() float64 { return float64(f.budget.used.Load()) }))
	return f
}

// refuse counts a refusal and logs it, at most once per reason every 10 s
// (a flood must not flood the log too).
func (f *front) refuse(reason string, args ...any) {
	f.refused.WithLabelValues(reason).Inc()
	if reason == "conns_per_ip" {
		f.connsRef.Add(1)
	}
	f.logMu.Lock()
	now := time.Now()
	quiet := now.Sub(f.lastLog[reason]) < 10*time.Second
	if !quiet {
		f.lastLog[reason] = now
	}
	f.logMu.Unlock()
	if !quiet {
		f.log.Warn("refused request", append([]any{"reason", reason}, args...)...)
	}
}

func isHealthCheck(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/")
}

type holdKey struct{}

// tap runs when a gRPC call's headers have arrived, before any of its
// body is read: a call without an accepted key is refused here, and one
// that does not fit in the budget is refused with RESOURCE_EXHAUSTED and
// RetryInfo. An accepted call reserves max_message_bytes (gRPC gives no
// size before reading) until its body is decoded, then its size; all is
// released when its handler has returned (stats.End, statsHandler): the
// handler holds the request until then, also when the client cancels or
// its deadline passes, as an insert runs to its end. A call whose handler
// never runs (its context ended first, an unknown method) releases it when
// its context ends. It runs on the connection's reader and must not block.
func (f *front) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if isHealthCheck(info.FullMethodName) {
		return ctx, nil
	}
	if err := f.keys.checkValues(info.Header.Get("authorization")); err != nil {
		f.refuse("unauthenticated", "via", "gRPC", "method", info.FullMethodName)
		return ctx, err
	}
	h := f.budget.newHold()
	if !h.grow(f.maxMessage) {
		f.refuse("over_budget", "via", "gRPC", "max_inflight_bytes", f.budget.limit)
		return ctx, retryableStatus(codes.ResourceExhausted, errOverBudget.Error())
	}
	// A call whose body is not decoded within grpc_read_timeout is
	// cancelled: its reads fail and it gives back its reservation.
	ctx, cancel := context.WithCancelCause(ctx)
	method := info.FullMethodName
	h.timer = time.AfterFunc(f.grpcReadTimeout, func() {
		f.refuse("read_timeout", "via", "gRPC", "method", method, "grpc_read_timeout", f.grpcReadTimeout)
		cancel(errSlowBody)
	})
	context.AfterFunc(ctx, func() {
		h.timer.Stop()
		h.releaseUnlessBegun()
	})
	return context.WithValue(ctx, holdKey{}, h), nil
}

// errSlowBody cancels a gRPC call whose body took too long.
var errSlowBody = errors.New("the request body was not received within grpc_read_timeout")

// unary checks the key again (calls the tap let through have one), turns
// the codec's notes into a status or a count of rejected items, and stops
// the call's read timer.
func (f *front) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	// Taken first, whatever the method: a note left behind would stay.
	note, noted := f.codec.take(req)
	if isHealthCheck(info.FullMethod) {
		if noted && note.err != nil {
			return nil, status.Error(codes.InvalidArgument, note.err.Error())
		}
		return handler(ctx, req)
	}
	if err := f.keys.check(ctx); err != nil {
		return nil, err
	}
	if noted {
		if note.err != nil {
			f.refuse("undecodable", "via", "gRPC", "method", info.FullMethod, "err", note.err)
			return nil, status.Error(codes.InvalidArgument, note.err.Error())
		}
		ctx = withSpanDecode(withDecodeRejected(ctx, note.rejected), note.spans)
	}
	if h, ok := ctx.Value(holdKey{}).(*hold); ok && !h.timer.Stop() {
		return nil, status.Error(codes.DeadlineExceeded, errSlowBody.Error())
	}
	return handler(ctx, req)
}

type decodeRejectedKey struct{}

// withDecodeRejected says how many items decoding left out of the request
// (strings that are not UTF-8); the receivers add them to the partial
// success they report.
func withDecodeRejected(ctx context.Context, n int) context.Context {
	if n == 0 {
		return ctx
	}
	return context.WithValue(ctx, decodeRejectedKey{}, n)
}

func decodeRejected(ctx context.Context) int {
	n, _ := ctx.Value(decodeRejectedKey{}).(int)
	return n
}

// statsHandler counts the request bytes gRPC read (decompressed).
type statsHandler struct{ f *front }

func (statsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (statsHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (statsHandler) HandleConn(context.Context, stats.ConnStats)                       {}

// Once the body is decoded, the call's reservation of max_message_bytes
// shrinks to the body's size (decompressed), which it holds until its
// handler has returned (stats.End), whatever the client does meanwhile.
func (h statsHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	hd, _ := ctx.Value(holdKey{}).(*hold)
	switch s := s.(type) {
	case *stats.Begin:
		if hd != nil {
			hd.begin(h.f.maxMessage)
		}
	case *stats.InPayload:
		h.f.grpcRead.Add(uint64(s.Length))
		h.f.bytesRead.WithLabelValues("grpc").Add(float64(s.Length))
		if hd != nil {
			hd.shrinkTo(int64(s.Length))
		}
	case *stats.End:
		if hd != nil {
			hd.timer.Stop()
			hd.release()
		}
	}
}
