package query_test

import (
	"fmt"
	"testing"
	"time"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
)

func names(t *testing.T, fs ...query.NameFilter) query.NameFilters {
	t.Helper()
	n, err := query.NewNameFilters(fs...)
	if err != nil {
		t.Fatalf("NewNameFilters: %v", err)
	}
	return n
}

// writeInvocation stores one invocation of function fn, of service svc,
// with a trace of one span, at start; id (at most 16 bytes) names the
// request, the trace and the batch.
func writeInvocation(t *testing.T, st *storage.Store, fn, svc, id string, start time.Time) {
	t.Helper()
	pad := func(n int) []byte { return []byte(fmt.Sprintf("%-*s", n, id))[:n] }
	traceID, spanID := pad(16), pad(8)
	at := uint64(start.UnixNano())
	req := &ingestv1.ExportRequest{
		BatchId: pad(16),
		Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: fn, ServiceName: svc,
			Version: "3", Architecture: "x86_64", MemoryMb: 128},
		Invocations: []*ingestv1.Invocation{{RequestId: id, StartTimeUnixNano: at, DurationMs: 10, BilledDurationMs: 10,
			MemorySizeMb: 128, MaxMemoryUsedMb: 40, Status: "success", TraceId: traceID, SpanId: spanID}},
		ResourceSpans: []*tracepb.ResourceSpans{{
			Resource: &resourcepb.Resource{},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: traceID, SpanId: spanID, Name: "pay",
				Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: at, EndTimeUnixNano: at + 10e6}}}},
		}},
	}
	if _, err := st.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("write %s: %v", fn, err)
	}
}

// TestNameFiltersOnReads applies name filters to the reads of a stored
// trace in which orders calls billing (their records name no service) and
// of a trace of payments, of service shop.
func TestNameFiltersOnReads(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	tr := querytest.WriteTwoFunctionTrace(t, st)
	writeInvocation(t, st, "payments", "shop", "req-payments", tr.Start)
	svc := query.NewService(st)
	r := query.TimeRange{Since: tr.Start.Add(-10 * time.Minute), Until: tr.Start.Add(10 * time.Minute)}
	fn := func(op, v string) query.NameFilter {
		return query.NameFilter{Key: query.NameKeyFunction, Operator: op, Value: v}
	}
	sv := func(op, v string) query.NameFilter {
		return query.NameFilter{Key: query.NameKeyService, Operator: op, Value: v}
	}

	t.Run("search", func(t *testing.T) {
		tests := []struct {
			name    string
			filters []query.NameFilter
			want    int
		}{
			{"none", nil, 2},
			{"one function of the trace", []query.NameFilter{fn("=~", "bill.*")}, 1},
			{"a function of the trace excluded", []query.NameFilter{fn("!=", "billing")}, 1},
			{"the service of a function", []query.NameFilter{sv("=", "shop")}, 1},
			{"the service of a function excluded", []query.NameFilter{sv("!~", "sh.*")}, 1},
			{"no such function", []query.NameFilter{fn("=~", "pay")}, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := svc.SearchTracesPage(t.Context(), query.TraceSearch{Since: r.Since, Until: r.Until}, names(t, tt.filters...))
				if err != nil {
					t.Fatalf("SearchTracesPage: %v", err)
				}
				if len(p.Rows) != tt.want || p.Capped {
					t.Errorf("got %d traces (capped %v), want %d", len(p.Rows), p.Capped, tt.want)
				}
			})
		}
	})

	t.Run("invocations", func(t *testing.T) {
		tests := []struct {
			name    string
			filters []query.NameFilter
			want    []string
		}{
			{"function =~", []query.NameFilter{fn("=~", "ord.*")}, []string{"orders"}},
			{"function !=", []query.NameFilter{fn("!=", "orders"), fn("!=", "payments")}, []string{"billing"}},
			{"service", []query.NameFilter{sv("=", "shop")}, []string{"payments"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := svc.InvocationsPage(t.Context(), query.InvocationFilter{Since: r.Since, Until: r.Until}, names(t, tt.filters...))
				if err != nil {
					t.Fatalf("InvocationsPage: %v", err)
				}
				var got []string
				for _, inv := range p.Rows {
					got = append(got, inv.FunctionName)
				}
				if len(got) != len(tt.want) || len(got) > 0 && got[0] != tt.want[0] {
					t.Errorf("functions %v, want %v", got, tt.want)
				}
			})
		}
	})

	t.Run("limit after the filters", func(t *testing.T) {
		p, err := svc.InvocationsPage(t.Context(), query.InvocationFilter{Since: r.Since, Until: r.Until, Limit: 1}, names(t, fn("=~", ".*")))
		if err != nil {
			t.Fatalf("InvocationsPage: %v", err)
		}
		if len(p.Rows) != 1 {
			t.Errorf("got %d invocations, want the limit, 1", len(p.Rows))
		}
	})

	t.Run("selection of figures by service", func(t *testing.T) {
		sel, err := svc.Select(t.Context(), r, names(t, sv("=", "shop")))
		if err != nil {
			t.Fatalf("Select: %v", err)
		}
		if !sel.Keep("payments", "") || sel.Keep("billing", "") {
			t.Errorf("Keep(payments) = %v, Keep(billing) = %v; want true, false", sel.Keep("payments", ""), sel.Keep("billing", ""))
		}
	})

	t.Run("service map", func(t *testing.T) {
		m, err := svc.ServiceMap(t.Context(), r)
		if err != nil {
			t.Fatalf("ServiceMap: %v", err)
		}
		sel, err := svc.Select(t.Context(), r, names(t, fn("!=", "orders")))
		if err != nil {
			t.Fatalf("Select: %v", err)
		}
		got := sel.ServiceMap(m)
		if len(m.Edges) == 0 || len(got.Edges) != 0 {
			t.Errorf("edges %d of %d kept, want none (every call is orders')", len(got.Edges), len(m.Edges))
		}
	})
}
