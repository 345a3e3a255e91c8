package querytest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
)

// LoadConfig sizes generated telemetry.
type LoadConfig struct {
	// Traces is how many distributed traces to write; each crosses
	// FunctionsPerTrace functions with one invocation each.
	Traces            int
	FunctionsPerTrace int
	// SpansPerInvocation is the spans each invocation emits (its server
	// span plus children).
	SpansPerInvocation int
	// UntracedInvocations are extra invocation reports without spans (most
	// functions in an account are not instrumented).
	UntracedInvocations int
	// Functions is how many distinct functions there are.
	Functions int
	// End and Days place the data in [End-Days, End).
	End  time.Time
	Days int
	// BatchInvocations is the invocations per write.
	BatchInvocations int
	Seed             uint64
}

// DefaultLoadConfig is a small realistic mix over 30 days.
func DefaultLoadConfig() LoadConfig {
	return LoadConfig{
		Traces: 1000, FunctionsPerTrace: 3, SpansPerInvocation: 4, UntracedInvocations: 1000,
		Functions: 40, End: time.Now().Truncate(time.Hour), Days: 30, BatchInvocations: 5000, Seed: 1,
	}
}

// LoadResult says what was written, and gives a few trace IDs to look up.
type LoadResult struct {
	Spans, Invocations int
	SampleTraces       []query.TraceID
}

// Load writes generated traces and invocations through the store's write
// path, in batches, and returns what it wrote. Time moves forward through
// the load, as it does for a collector, so each write touches a day or two
// of partitions; the untraced invocations are spread among the traces.
func Load(ctx context.Context, st *storage.Store, cfg LoadConfig) (LoadResult, error) {
	l := newLoader(st, cfg)
	untracedPerTrace := 0.0
	if cfg.Traces > 0 {
		untracedPerTrace = float64(cfg.UntracedInvocations) / float64(cfg.Traces)
	}
	untraced := 0
	for t := range cfg.Traces {
		start := l.at(t, cfg.Traces)
		l.addTrace(start)
		for ; untraced < cfg.UntracedInvocations && float64(untraced) < untracedPerTrace*float64(t+1); untraced++ {
			l.addUntraced(func() time.Time { return start.Add(time.Duration(l.rng.Int64N(int64(time.Second)))) })
		}
		if err := l.flushWhenFull(ctx); err != nil {
			return l.res, err
		}
	}
	for ; untraced < cfg.UntracedInvocations; untraced++ {
		l.addUntraced(func() time.Time { return l.at(untraced, cfg.UntracedInvocations) })
		if err := l.flushWhenFull(ctx); err != nil {
			return l.res, err
		}
	}
	return l.res, l.flush(ctx)
}

// fnProfile is one generated function: its identity, mean duration and
// error rate.
type fnProfile struct {
	id      *ingestv1.FunctionIdentity
	meanMs  float64
	errRate float64
}

// functionProfiles makes n functions in 2 accounts and 2 regions, with
// runtimes, architectures, memory sizes, durations and error rates that
// vary between them.
func functionProfiles(n int) []fnProfile {
	runtimes := []string{"nodejs22.x", "python3.13", "provided.al2023", "java21"}
	mems := []uint32{128, 256, 512, 1024, 1769, 3008}
	fns := make([]fnProfile, n)
	for i := range fns {
		arch := "x86_64"
		if i%3 == 0 {
			arch = "arm64"
		}
		fns[i] = fnProfile{
			id: &ingestv1.FunctionIdentity{
				AccountId: fmt.Sprintf("%012d", 100000000000+i%2), Region: []string{"us-east-1", "eu-west-1"}[i%2],
				Name: fmt.Sprintf("svc-%02d", i), Version: fmt.Sprint(1 + i%4), Architecture: arch,
				MemoryMb: mems[i%len(mems)], Runtime: runtimes[i%len(runtimes)],
			},
			meanMs:  20 + float64(i%10)*30,
			errRate: 0.002 + float64(i%7)*0.003,
		}
	}
	return fns
}

