// Package buffer is the extension's bounded in-memory queue of telemetry
// waiting to be shipped, and the per-signal counters of what was received,
// sent and dropped.
package buffer

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Signal is a kind of telemetry.
type Signal int

// Signals, in the order counters are reported.
const (
	Invocations Signal = iota
	Spans
	Logs
	MetricPoints
	numSignals
)

var signalNames = [numSignals]string{"invocations", "spans", "logs", "metric_points"}

func (s Signal) String() string {
	if s < 0 || s >= numSignals {
		return fmt.Sprintf("signal(%d)", int(s))
	}
	return signalNames[s]
}

// Counts holds one number per signal.
type Counts [numSignals]uint64

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	for i := range c {
		c[i] += o[i]
	}
}

// IsZero says whether every count is zero.
func (c Counts) IsZero() bool { return c == Counts{} }

// String formats the counts as "spans=3 logs=2", omitting zeros.
func (c Counts) String() string {
	var parts []string
	for i, n := range c {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", Signal(i), n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// LogValue makes Counts print as a group in structured logs.
func (c Counts) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, numSignals)
	for i, n := range c {
		attrs = append(attrs, slog.Uint64(Signal(i).String(), n))
	}
	return slog.GroupValue(attrs...)
}

// Stats are the buffer's counters. Received counts everything handed to
// the buffer, SampledOut the part of it left out on purpose by sampling.
type Stats struct {
	Received   Counts
	Sent       Counts
	Dropped    Counts
	SampledOut Counts
	// Buffered is what is still waiting in the buffer.
	Buffered Counts
	Bytes    int
	// ReceivedBytes is the encoded size of the spans, log records and
	// metric points handed to the buffer (sampled-out spans excepted);
	// SentBytes that of the batches the collector accepted.
	ReceivedBytes uint64
	SentBytes     uint64
	// Refused is the part of Dropped the collector refused for good.
	Refused Counts
}

// Batch is what Take hands to the shipper: a request without batch ID and
// the counts it carries.
type Batch struct {
	// Request is the request without Spans; Message gives the whole one.
	Request *ingestv1.ExportRequest
	// Spans are encoded resource_spans fields of the request (the
	// function's spans as the receiver took them), kept apart so that they
	// are not copied on the way to the collector: they follow Request's
	// fields in the request's encoding (shipper.RequestCodec).
	Spans  [][]byte
	Counts Counts
	Bytes  int
}

// Message returns the whole request: Request with Spans put into its
// unknown fields, which the encoder writes out as they are and whoever
// decodes the request reads as resource_spans. Several are copied once
// into a buffer of their total size, a single one is used as it is; Spans
// is then empty.
func (b *Batch) Message() *ingestv1.ExportRequest {
	if len(b.Spans) == 0 {
		return b.Request
	}
	m := b.Request.ProtoReflect()
	raw := m.GetUnknown()
	if len(raw) == 0 && len(b.Spans) == 1 {
		raw = b.Spans[0]
	} else {
		n := len(raw)
		for _, f := range b.Spans {
			n += len(f)
		}
		raw = append(make([]byte, 0, n), raw...)
		for _, f := range b.Spans {
			raw = append(raw, f...)
		}
	}
	m.SetUnknown(raw)
	b.Spans = nil
	return b.Request
}

type item struct {
	inv     *ingestv1.Invocation
	spans   *tracepb.ResourceSpans
	logs    *logspb.ResourceLogs
	metrics *metricspb.ResourceMetrics
	// rawSpans is an encoded resource_spans field of an ExportRequest.
	rawSpans []byte
	counts   Counts
	size     int
	added    time.Time
}

// Buffer is a FIFO of telemetry bounded by a byte cap. Items that do not
// fit are dropped and counted, with one log line per drop episode. It is
// safe for concurrent use.
type Buffer struct {
	capBytes  int
	threshold int
	log       *slog.Logger
	ready     chan struct{}
	now       func() time.Time

	mu       sync.Mutex
	items    []item
	bytes    int
	stats    Stats
	dropping bool
	episode  Counts
	overflow func(*Batch)
	// keep, when set, says which traces' spans are kept (sampling).
	keep func(traceID []byte) bool
	// logFilter sees each resource logs before it is kept (SetLogFilter).
	logFilter func(*logspb.ResourceLogs)
}

// New returns a buffer holding at most capBytes (protobuf-encoded size).
// When more than threshold bytes are buffered, Ready is signalled; a
// threshold of 0 signals on every add.
func New(capBytes, threshold int, log *slog.Logger) *Buffer {
	if log == nil {
		log = slog.Default()
	}
	return &Buffer{capBytes: capBytes, threshold: threshold, log: log, ready: make(chan struct{}, 1), now: time.Now}
}

// SetOverflow makes a full buffer hand its oldest items to fn (the spool)
// to make room, instead of dropping the new ones. fn runs on the adding
// goroutine, outside the buffer's lock, and owns the counting of what it
// cannot keep. Call it before the buffer is used.
func (b *Buffer) SetOverflow(fn func(*Batch)) {
	b.mu.Lock()
	b.overflow = fn
	b.mu.Unlock()
}

