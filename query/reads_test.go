package query_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
)

func TestReadsOverTwoFunctionTrace(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	tr := querytest.WriteTwoFunctionTrace(t, st)
	svc := query.NewService(st)
	prices := query.DefaultPrices()
	r := query.TimeRange{Since: tr.Start.Add(-10 * time.Minute), Until: tr.Start.Add(10 * time.Minute)}

	t.Run("search", func(t *testing.T) {
		tests := []struct {
			name string
			f    query.TraceSearch
			want int
		}{
			{"everything", query.TraceSearch{}, 1},
			{"errors in billing", query.TraceSearch{FunctionName: "billing", Status: ""}, 1},
			{"cold start", query.TraceSearch{ColdStartOnly: true}, 1},
			{"span name", query.TraceSearch{SpanName: "UPDATE accounts"}, 1},
			{"hostile", query.TraceSearch{FunctionName: "' OR 1=1 --", Attributes: map[string]string{"x') OR 1=1 --": "\\'"}}, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.f.Since, tt.f.Until = r.Since, r.Until
				got, err := svc.SearchTraces(t.Context(), tt.f)
				if err != nil {
					t.Fatalf("SearchTraces: %v", err)
				}
				if len(got) != tt.want {
					t.Fatalf("got %d traces, want %d", len(got), tt.want)
				}
				if tt.want == 1 && (got[0].TraceID != tr.TraceID || got[0].RootName != "POST /orders" || got[0].Spans != 4 ||
					len(got[0].Sources) != 2 || got[0].Duration != 200*time.Millisecond) {
					t.Errorf("summary = %+v", got[0])
				}
			})
		}
		if _, err := svc.SearchTraces(t.Context(), query.TraceSearch{Since: r.Since, Until: r.Until, Status: "bad"}); !errors.Is(err, query.ErrInvalidFilter) {
			t.Errorf("bad status: err = %v", err)
		}
	})

	t.Run("service map", func(t *testing.T) {
		m, err := svc.ServiceMap(t.Context(), r)
		if err != nil {
			t.Fatalf("ServiceMap: %v", err)
		}
		if len(m.Edges) != 1 || m.Edges[0].Caller != "orders" || m.Edges[0].Callee != "billing" || m.Edges[0].Calls != 1 {
			t.Fatalf("edges = %+v", m.Edges)
		}
		if len(m.Nodes) != 2 || m.Nodes[0].Name != "billing" || m.Nodes[0].Kind != query.NodeFunction || m.Nodes[0].Calls != 1 || m.Nodes[0].Unmapped != 0 {
			t.Errorf("nodes = %+v", m.Nodes)
		}
		// orders, the entry function, is called by no traced caller: its
		// invocation is still a call into it.
		if orders := m.Nodes[len(m.Nodes)-1]; orders.Name != "orders" || orders.Calls != 1 || orders.Unmapped != 1 || orders.Errors != 0 {
			t.Errorf("orders node = %+v, want 1 call from outside the map", orders)
		}
	})

	t.Run("catalog", func(t *testing.T) {
		fns, err := svc.Functions(t.Context(), r)
		if err != nil {
			t.Fatalf("Functions: %v", err)
		}
		if len(fns) != 2 {
			t.Fatalf("functions = %+v", fns)
		}
		billing, orders := fns[0], fns[1]
		if billing.Architecture != "x86_64" || billing.MemorySizeMB != 256 || len(billing.CalledBy) != 1 || billing.CalledBy[0] != "orders" || billing.Errors != 1 {
			t.Errorf("billing = %+v", billing)
		}
		if len(orders.Calls) != 1 || orders.Calls[0] != "billing" || orders.Versions[0] != "$LATEST" {
			t.Errorf("orders = %+v", orders)
		}
		// The list without calls: the same functions, read from the
		// invocation records alone.
		list, err := svc.FunctionList(t.Context(), r)
		if err != nil {
			t.Fatalf("FunctionList: %v", err)
		}
		for i := range fns {
			fns[i].Triggers, fns[i].CalledBy, fns[i].Calls = []string{}, []string{}, []string{}
		}
		if !reflect.DeepEqual(list, fns) {
			t.Errorf("FunctionList = %+v\nwant Functions without calls and triggers: %+v", list, fns)
		}
	})

	t.Run("figures", func(t *testing.T) {
		pts, err := svc.FunctionFigures(t.Context(), query.FunctionQuery{TimeRange: r, FunctionName: "orders"})
		if err != nil {
			t.Fatalf("FunctionFigures: %v", err)
		}
		if len(pts) != 1 || pts[0].ColdStartRate != 1 || pts[0].InitDurationMs != 301.2 || pts[0].P50Ms != 212.5 || pts[0].MemoryConfiguredMB != 512 {
			t.Errorf("points = %+v", pts)
		}
	})

	t.Run("cost", func(t *testing.T) {
		rep, err := svc.Cost(t.Context(), &prices, query.CostQuery{TimeRange: r})
		if err != nil {
			t.Fatalf("Cost: %v", err)
		}
		// orders: 213 ms × 0.5 GB = 0.1065 GB-s on arm64 at $0.0000133334;
		// billing: 80 ms × 0.25 GB = 0.02 GB-s on x86 at $0.0000166667;
		// 2 requests at $0.20 per million.
		want := 0.1065*0.0000133334 + 0.02*0.0000166667 + 2*0.2/1e6
		if rep.Total.Invocations != 2 || !near(rep.Total.Total, want) || len(rep.ByFunction) != 2 || len(rep.ByDay) < 1 {
			t.Errorf("report total = %+v, want %.12f", rep.Total, want)
		}
		tc, err := svc.TraceCost(t.Context(), &prices, tr.TraceID)
		if err != nil {
			t.Fatalf("TraceCost: %v", err)
		}
		if len(tc.Invocations) != 2 || !near(tc.Total, want) {
			t.Errorf("trace cost = %+v, want %.12f", tc, want)
		}
		if _, err := svc.TraceCost(t.Context(), &prices, query.TraceID{1}); !errors.Is(err, query.ErrTraceNotFound) {
			t.Errorf("unknown trace: err = %v", err)
		}
	})

	t.Run("rightsize", func(t *testing.T) {
		cfg := query.DefaultRightsizeConfig()
		cfg.MinInvocations = 1
		adv, err := svc.Rightsize(t.Context(), &prices, cfg, r)
		if err != nil {
			t.Fatalf("Rightsize: %v", err)
		}
		// orders: 512 MB configured, 88 used: 88 × 1.3 = 114.4 → 128 MB.
		found := false
		for _, a := range adv {
			if a.FunctionName == "orders" {
				found = true
				if a.Action != query.AdviceDecrease || a.SuggestedMB != 128 || a.MonthlySaving <= 0 {
					t.Errorf("orders advice = %+v", a)
				}
			}
		}
		if !found {
			t.Errorf("no advice for orders: %+v", adv)
		}
	})

	t.Run("spikes", func(t *testing.T) {
		got, err := svc.Spikes(t.Context(), query.DefaultSpikeConfig(), tr.Start.Add(2*time.Minute))
		if err != nil {
			t.Fatalf("Spikes: %v", err)
		}
		for _, s := range got {
			if s.Firing {
				t.Errorf("one failed invocation fired: %+v", s)
			}
		}
		if len(got) != 2 {
			t.Errorf("statuses = %+v", got)
		}
	})

	t.Run("logs", func(t *testing.T) {
		writeLogs(t, st, tr)
		tests := []struct {
			name string
			q    query.LogQuery
			want []string
		}{
			{"by request", query.LogQuery{RequestID: "req-billing"}, []string{"charge failed: card declined", "charging account"}},
			{"by trace", query.LogQuery{TraceID: tr.TraceID}, []string{"charge failed: card declined", "charging account", "order received"}},
			{"by function", query.LogQuery{FunctionName: "orders"}, []string{"order received"}},
			{"text ignoring case", query.LogQuery{Text: "DECLINED"}, []string{"charge failed: card declined"}},
			{"hostile text", query.LogQuery{Text: "' OR 1=1 --"}, nil},
			{"hostile request", query.LogQuery{RequestID: "x' OR '1'='1"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.q.Since, tt.q.Until = r.Since, r.Until
				got, err := svc.Logs(t.Context(), tt.q)
				if err != nil {
					t.Fatalf("Logs: %v", err)
				}
				var bodies []string
				for _, l := range got {
					bodies = append(bodies, l.Body)
				}
				if len(bodies) != len(tt.want) {
					t.Fatalf("bodies = %q, want %q (newest first)", bodies, tt.want)
				}
				for i := range bodies {
					if bodies[i] != tt.want[i] {
						t.Errorf("bodies = %q, want %q (newest first)", bodies, tt.want)
					}
				}
			})
		}
		if _, err := svc.Logs(t.Context(), query.LogQuery{Limit: -1}); !errors.Is(err, query.ErrInvalidFilter) {
			t.Errorf("negative limit: err = %v", err)
		}
	})
}

// writeLogs stores three log lines of the trace: one from orders, two
// from billing, 10 ms apart.
func writeLogs(t *testing.T, st *storage.Store, tr querytest.TwoFunctionTrace) {
	t.Helper()
	line := func(fnReq string, ms int, body string) *logspb.LogRecord {
		return &logspb.LogRecord{
			TimeUnixNano: uint64(tr.Start.Add(time.Duration(ms) * time.Millisecond).UnixNano()), TraceId: tr.TraceID[:],
			Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: body}},
			Attributes: []*commonpb.KeyValue{{Key: "faas.invocation_id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fnReq}}}},
		}
	}
	for _, req := range []*ingestv1.ExportRequest{
		{BatchId: []byte("orders-logs-0001"), Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "orders", Version: "$LATEST"},
			ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{line("req-orders", 1, "order received")}}}}}},
		{BatchId: []byte("billing-logs-001"), Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "billing", Version: "7"},
			ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
				line("req-billing", 30, "charging account"), line("req-billing", 40, "charge failed: card declined")}}}}}},
	} {
		if _, err := st.WriteExport(t.Context(), req); err != nil {
			t.Fatalf("write logs: %v", err)
		}
	}
}
