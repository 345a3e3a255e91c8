package storage

import (
	"fmt"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func readAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// writeReadFixture stores two traces in which "orders" calls "billing" and
// billing queries a database; the second trace's billing span fails and
// orders was a cold start in the first.
func writeReadFixture(t *testing.T, s *Store, base time.Time) (traces [2][16]byte) {
	t.Helper()
	ns := func(ms int) uint64 { return uint64(base.Add(time.Duration(ms) * time.Millisecond).UnixNano()) }
	for i := range 2 {
		tid := [16]byte{0xaa, byte(i + 1)}
		traces[i] = tid
		off := i * 60_000
		root, client, bill, db := []byte{1, byte(i), 0, 0, 0, 0, 0, 1}, []byte{1, byte(i), 0, 0, 0, 0, 0, 2}, []byte{2, byte(i), 0, 0, 0, 0, 0, 3}, []byte{2, byte(i), 0, 0, 0, 0, 0, 4}
		status := &tracepb.Status{}
		if i == 1 {
			status.Code = tracepb.Status_STATUS_CODE_ERROR
		}
		reqs := []*ingestv1.ExportRequest{{
			BatchId:  []byte(fmt.Sprintf("orders-batch-%04d", i)),
			Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "orders", Version: "3", Architecture: "arm64", MemoryMb: 1024, Runtime: "nodejs22.x"},
			Invocations: []*ingestv1.Invocation{{
				RequestId: fmt.Sprintf("req-orders-%d", i), StartTimeUnixNano: ns(off - 1), DurationMs: 200, BilledDurationMs: 200,
				MemorySizeMb: 1024, MaxMemoryUsedMb: 100, ColdStart: i == 0, InitDurationMs: 250, Status: "success", TraceId: tid[:],
			}},
			ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
				{TraceId: tid[:], SpanId: root, Name: "POST /orders", Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: ns(off), EndTimeUnixNano: ns(off + 200),
					Attributes: []*commonpb.KeyValue{readAttr("faas.invocation_id", fmt.Sprintf("req-orders-%d", i)), readAttr("tenant", "o'brien"), readAttr("faas.trigger", "http")}},
				{TraceId: tid[:], SpanId: client, ParentSpanId: root, Name: "invoke billing", Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: ns(off + 10), EndTimeUnixNano: ns(off + 150)},
			}}}}},
		}, {
			BatchId:  []byte(fmt.Sprintf("billing-batch-%03d", i)),
			Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "billing", Version: "7", Architecture: "x86_64", MemoryMb: 512, Runtime: "python3.13"},
			Invocations: []*ingestv1.Invocation{{
				RequestId: fmt.Sprintf("req-billing-%d", i), StartTimeUnixNano: ns(off + 15), DurationMs: 100, BilledDurationMs: 100,
				MemorySizeMb: 512, MaxMemoryUsedMb: 60, Status: map[bool]string{false: "success", true: "error"}[i == 1], TraceId: tid[:],
			}},
			ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
				{TraceId: tid[:], SpanId: bill, ParentSpanId: client, Name: "charge", Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: ns(off + 20), EndTimeUnixNano: ns(off + 120), Status: status,
					Attributes: []*commonpb.KeyValue{readAttr("faas.invocation_id", fmt.Sprintf("req-billing-%d", i))}},
				{TraceId: tid[:], SpanId: db, ParentSpanId: bill, Name: "UPDATE accounts", Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: ns(off + 30), EndTimeUnixNano: ns(off + 50),
					Attributes: []*commonpb.KeyValue{readAttr("db.system", "postgresql")}},
			}}}}},
		}}
		for _, r := range reqs {
			if _, err := s.WriteExport(t.Context(), r); err != nil {
				t.Fatalf("write export: %v", err)
			}
		}
	}
	return traces
}

func TestSearchTraces(t *testing.T) {
	s := openStore(t)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	traces := writeReadFixture(t, s, base)
	since, until := base.Add(-time.Minute), base.Add(5*time.Minute)
	tests := []struct {
		name string
		f    TraceSearchFilter
		want [][16]byte
	}{
		{"all newest first", TraceSearchFilter{StatusCode: -1}, [][16]byte{traces[1], traces[0]}},
		{"errors", TraceSearchFilter{StatusCode: 2}, [][16]byte{traces[1]}},
		{"function", TraceSearchFilter{StatusCode: -1, FunctionName: "billing", SpanName: "charge"}, [][16]byte{traces[1], traces[0]}},
		{"cold start", TraceSearchFilter{StatusCode: -1, ColdStartOnly: true}, [][16]byte{traces[0]}},
		{"min duration", TraceSearchFilter{StatusCode: -1, MinDuration: 150 * time.Millisecond}, [][16]byte{traces[1], traces[0]}},
		{"max duration excludes all", TraceSearchFilter{StatusCode: -1, MinDuration: 201 * time.Millisecond}, nil},
		{"attribute with quote", TraceSearchFilter{StatusCode: -1, Attributes: map[string]string{"tenant": "o'brien"}}, [][16]byte{traces[1], traces[0]}},
		{"paged", TraceSearchFilter{StatusCode: -1, Offset: 1, Limit: 1}, [][16]byte{traces[0]}},
	}
	for _, v := range hostileValues {
		tests = append(tests,
			struct {
				name string
				f    TraceSearchFilter
				want [][16]byte
			}{"hostile function " + v, TraceSearchFilter{StatusCode: -1, FunctionName: v}, nil},
			struct {
				name string
				f    TraceSearchFilter
				want [][16]byte
			}{"hostile attribute " + v, TraceSearchFilter{StatusCode: -1, Attributes: map[string]string{v: v}}, nil})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Since, tt.f.Until = since, until
			got, err := s.SearchTraces(t.Context(), tt.f)
			if err != nil {
				t.Fatalf("SearchTraces: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d traces, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i].TraceID != tt.want[i] {
					t.Errorf("trace %d = %x, want %x", i, got[i].TraceID, tt.want[i])
				}
				if got[i].Spans != 4 || got[i].RootName != "POST /orders" || got[i].RootSource != "orders" || !got[i].HasRoot {
					t.Errorf("summary %d = %+v", i, got[i])
				}
			}
		})
	}
}