// SetSampler makes the buffer keep only the spans of the traces keep
// accepts; the others are counted as sampled out. Call it before the
// buffer is used.
func (b *Buffer) SetSampler(keep func(traceID []byte) bool) {
	b.mu.Lock()
	b.keep = keep
	b.mu.Unlock()
}

// SetLogFilter makes the buffer pass every resource logs it is given to
// filter, which may change them in place (redaction), before it keeps
// them. Call it before the buffer is used.
func (b *Buffer) SetLogFilter(filter func(*logspb.ResourceLogs)) {
	b.mu.Lock()
	b.logFilter = filter
	b.mu.Unlock()
}

// sampler returns the sampling decision, nil when every span is kept.
func (b *Buffer) sampler() func([]byte) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.keep
}

// sampledOut counts spans left out by sampling.
func (b *Buffer) sampledOut(n int) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.stats.Received[Spans] += uint64(n)
	b.stats.SampledOut[Spans] += uint64(n)
	b.mu.Unlock()
}

// Ready receives a value when the buffer has crossed its threshold.
func (b *Buffer) Ready() <-chan struct{} { return b.ready }

// AddInvocation queues one invocation record; false means it was dropped.
func (b *Buffer) AddInvocation(inv *ingestv1.Invocation) bool {
	var c Counts
	c[Invocations] = 1
	return b.add(item{inv: inv, counts: c, size: proto.Size(inv)})
}

// AddSpans queues resource spans and returns how many spans were dropped.
func (b *Buffer) AddSpans(rss []*tracepb.ResourceSpans) (dropped int) {
	keep := b.sampler()
	for _, rs := range rss {
		if keep != nil {
			var out int
			if rs, out = sampleSpans(rs, keep); out > 0 {
				b.sampledOut(out)
			}
			if rs == nil {
				continue
			}
		}
		var c Counts
		c[Spans] = uint64(ingestv1.SpansIn(rs))
		if !b.add(item{spans: rs, counts: c, size: proto.Size(rs)}) {
			dropped += int(c[Spans])
		}
	}
	return dropped
}

// AddRawSpans queues encoded resource spans, which go into the request
// as they are, and returns how many spans were dropped.
func (b *Buffer) AddRawSpans(rss []otlpwire.ResourceSpans) (dropped int) {
	keep := b.sampler()
	for _, rs := range rss {
		if keep != nil {
			var out int
			if rs, out = otlpwire.FilterSpans(rs, keep); out > 0 {
				b.sampledOut(out)
			}
			if rs.Spans == 0 && len(rs.Field) == 0 {
				continue
			}
		}
		var c Counts
		c[Spans] = uint64(rs.Spans)
		if !b.add(item{rawSpans: rs.Field, counts: c, size: rs.Size}) {
			dropped += rs.Spans
		}
	}
	return dropped
}

// sampleSpans returns rs without the spans of the traces keep refuses
// (nil when none is left; rs itself when all are kept) and how many it
// left out. A scope left without spans is left out.
func sampleSpans(rs *tracepb.ResourceSpans, keep func([]byte) bool) (*tracepb.ResourceSpans, int) {
	out := 0
	for _, ss := range rs.GetScopeSpans() {
		for _, sp := range ss.GetSpans() {
			if !keep(sp.GetTraceId()) {
				out++
			}
		}
	}
	if out == 0 {
		return rs, 0
	}
	kept := &tracepb.ResourceSpans{Resource: rs.Resource, SchemaUrl: rs.SchemaUrl}
	for _, ss := range rs.GetScopeSpans() {
		spans := make([]*tracepb.Span, 0, len(ss.GetSpans()))
		for _, sp := range ss.GetSpans() {
			if keep(sp.GetTraceId()) {
				spans = append(spans, sp)
			}
		}
		if len(spans) > 0 {
			kept.ScopeSpans = append(kept.ScopeSpans, &tracepb.ScopeSpans{Scope: ss.Scope, SchemaUrl: ss.SchemaUrl, Spans: spans})
		}
	}
	if len(kept.ScopeSpans) == 0 {
		return nil, out
	}
	return kept, out
}

// AddLogs queues resource logs and returns how many log records were dropped.
func (b *Buffer) AddLogs(rls []*logspb.ResourceLogs) (dropped int) {
	b.mu.Lock()
	filter := b.logFilter
	b.mu.Unlock()
	for _, rl := range rls {
		if filter != nil {
			filter(rl)
		}
		var c Counts
		c[Logs] = uint64(ingestv1.LogsIn(rl))
		if !b.add(item{logs: rl, counts: c, size: proto.Size(rl)}) {
			dropped += int(c[Logs])
		}
	}
	return dropped
}