// loader builds Load's batches, one per function, and writes them when
// they hold cfg.BatchInvocations invocations.
type loader struct {
	st    *storage.Store
	cfg   LoadConfig
	rng   *rand.Rand
	fns   []fnProfile
	begin time.Time
	span  time.Duration

	batches map[int]*ingestv1.ExportRequest
	pending int
	batchNo int
	res     LoadResult
}

func newLoader(st *storage.Store, cfg LoadConfig) *loader {
	span := cfg.End.Sub(cfg.End.AddDate(0, 0, -cfg.Days))
	return &loader{
		st: st, cfg: cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		fns:   functionProfiles(cfg.Functions),
		begin: cfg.End.Add(-span), span: span,
		batches: map[int]*ingestv1.ExportRequest{},
	}
}

// at is a random time in the i-th of n equal steps of the range.
func (l *loader) at(i, n int) time.Time {
	step := l.span / time.Duration(max(n, 1))
	return l.begin.Add(step*time.Duration(i) + time.Duration(l.rng.Int64N(int64(max(step, 1)))))
}

// batchFor is the pending batch of function fn, new when there is none.
func (l *loader) batchFor(fn int) *ingestv1.ExportRequest {
	b := l.batches[fn]
	if b == nil {
		l.batchNo++
		id := make([]byte, 16)
		binary.BigEndian.PutUint64(id, l.cfg.Seed)
		binary.BigEndian.PutUint64(id[8:], uint64(l.batchNo))
		b = &ingestv1.ExportRequest{BatchId: id, Function: l.fns[fn].id,
			ResourceSpans: []*tracepb.ResourceSpans{{Resource: &resourcepb.Resource{}, ScopeSpans: []*tracepb.ScopeSpans{{}}}}}
		l.batches[fn] = b
	}
	return b
}

// invocation is a report of function fn: its duration drawn around the
// function's mean, one cold start in 50, errors at the function's rate.
func (l *loader) invocation(fn int, start time.Time, traceID, spanID []byte) *ingestv1.Invocation {
	p, rng := l.fns[fn], l.rng
	d := p.meanMs * (0.5 + rng.ExpFloat64())
	cold := rng.IntN(50) == 0
	inv := &ingestv1.Invocation{
		RequestId: fmt.Sprintf("%016x-%08x", rng.Uint64(), rng.Uint32()), StartTimeUnixNano: uint64(start.UnixNano()),
		DurationMs: d, BilledDurationMs: uint64(d) + 1, MemorySizeMb: p.id.MemoryMb,
		MaxMemoryUsedMb: uint32(float64(p.id.MemoryMb) * (0.2 + 0.3*rng.Float64())), Status: "success",
		TraceId: traceID, SpanId: spanID, ColdStart: cold,
	}
	if cold {
		inv.InitDurationMs = 150 + 300*rng.Float64()
	}
	if rng.Float64() < p.errRate {
		inv.Status, inv.ErrorType = "error", "Runtime.HandlerError"
	}
	return inv
}

// addTrace adds a trace that starts at start and crosses
// cfg.FunctionsPerTrace functions, each called by the previous one's last
// client span.
func (l *loader) addTrace(start time.Time) {
	traceID := make([]byte, 16)
	binary.BigEndian.PutUint64(traceID, l.rng.Uint64())
	binary.BigEndian.PutUint64(traceID[8:], l.rng.Uint64()|1)
	if len(l.res.SampleTraces) < 16 {
		l.res.SampleTraces = append(l.res.SampleTraces, query.TraceID(traceID))
	}
	var caller *tracepb.Span
	first := l.rng.IntN(l.cfg.Functions)
	for hop := range l.cfg.FunctionsPerTrace {
		caller = l.addHop(traceID, first, hop, start.Add(time.Duration(hop)*5*time.Millisecond), caller)
	}
}

