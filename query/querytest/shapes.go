package querytest

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
)

// LargeTrace is a trace of LargeTraceSpans spans with the shapes trace
// assembly must survive: function "front" calls function "worker", whose
// clock runs 2 s behind, so that by its own clock the call starts before the
// client span that made it; worker fans out into thousands of spans in
// chains of 100; and one of worker's spans names a parent that was never
// stored.
type LargeTrace struct {
	TraceID              query.TraceID
	Root, Client, Worker query.SpanID
	// Orphan is the span whose parent is missing.
	Orphan query.SpanID
	// Start is when front's root span started.
	Start time.Time
}

// LargeTraceSpans is the span count of a LargeTrace.
const LargeTraceSpans = 10_000

// WriteLargeTrace stores a LargeTrace that started ten minutes ago, with
// the invocation records of both functions (requests req-front and
// req-worker; only the two server spans carry their request ID).
func WriteLargeTrace(t testing.TB, st *storage.Store) LargeTrace {
	t.Helper()
	id := func(fn byte, i int) query.SpanID {
		var s query.SpanID
		s[0] = fn
		binary.BigEndian.PutUint32(s[4:], uint32(i)+1)
		return s
	}
	tr := LargeTrace{
		TraceID: query.TraceID{0x7e, 0x57, 0x10, 0x4b, 15: 0x01},
		Root:    id(0xf0, 0), Client: id(0xf0, 1), Worker: id(0xa0, 0), Orphan: id(0xa0, 1),
		Start: time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond),
	}
	at := func(ms float64) uint64 { return nanos(tr.Start.Add(time.Duration(ms * float64(time.Millisecond)))) }
	mk := func(sid, parent query.SpanID, name string, kind tracepb.Span_SpanKind, from, to float64, attrs ...*commonpb.KeyValue) *tracepb.Span {
		s := &tracepb.Span{TraceId: tr.TraceID[:], SpanId: sid[:], Name: name, Kind: kind,
			StartTimeUnixNano: at(from), EndTimeUnixNano: at(to), Attributes: attrs}
		if !parent.IsZero() {
			s.ParentSpanId = parent[:]
		}
		return s
	}
	front := []*tracepb.Span{
		mk(tr.Root, query.SpanID{}, "GET /report", tracepb.Span_SPAN_KIND_SERVER, 0, 10_000, strAttr("faas.invocation_id", "req-front")),
		mk(tr.Client, tr.Root, "invoke worker", tracepb.Span_SPAN_KIND_CLIENT, 100, 9_000),
	}
	// Worker's clock is 2 s behind: its server span starts at -1.9 s by it.
	const skew = -2_000.0
	worker := []*tracepb.Span{
		mk(tr.Worker, tr.Client, "work", tracepb.Span_SPAN_KIND_SERVER, 100+skew, 8_900+skew, strAttr("faas.invocation_id", "req-worker")),
		mk(tr.Orphan, id(0xee, 0), "late callback", tracepb.Span_SPAN_KIND_INTERNAL, 200+skew, 300+skew),
	}
	for i := 2; len(front)+len(worker) < LargeTraceSpans; i++ {
		parent := id(0xa0, i-1)
		if i%100 == 2 {
			parent = tr.Worker
		}
		from := 150 + skew + float64(i)*0.8
		worker = append(worker, mk(id(0xa0, i), parent, "step", tracepb.Span_SPAN_KIND_INTERNAL, from, from+0.5))
	}
	reqs := []*ingestv1.ExportRequest{
		{
			BatchId:  []byte("large-trace-fron"),
			Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "us-east-1", Name: "front", Version: "1", Architecture: "x86_64", MemoryMb: 256},
			Invocations: []*ingestv1.Invocation{{RequestId: "req-front", StartTimeUnixNano: at(-2), DurationMs: 10_001, BilledDurationMs: 10_002,
				MemorySizeMb: 256, MaxMemoryUsedMb: 100, Status: "success", TraceId: tr.TraceID[:], SpanId: tr.Root[:]}},
			ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: front}}}},
		},
		{
			BatchId:  []byte("large-trace-work"),
			Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "us-east-1", Name: "worker", Version: "3", Architecture: "arm64", MemoryMb: 1024},
			Invocations: []*ingestv1.Invocation{{RequestId: "req-worker", StartTimeUnixNano: at(98 + skew), DurationMs: 8_801, BilledDurationMs: 8_802,
				MemorySizeMb: 1024, MaxMemoryUsedMb: 600, Status: "success", TraceId: tr.TraceID[:], SpanId: tr.Worker[:]}},
			ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: worker}}}},
		},
	}
	for _, req := range reqs {
		if _, err := st.WriteExport(context.Background(), req); err != nil {
			t.Fatalf("write export %s: %v", req.GetFunction().GetName(), err)
		}
	}
	return tr
}