func TestSpanEdgesAndAggregates(t *testing.T) {
	s := openStore(t)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	writeReadFixture(t, s, base)
	since, until := base.Add(-time.Minute), base.Add(5*time.Minute)

	edges, err := s.SpanEdges(t.Context(), SpanEdgeFilter{Since: since, Until: until})
	if err != nil {
		t.Fatalf("SpanEdges: %v", err)
	}
	want := map[string]SpanEdgeRecord{
		"orders>billing":     {Calls: 2, Errors: 1, DurationP50: 100 * time.Millisecond},
		"billing>postgresql": {Calls: 2, Resource: true, DurationP50: 20 * time.Millisecond},
	}
	if len(edges) != len(want) {
		t.Fatalf("edges = %+v", edges)
	}
	for _, e := range edges {
		w, ok := want[e.Caller+">"+e.Callee]
		if !ok || e.Calls != w.Calls || e.Errors != w.Errors || e.Resource != w.Resource || e.DurationP50 != w.DurationP50 {
			t.Errorf("edge %+v, want %+v", e, w)
		}
	}

	f := UsageFilter{Since: since, Until: until}
	buckets, err := s.FunctionBuckets(t.Context(), f, time.Hour)
	if err != nil {
		t.Fatalf("FunctionBuckets: %v", err)
	}
	var billing, orders uint64
	for _, b := range buckets {
		switch b.FunctionName {
		case "billing":
			billing += b.Errors
		case "orders":
			orders += b.ColdStarts
			if b.InitDurationMs != 250 || b.MemoryConfiguredMB != 1024 || b.MaxMemoryUsedMB != 100 {
				t.Errorf("orders bucket = %+v", b)
			}
		}
	}
	if billing != 1 || orders != 1 {
		t.Errorf("billing errors = %d, orders cold starts = %d, want 1 and 1", billing, orders)
	}
	if _, err := s.FunctionBuckets(t.Context(), f, 1500*time.Millisecond); err == nil {
		t.Error("a step of 1.5s was accepted")
	}

	cat, err := s.FunctionCatalog(t.Context(), f)
	if err != nil {
		t.Fatalf("FunctionCatalog: %v", err)
	}
	if len(cat) != 2 || cat[0].FunctionName != "billing" || cat[0].Runtime != "python3.13" || cat[0].Architecture != "x86_64" ||
		cat[1].MemorySizeMB != 1024 || len(cat[1].Versions) != 1 || cat[1].Versions[0] != "3" || cat[0].Errors != 1 {
		t.Errorf("catalog = %+v", cat)
	}

	usage, err := s.Usage(t.Context(), UsageFilter{Since: since, Until: until, FunctionName: "orders"})
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if len(usage) == 0 || usage[0].FunctionName != "orders" {
		t.Fatalf("usage = %+v", usage)
	}
	var inv, billed uint64
	for _, u := range usage {
		inv, billed = inv+u.Invocations, billed+u.BilledDurationMs
	}
	if inv != 2 || billed != 400 {
		t.Errorf("orders usage: %d invocations, %d ms billed; want 2 and 400", inv, billed)
	}

	for _, v := range hostileValues {
		u, err := s.Usage(t.Context(), UsageFilter{Since: since, Until: until, FunctionName: v, Region: v})
		if err != nil || len(u) != 0 {
			t.Errorf("usage for %q = %v, %v; want nothing", v, u, err)
		}
	}

	triggers, err := s.FunctionTriggers(t.Context(), SpanEdgeFilter{Since: since, Until: until})
	if err != nil {
		t.Fatalf("FunctionTriggers: %v", err)
	}
	if len(triggers) != 1 || len(triggers["orders"]) != 1 || triggers["orders"][0] != "http" {
		t.Errorf("triggers = %v, want orders: [http]", triggers)
	}

	prof, err := s.MemoryProfiles(t.Context(), f)
	if err != nil {
		t.Fatalf("MemoryProfiles: %v", err)
	}
	if len(prof) != 2 || prof[1].FunctionName != "orders" || prof[1].MaxMemoryUsedMB != 100 || prof[1].BilledDurationMs != 400 {
		t.Errorf("profiles = %+v", prof)
	}
}
