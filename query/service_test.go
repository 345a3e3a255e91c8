package query_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestTraceByIDAcrossFunctions(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	want := querytest.WriteTwoFunctionTrace(t, st)
	svc := query.NewService(st)

	tr, err := svc.TraceByID(t.Context(), want.TraceID)
	if err != nil {
		t.Fatalf("TraceByID: %v", err)
	}
	if tr.SpanCount != 4 || len(tr.Roots) != 1 {
		t.Fatalf("got %d spans in %d roots, want 4 spans in 1 root", tr.SpanCount, len(tr.Roots))
	}
	root := tr.Roots[0]
	if root.Span.SpanID != want.OrdersServer || root.Span.FunctionName != "orders" || root.Span.ServiceName != "orders-api" {
		t.Fatalf("root = %s %q of %s/%s", root.Span.SpanID, root.Span.Name, root.Span.FunctionName, root.Span.ServiceName)
	}
	if root.Invocation == nil || !root.InvocationEntry || root.Invocation.RequestID != "req-orders" || !root.Invocation.ColdStart {
		t.Fatalf("root invocation = %+v, want the cold start of req-orders", root.Invocation)
	}
	if len(root.Children) != 1 || root.Children[0].Span.SpanID != want.OrdersClient {
		t.Fatalf("root children = %d, want the client span", len(root.Children))
	}
	client := root.Children[0]
	if client.Invocation != root.Invocation || client.InvocationEntry {
		t.Errorf("client span should share the root's invocation without being its entry")
	}
	if len(client.Children) != 1 {
		t.Fatalf("client span has %d children, want billing's server span", len(client.Children))
	}
	billing := client.Children[0]
	if billing.Span.SpanID != want.Billing || billing.Span.FunctionName != "billing" || billing.Span.FunctionVersion != "7" {
		t.Fatalf("cross-function child = %s of %s:%s, want billing's server span", billing.Span.SpanID, billing.Span.FunctionName, billing.Span.FunctionVersion)
	}
	if billing.Invocation == nil || billing.Invocation.RequestID != "req-billing" || billing.Invocation.Status != "error" || billing.Invocation.ColdStart {
		t.Fatalf("billing invocation = %+v, want the failed warm req-billing", billing.Invocation)
	}
	if billing.Skew <= 0 || billing.Start().Before(client.Start()) || billing.End().After(client.End()) {
		t.Errorf("billing span shown at [%s, %s] with skew %s, want it moved inside the client span [%s, %s]",
			billing.Start(), billing.End(), billing.Skew, client.Start(), client.End())
	}
	if len(billing.Children) != 1 || billing.Children[0].Span.SpanID != want.BillingDB {
		t.Fatalf("billing children = %d, want its database span", len(billing.Children))
	}
	if db := billing.Children[0]; db.Skew != billing.Skew || db.Invocation != billing.Invocation || db.Depth != 3 {
		t.Errorf("database span skew %s (want %s), depth %d, invocation %+v", db.Skew, billing.Skew, db.Depth, db.Invocation)
	}
}

func TestTraceByIDNotFound(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	querytest.WriteTwoFunctionTrace(t, st)
	svc := query.NewService(st)
	tests := []struct {
		name   string
		id     query.TraceID
		target error
	}{
		{name: "unknown trace", id: query.TraceID{0xde, 0xad, 15: 1}, target: query.ErrTraceNotFound},
		{name: "zero trace ID", id: query.TraceID{}, target: query.ErrInvalidTraceID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := svc.TraceByID(t.Context(), tt.id)
			if !errors.Is(err, tt.target) {
				t.Fatalf("TraceByID = %v, %v; want %v", tr, err, tt.target)
			}
		})
	}
}

