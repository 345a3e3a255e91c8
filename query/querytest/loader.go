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

type fnProfile struct {
	id      *ingestv1.FunctionIdentity
	meanMs  float64
	errRate float64
}

// Load writes generated traces and invocations through the store's write
// path, in batches, and returns what it wrote.
func Load(ctx context.Context, st *storage.Store, cfg LoadConfig) (LoadResult, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	runtimes := []string{"nodejs22.x", "python3.13", "provided.al2023", "java21"}
	mems := []uint32{128, 256, 512, 1024, 1769, 3008}
	fns := make([]fnProfile, cfg.Functions)
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
	span := cfg.End.Sub(cfg.End.AddDate(0, 0, -cfg.Days))
	var (
		res     LoadResult
		batches = map[int]*ingestv1.ExportRequest{}
		pending int
		batchNo int
	)
	flush := func() error {
		if pending == 0 {
			return nil
		}
		reqs := make([]*ingestv1.ExportRequest, 0, len(batches))
		for _, b := range batches {
			reqs = append(reqs, b)
		}
		if _, err := st.WriteExports(ctx, reqs); err != nil {
			return fmt.Errorf("write generated batch: %w", err)
		}
		clear(batches)
		pending = 0
		return nil
	}
	batchFor := func(fn int) *ingestv1.ExportRequest {
		b := batches[fn]
		if b == nil {
			batchNo++
			id := make([]byte, 16)
			binary.BigEndian.PutUint64(id, cfg.Seed)
			binary.BigEndian.PutUint64(id[8:], uint64(batchNo))
			b = &ingestv1.ExportRequest{BatchId: id, Function: fns[fn].id,
				ResourceSpans: []*tracepb.ResourceSpans{{Resource: &resourcepb.Resource{}, ScopeSpans: []*tracepb.ScopeSpans{{}}}}}
			batches[fn] = b
		}
		return b
	}
	invocation := func(fn int, start time.Time, traceID []byte, spanID []byte) *ingestv1.Invocation {
		p := fns[fn]
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
	// Time moves forward through the load, as it does for a collector, so
	// each write touches a day or two of partitions.
	begin := cfg.End.Add(-span)
	at := func(i, n int) time.Time {
		step := span / time.Duration(max(n, 1))
		return begin.Add(step*time.Duration(i) + time.Duration(rng.Int64N(int64(max(step, 1)))))
	}
	untracedPerTrace := 0.0
	if cfg.Traces > 0 {
		untracedPerTrace = float64(cfg.UntracedInvocations) / float64(cfg.Traces)
	}
	untraced := 0
	for t := 0; t < cfg.Traces; t++ {
		start := at(t, cfg.Traces)
		traceID := make([]byte, 16)
		binary.BigEndian.PutUint64(traceID, rng.Uint64())
		binary.BigEndian.PutUint64(traceID[8:], rng.Uint64()|1)
		if len(res.SampleTraces) < 16 {
			res.SampleTraces = append(res.SampleTraces, query.TraceID(traceID))
		}
		var (
			parent     []byte
			parentSpan *tracepb.Span
		)
		first := rng.IntN(cfg.Functions)
		for hop := 0; hop < cfg.FunctionsPerTrace; hop++ {
			fn := (first + hop*7) % cfg.Functions
			b := batchFor(fn)
			hopStart := start.Add(time.Duration(hop) * 5 * time.Millisecond)
			server := make([]byte, 8)
			binary.BigEndian.PutUint64(server, rng.Uint64()|1)
			inv := invocation(fn, hopStart, traceID, server)
			b.Invocations = append(b.Invocations, inv)
			res.Invocations++
			end := hopStart.Add(time.Duration(inv.DurationMs * float64(time.Millisecond)))
			status := &tracepb.Status{}
			if inv.Status != "success" {
				status.Code = tracepb.Status_STATUS_CODE_ERROR
				if parentSpan != nil {
					// The caller's invoke fails with the function it called.
					parentSpan.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
				}
			}
			spans := b.ResourceSpans[0].ScopeSpans[0]
			spans.Spans = append(spans.Spans, &tracepb.Span{
				TraceId: traceID, SpanId: server, ParentSpanId: parent, Name: "handle " + fns[fn].id.Name,
				Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: uint64(hopStart.UnixNano()), EndTimeUnixNano: uint64(end.UnixNano()),
				Status: status, Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", inv.RequestId), strAttr("tenant", fmt.Sprintf("t%03d", rng.IntN(200)))},
			})
			var (
				client     []byte
				clientSpan *tracepb.Span
			)
			for c := 1; c < cfg.SpansPerInvocation; c++ {
				id := make([]byte, 8)
				binary.BigEndian.PutUint64(id, rng.Uint64()|1)
				cs := hopStart.Add(time.Duration(c) * time.Millisecond)
				attrs := []*commonpb.KeyValue{strAttr("db.system", "dynamodb")}
				name := "DynamoDB.GetItem"
				next := c == cfg.SpansPerInvocation-1 && hop < cfg.FunctionsPerTrace-1
				if next {
					// A Lambda Invoke naming the function it calls.
					callee := fns[(first+(hop+1)*7)%cfg.Functions].id.Name
					attrs, name, client = []*commonpb.KeyValue{strAttr("faas.invoked_name", callee)}, "invoke next", id
				}
				sp := &tracepb.Span{
					TraceId: traceID, SpanId: id, ParentSpanId: server, Name: name, Kind: tracepb.Span_SPAN_KIND_CLIENT,
					StartTimeUnixNano: uint64(cs.UnixNano()), EndTimeUnixNano: uint64(cs.Add(2 * time.Millisecond).UnixNano()), Attributes: attrs,
				}
				if next {
					clientSpan = sp
				}
				spans.Spans = append(spans.Spans, sp)
			}
			res.Spans += cfg.SpansPerInvocation
			parent, parentSpan = client, clientSpan
			pending++
		}
		for ; untraced < cfg.UntracedInvocations && float64(untraced) < untracedPerTrace*float64(t+1); untraced++ {
			fn := rng.IntN(cfg.Functions)
			b := batchFor(fn)
			b.Invocations = append(b.Invocations, invocation(fn, start.Add(time.Duration(rng.Int64N(int64(time.Second)))), nil, nil))
			res.Invocations++
			pending++
		}
		if pending >= cfg.BatchInvocations {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	for ; untraced < cfg.UntracedInvocations; untraced++ {
		fn := rng.IntN(cfg.Functions)
		b := batchFor(fn)
		b.Invocations = append(b.Invocations, invocation(fn, at(untraced, cfg.UntracedInvocations), nil, nil))
		res.Invocations++
		pending++
		if pending >= cfg.BatchInvocations {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}