// addHop adds the invocation of the trace's hop-th function, called by
// caller (nil for the first): its server span and client spans, and
// returns the client span that calls the next function (nil on the last
// hop). A failed invocation fails its caller's call.
func (l *loader) addHop(traceID []byte, first, hop int, start time.Time, caller *tracepb.Span) *tracepb.Span {
	fn := l.hopFunction(first, hop)
	b := l.batchFor(fn)
	server := make([]byte, 8)
	binary.BigEndian.PutUint64(server, l.rng.Uint64()|1)
	inv := l.invocation(fn, start, traceID, server)
	b.Invocations = append(b.Invocations, inv)
	l.res.Invocations++
	end := start.Add(time.Duration(inv.DurationMs * float64(time.Millisecond)))
	status := &tracepb.Status{}
	if inv.Status != "success" {
		status.Code = tracepb.Status_STATUS_CODE_ERROR
		if caller != nil {
			caller.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
		}
	}
	var parent []byte
	if caller != nil {
		parent = caller.SpanId
	}
	spans := b.ResourceSpans[0].ScopeSpans[0]
	spans.Spans = append(spans.Spans, &tracepb.Span{
		TraceId: traceID, SpanId: server, ParentSpanId: parent, Name: "handle " + l.fns[fn].id.Name,
		Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(end.UnixNano()),
		Status: status, Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", inv.RequestId), strAttr("tenant", fmt.Sprintf("t%03d", l.rng.IntN(200)))},
	})
	var next *tracepb.Span
	for c := 1; c < l.cfg.SpansPerInvocation; c++ {
		id := make([]byte, 8)
		binary.BigEndian.PutUint64(id, l.rng.Uint64()|1)
		cs := start.Add(time.Duration(c) * time.Millisecond)
		sp := &tracepb.Span{
			TraceId: traceID, SpanId: id, ParentSpanId: server, Name: "DynamoDB.GetItem", Kind: tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: uint64(cs.UnixNano()), EndTimeUnixNano: uint64(cs.Add(2 * time.Millisecond).UnixNano()),
			Attributes: []*commonpb.KeyValue{strAttr("db.system", "dynamodb")},
		}
		if c == l.cfg.SpansPerInvocation-1 && hop < l.cfg.FunctionsPerTrace-1 {
			// A Lambda Invoke naming the function it calls.
			sp.Name, sp.Attributes = "invoke next", []*commonpb.KeyValue{strAttr("faas.invoked_name", l.fns[l.hopFunction(first, hop+1)].id.Name)}
			next = sp
		}
		spans.Spans = append(spans.Spans, sp)
	}
	l.res.Spans += l.cfg.SpansPerInvocation
	l.pending++
	return next
}

// hopFunction is the function of a trace's hop-th invocation.
func (l *loader) hopFunction(first, hop int) int { return (first + hop*7) % l.cfg.Functions }

// addUntraced adds an invocation report without spans of a random
// function, at the time start gives.
func (l *loader) addUntraced(start func() time.Time) {
	fn := l.rng.IntN(l.cfg.Functions)
	b := l.batchFor(fn)
	b.Invocations = append(b.Invocations, l.invocation(fn, start(), nil, nil))
	l.res.Invocations++
	l.pending++
}

// flushWhenFull writes the batches once they hold cfg.BatchInvocations
// invocations.
func (l *loader) flushWhenFull(ctx context.Context) error {
	if l.pending < l.cfg.BatchInvocations {
		return nil
	}
	return l.flush(ctx)
}

// flush writes the pending batches in one call.
func (l *loader) flush(ctx context.Context) error {
	if l.pending == 0 {
		return nil
	}
	reqs := make([]*ingestv1.ExportRequest, 0, len(l.batches))
	for _, b := range l.batches {
		reqs = append(reqs, b)
	}
	if _, err := l.st.WriteExports(ctx, reqs); err != nil {
		return fmt.Errorf("write generated batch: %w", err)
	}
	clear(l.batches)
	l.pending = 0
	return nil
}
