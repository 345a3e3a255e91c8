package storage

import (
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/chserver"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

func openClusterStore(t *testing.T, s *chserver.Server, cluster string) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DSN, cfg.Database, cfg.Cluster = s.DSN(), "lambdascope", cluster
	st, err := OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("OpenConfig(%s): %v", s.DSN(), err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestClusterWriteAndReadThroughDistributedTables(t *testing.T) {
	c := chtest.StartCluster(t, 2)
	ctx := t.Context()
	writer := openClusterStore(t, c.Servers[0], c.Name)
	if err := writer.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on cluster: %v", err)
	}
	reader := openClusterStore(t, c.Servers[1], c.Name)

	const traces = 40
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var reqs []*ingestv1.ExportRequest
	for i := range traces {
		traceID := [16]byte{byte(i + 1), 0xc1, '\''}
		at := uint64(start.Add(time.Duration(i) * time.Second).UnixNano())
		reqs = append(reqs, &ingestv1.ExportRequest{
			Function: &ingestv1.FunctionIdentity{Name: "orders", MemoryMb: 512},
			Invocations: []*ingestv1.Invocation{{
				RequestId: string(rune('a'+i%26)) + "-req", StartTimeUnixNano: at, Status: "success",
				DurationMs: 10, BilledDurationMs: 10, TraceId: traceID[:],
			}},
			ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
				{TraceId: traceID[:], SpanId: []byte{1, 1, 1, 1, 1, 1, 1, 1}, Name: "handler", Kind: tracepb.Span_SPAN_KIND_SERVER,
					StartTimeUnixNano: at, EndTimeUnixNano: at + 5e6},
				{TraceId: traceID[:], SpanId: []byte{2, 1, 1, 1, 1, 1, 1, 1}, ParentSpanId: []byte{1, 1, 1, 1, 1, 1, 1, 1},
					Name: "GetItem", Kind: tracepb.Span_SPAN_KIND_CLIENT, Attributes: nil,
					StartTimeUnixNano: at + 1e6, EndTimeUnixNano: at + 3e6},
			}}}}},
		})
	}
	counts, err := writer.WriteExports(ctx, reqs)
	if err != nil {
		t.Fatalf("WriteExports through the Distributed tables: %v", err)
	}
	if counts.Spans != 2*traces || counts.Invocations != traces {
		t.Errorf("counts = %+v, want %d spans and %d invocations", counts, 2*traces, traces)
	}

	// The spans are spread over both shards by trace ID.
	var total uint64
	for i, srv := range c.Servers {
		local := openClusterStore(t, srv, c.Name)
		var n uint64
		if err := local.conn.QueryRow(ctx, "SELECT count() FROM lambdascope.spans_local").Scan(&n); err != nil {
			t.Fatalf("count spans_local on shard %d: %v", i+1, err)
		}
		if n == 0 || n%2 != 0 {
			t.Errorf("shard %d holds %d spans, want a non-zero even number (whole traces)", i+1, n)
		}
		total += n
	}
	if total != 2*traces {
		t.Errorf("shards hold %d spans in all, want %d", total, 2*traces)
	}

	// Every trace reads back whole from the other server.
	for _, r := range reqs {
		var id [16]byte
		copy(id[:], r.ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId)
		spans, err := reader.SpansByTraceID(ctx, id)
		if err != nil {
			t.Fatalf("SpansByTraceID: %v", err)
		}
		if len(spans) != 2 || spans[0].Name != "handler" || spans[1].Name != "GetItem" {
			t.Errorf("trace %x: got %d spans, want handler and GetItem", id, len(spans))
		}
		// ... through the hours trace_hours holds on the shards, not a
		// fallback.
		if n := len(spansThroughTraceHours(t, reader, id)); n != 2 {
			t.Errorf("trace %x: %d spans through trace_hours, want 2", id, n)
		}
	}
	buckets, err := reader.FunctionBuckets(ctx, UsageFilter{FunctionName: "orders",
		Since: start.Add(-24 * time.Hour), Until: start.Add(24 * time.Hour)}, time.Minute)
	if err != nil {
		t.Fatalf("FunctionBuckets: %v", err)
	}
	var invocations uint64
	for _, m := range buckets {
		invocations += m.Invocations
	}
	if invocations != traces {
		t.Errorf("FunctionBuckets counts %d invocations over the shards, want %d", invocations, traces)
	}

	// Retention drops the day on every shard.
	dropped, err := writer.DropBefore(ctx, start.Add(48*time.Hour))
	if err != nil {
		t.Fatalf("DropBefore on cluster: %v", err)
	}
	if len(dropped) == 0 {
		t.Error("DropBefore dropped nothing")
	}
	left, err := reader.Invocations(ctx, InvocationFilter{FunctionName: "orders"})
	if err != nil {
		t.Fatalf("Invocations after DropBefore: %v", err)
	}
	if len(left) != 0 {
		t.Errorf("%d invocations left after DropBefore, want 0", len(left))
	}
}
