package collector

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// countItems counts a request's items by signal, as ingestv1.CountItems
// does for every part of the system. Metric items are data points.
func countItems(req *ingestv1.ExportRequest) itemCounts {
	n := ingestv1.CountItems(req)
	return itemCounts{spans: n.Spans, logs: n.Logs, points: n.Points, invocations: n.Invocations}
}

// attrLimiter enforces the attribute limits in place: attributes whose key
// is longer than maxKey are dropped (a key that long is a bug in the
// sender, and a cut key would merge unrelated attributes), string values
// longer than maxValue are cut at a UTF-8 boundary and marked (truncate;
// the start of a long value is still useful). Both are counted.
type attrLimiter struct {
	maxKey, maxValue   int
	dropped, truncated int
}

func (l *attrLimiter) apply(req *ingestv1.ExportRequest) {
	for _, rs := range req.GetResourceSpans() {
		if r := rs.GetResource(); r != nil {
			r.Attributes = l.kvs(r.Attributes)
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				s.Attributes = l.kvs(s.Attributes)
				for _, e := range s.GetEvents() {
					e.Attributes = l.kvs(e.Attributes)
				}
				for _, ln := range s.GetLinks() {
					ln.Attributes = l.kvs(ln.Attributes)
				}
			}
		}
	}
	for _, rl := range req.GetResourceLogs() {
		if r := rl.GetResource(); r != nil {
			r.Attributes = l.kvs(r.Attributes)
		}
		for _, sl := range rl.GetScopeLogs() {
			for _, r := range sl.GetLogRecords() {
				r.Attributes = l.kvs(r.Attributes)
			}
		}
	}
	for _, rm := range req.GetResourceMetrics() {
		if r := rm.GetResource(); r != nil {
			r.Attributes = l.kvs(r.Attributes)
		}
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				for _, p := range m.GetGauge().GetDataPoints() {
					p.Attributes = l.kvs(p.Attributes)
				}
				for _, p := range m.GetSum().GetDataPoints() {
					p.Attributes = l.kvs(p.Attributes)
				}
				for _, p := range m.GetHistogram().GetDataPoints() {
					p.Attributes = l.kvs(p.Attributes)
				}
			}
		}
	}
}

func (l *attrLimiter) kvs(kvs []*commonpb.KeyValue) []*commonpb.KeyValue {
	out := kvs[:0]
	for _, kv := range kvs {
		if len(kv.GetKey()) > l.maxKey {
			l.dropped++
			continue
		}
		l.value(kv.GetValue())
		out = append(out, kv)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (l *attrLimiter) value(v *commonpb.AnyValue) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		if len(x.StringValue) > l.maxValue {
			x.StringValue = truncate(x.StringValue, l.maxValue)
			l.truncated++
		}
	case *commonpb.AnyValue_BytesValue:
		if len(x.BytesValue) > l.maxValue {
			x.BytesValue = x.BytesValue[:l.maxValue]
			l.truncated++
		}
	case *commonpb.AnyValue_ArrayValue:
		for _, e := range x.ArrayValue.GetValues() {
			l.value(e)
		}
	case *commonpb.AnyValue_KvlistValue:
		if x.KvlistValue != nil {
			x.KvlistValue.Values = l.kvs(x.KvlistValue.Values)
		}
	}
}

// cutUTF8 returns at most n bytes of s without splitting a character.
func cutUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// errOverBudget: the requests in flight hold max_inflight_bytes already.
var errOverBudget = errors.New("collector busy: the requests in flight hold max_inflight_bytes; retry later")

// budget bounds the request bytes all requests in flight hold together
// (max_inflight_bytes). Charges never wait: a request that does not fit is
// refused with a retryable status, so that a flood costs the collector no
// memory beyond the budget.
type budget struct {
	limit int64
	used  atomic.Int64
	peak  atomic.Int64
}