// AddMetrics queues resource metrics and returns how many data points were
// dropped.
func (b *Buffer) AddMetrics(rms []*metricspb.ResourceMetrics) (dropped int) {
	for _, rm := range rms {
		var c Counts
		c[MetricPoints] = uint64(ingestv1.PointsIn(rm))
		if !b.add(item{metrics: rm, counts: c, size: proto.Size(rm)}) {
			dropped += int(c[MetricPoints])
		}
	}
	return dropped
}

func (b *Buffer) add(it item) bool {
	b.mu.Lock()
	b.stats.Received.Add(it.counts)
	if it.inv == nil {
		b.stats.ReceivedBytes += uint64(it.size)
	}
	var spill *Batch
	if b.bytes+it.size > b.capBytes && b.overflow != nil && it.size <= b.capBytes {
		spill = &Batch{Request: &ingestv1.ExportRequest{}}
		n, freed := 0, 0
		for b.bytes-freed+it.size > b.capBytes && n < len(b.items) {
			freed += b.items[n].size
			n++
		}
		b.popLocked(spill, n)
		b.compactLocked()
	}
	if b.bytes+it.size > b.capBytes {
		b.stats.Dropped.Add(it.counts)
		b.episode.Add(it.counts)
		if !b.dropping {
			b.dropping = true
			b.log.Warn("buffer full, dropping telemetry until it drains", "cap_bytes", b.capBytes, "item_bytes", it.size)
		}
		b.mu.Unlock()
		return false
	}
	if b.dropping {
		b.dropping = false
		b.log.Warn("buffer accepting telemetry again", "dropped", b.episode)
		b.episode = Counts{}
	}
	it.added = b.now()
	b.items = append(b.items, it)
	b.bytes += it.size
	signal := b.bytes > b.threshold
	overflow := b.overflow
	b.mu.Unlock()
	if spill != nil && !spill.Counts.IsZero() {
		b.log.Debug("buffer full, moving its oldest telemetry to the spool", "cap_bytes", b.capBytes, "moved", spill.Counts)
		overflow(spill)
	}
	if signal {
		select {
		case b.ready <- struct{}{}:
		default:
		}
	}
	return true
}

// popLocked moves the n oldest items into batch, which must be new;
// compactLocked must follow.
func (b *Buffer) popLocked(batch *Batch, n int) {
	for i := range n {
		it := b.items[i]
		switch {
		case it.inv != nil:
			batch.Request.Invocations = append(batch.Request.Invocations, it.inv)
		case it.spans != nil:
			batch.Request.ResourceSpans = append(batch.Request.ResourceSpans, it.spans)
		case it.logs != nil:
			batch.Request.ResourceLogs = append(batch.Request.ResourceLogs, it.logs)
		case it.metrics != nil:
			batch.Request.ResourceMetrics = append(batch.Request.ResourceMetrics, it.metrics)
		case it.rawSpans != nil:
			batch.Spans = append(batch.Spans, it.rawSpans)
		}
		batch.Counts.Add(it.counts)
		batch.Bytes += it.size
		b.bytes -= it.size
		b.items[i] = item{}
	}
	b.items = b.items[n:]
}

func (b *Buffer) compactLocked() {
	if len(b.items) == 0 {
		b.items = nil
	}
}

// Take removes the oldest items, up to maxBytes (at least one item), and
// returns them as a batch; nil when the buffer is empty.
func (b *Buffer) Take(maxBytes int) *Batch {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.items) == 0 {
		return nil
	}
	batch := &Batch{Request: &ingestv1.ExportRequest{}}
	n, size := 0, 0
	for n < len(b.items) && (size == 0 || size+b.items[n].size <= maxBytes) {
		size += b.items[n].size
		n++
	}
	b.popLocked(batch, n)
	b.compactLocked()
	return batch
}

// Bytes is the encoded size of what is buffered.
func (b *Buffer) Bytes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes
}

// OldestAge is how long the oldest buffered item has waited; 0 when empty.
func (b *Buffer) OldestAge() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.items) == 0 {
		return 0
	}
	return b.now().Sub(b.items[0].added)
}

// MarkSent counts what the collector accepted.
func (b *Buffer) MarkSent(c Counts) {
	b.mu.Lock()
	b.stats.Sent.Add(c)
	b.mu.Unlock()
}

// MarkSentBytes counts the encoded size of a batch the collector accepted.
func (b *Buffer) MarkSentBytes(n int) {
	b.mu.Lock()
	b.stats.SentBytes += uint64(max(n, 0))
	b.mu.Unlock()
}

// MarkRefused counts what the collector refused for good: dropped, and
// refused.
func (b *Buffer) MarkRefused(c Counts) {
	b.mu.Lock()
	b.stats.Dropped.Add(c)
	b.stats.Refused.Add(c)
	b.mu.Unlock()
}

// MarkDropped counts what was taken from the buffer but will never be sent.
func (b *Buffer) MarkDropped(c Counts) {
	b.mu.Lock()
	b.stats.Dropped.Add(c)
	b.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stats
	st.Bytes = b.bytes
	for _, it := range b.items {
		st.Buffered.Add(it.counts)
	}
	return st
}