func TestInvocations(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	tr := querytest.WriteTwoFunctionTrace(t, st)
	svc := query.NewService(st)
	tests := []struct {
		name     string
		filter   query.InvocationFilter
		want     []string // request IDs, newest first
		errMatch error
	}{
		{name: "all, newest first", filter: query.InvocationFilter{}, want: []string{"req-billing", "req-orders"}},
		{name: "one function", filter: query.InvocationFilter{FunctionName: "orders"}, want: []string{"req-orders"}},
		{name: "limit", filter: query.InvocationFilter{Limit: 1}, want: []string{"req-billing"}},
		{name: "by trace", filter: query.InvocationFilter{TraceID: tr.TraceID, FunctionName: "billing"}, want: []string{"req-billing"}},
		{name: "time window excludes", filter: query.InvocationFilter{Since: tr.Start.Add(time.Hour), Until: tr.Start.Add(2 * time.Hour)}, want: nil},
		{name: "negative limit", filter: query.InvocationFilter{Limit: -1}, errMatch: query.ErrInvalidFilter},
		{name: "limit too large", filter: query.InvocationFilter{Limit: query.MaxInvocationLimit + 1}, errMatch: query.ErrInvalidFilter},
		{name: "since after until", filter: query.InvocationFilter{Since: tr.Start, Until: tr.Start.Add(-time.Second)}, errMatch: query.ErrInvalidFilter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := svc.Invocations(t.Context(), tt.filter)
			if tt.errMatch != nil {
				if !errors.Is(err, tt.errMatch) {
					t.Fatalf("Invocations error = %v, want %v", err, tt.errMatch)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invocations: %v", err)
			}
			var ids []string
			for _, inv := range got {
				ids = append(ids, inv.RequestID)
			}
			if len(ids) != len(tt.want) {
				t.Fatalf("request IDs = %v, want %v", ids, tt.want)
			}
			for i := range ids {
				if ids[i] != tt.want[i] {
					t.Fatalf("request IDs = %v, want %v", ids, tt.want)
				}
			}
		})
	}
}

func TestTraceByIDLargeTraceWithSkewAndMissingParent(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	want := querytest.WriteLargeTrace(t, st)
	tr, err := query.NewService(st).TraceByID(t.Context(), want.TraceID)
	if err != nil {
		t.Fatalf("TraceByID: %v", err)
	}
	if tr.SpanCount != querytest.LargeTraceSpans || len(tr.Roots) != 2 {
		t.Fatalf("%d spans in %d roots, want %d in 2 (the root and the orphan)", tr.SpanCount, len(tr.Roots), querytest.LargeTraceSpans)
	}
	var root, orphan *query.Node
	for _, n := range tr.Roots {
		switch n.Span.SpanID {
		case want.Root:
			root = n
		case want.Orphan:
			orphan = n
		}
	}
	if root == nil || root.Orphan || orphan == nil || !orphan.Orphan {
		t.Fatalf("roots = %+v, want the root and the flagged orphan", tr.Roots)
	}
	if root.Invocation == nil || root.Invocation.RequestID != "req-front" || !root.InvocationEntry {
		t.Errorf("root invocation = %+v", root.Invocation)
	}
	if len(root.Children) != 1 || len(root.Children[0].Children) != 1 {
		t.Fatalf("root has %d children, want the client span calling worker", len(root.Children))
	}
	client, worker := root.Children[0], root.Children[0].Children[0]
	if worker.Span.SpanID != want.Worker || worker.Invocation == nil || worker.Invocation.RequestID != "req-worker" || !worker.InvocationEntry {
		t.Fatalf("worker = %s with invocation %+v", worker.Span.SpanID, worker.Invocation)
	}
	// Worker's clock is 2 s behind: it is shown inside the client span, and
	// everything below it moves with it.
	if worker.Skew < 1900*time.Millisecond || worker.Start().Before(client.Start()) || worker.End().After(client.End()) {
		t.Errorf("worker shown at [%s, %s] with skew %s, want inside the client span [%s, %s]",
			worker.Start(), worker.End(), worker.Skew, client.Start(), client.End())
	}
	below, deepest := 0, 0
	tr.Walk(func(n *query.Node) bool {
		if n.Span.FunctionName == "worker" && n != worker && n != orphan {
			below++
			deepest = max(deepest, n.Depth)
			if n.Skew != worker.Skew || n.Invocation != worker.Invocation || n.InvocationEntry {
				t.Errorf("span %s: skew %s, invocation %+v, entry %t; want worker's", n.Span.SpanID, n.Skew, n.Invocation, n.InvocationEntry)
				return false
			}
		}
		return true
	})
	if below != querytest.LargeTraceSpans-4 || deepest != worker.Depth+100 {
		t.Errorf("%d spans below worker, deepest at depth %d; want %d and %d", below, deepest, querytest.LargeTraceSpans-4, worker.Depth+100)
	}
	if orphan.Skew != 0 {
		t.Errorf("the orphan moved by %s; it has no parent to be moved into", orphan.Skew)
	}
}