func (b *budget) tryAcquire(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			for {
				p := b.peak.Load()
				if u+n <= p || b.peak.CompareAndSwap(p, u+n) {
					break
				}
			}
			return true
		}
	}
}

func (b *budget) release(n int64) { b.used.Add(-n) }

// charge charges n whether or not it fits.
func (b *budget) charge(n int64) {
	u := b.used.Add(n)
	for {
		p := b.peak.Load()
		if u <= p || b.peak.CompareAndSwap(p, u) {
			return
		}
	}
}

// hold is what one request holds of the budget; release gives it all
// back and may be called more than once.
type hold struct {
	b    *budget
	mu   sync.Mutex
	n    int64
	done bool
	// began: gRPC runs the call's handler (stats.Begin); from then on only
	// the call's end (stats.End) gives the charge back, whatever the
	// client does, as the handler holds the request until it returns.
	began bool
	// timer cancels a gRPC call whose body is late (grpc_read_timeout).
	timer *time.Timer
}

func (b *budget) newHold() *hold { return &hold{b: b} }

// grow charges n more bytes, or says false when the budget has no room.
func (h *hold) grow(n int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done || !h.b.tryAcquire(n) {
		return false
	}
	h.n += n
	return true
}

// shrinkTo gives back what the hold has beyond n.
func (h *hold) shrinkTo(n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done || h.n <= n {
		return
	}
	h.b.release(h.n - n)
	h.n = n
}

// detach takes the bytes out of the hold and returns them: release then
// gives back nothing, and whoever took them gives them back to the budget
// (budget.release) when it no longer holds them.
func (h *hold) detach() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return 0
	}
	n := h.n
	h.n = 0
	return n
}

// begin marks the start of a gRPC call's handler. A call whose context
// ended before (the client left at once) gave its charge back already
// (releaseUnlessBegun), but gRPC may still read its body: it is charged
// n again, over the budget if need be, until the call ends at once.
func (h *hold) begin(n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.began = true
	if h.done {
		h.done = false
		h.n = n
		h.b.charge(n)
	}
}

// releaseUnlessBegun gives the charge back when the call's context ends
// before its handler began (gRPC may then never run it); a call whose
// handler runs gives it back at its end.
func (h *hold) releaseUnlessBegun() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.began || h.done {
		return
	}
	h.done = true
	h.b.release(h.n)
	h.n = 0
}

func (h *hold) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	h.done = true
	h.b.release(h.n)
	h.n = 0
}

// budgetReader charges every byte it reads to a hold; once the budget is
// spent it fails with errOverBudget. It counts what it read in read.
type budgetReader struct {
	r     io.Reader
	h     *hold
	read  *atomic.Uint64
	count prometheus.Counter
}

func (r *budgetReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.read.Add(uint64(n))
		r.count.Add(float64(n))
		if !r.h.grow(int64(n)) {
			return 0, errOverBudget
		}
	}
	return n, err
}

// ipLimiter counts the open connections of each client IP address.
type ipLimiter struct {
	max     int
	mu      sync.Mutex
	open    map[string]int
	refused func()
}

// limitListener closes at once the connections of an address that holds
// max connections already.
type limitListener struct {
	net.Listener
	lim *ipLimiter
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		l.lim.mu.Lock()
		if l.lim.open[host] >= l.lim.max {
			l.lim.mu.Unlock()
			l.lim.refused()
			_ = c.Close()
			continue
		}
		l.lim.open[host]++
		l.lim.mu.Unlock()
		return &limitConn{Conn: c, lim: l.lim, host: host}, nil
	}
}

type limitConn struct {
	net.Conn
	lim  *ipLimiter
	host string
	once sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() {
		c.lim.mu.Lock()
		if c.lim.open[c.host]--; c.lim.open[c.host] <= 0 {
			delete(c.lim.open, c.host)
		}
		c.lim.mu.Unlock()
	})
	return c.Conn.Close()
}
