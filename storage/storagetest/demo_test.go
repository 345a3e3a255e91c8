package storagetest

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// TestDemoLogRequestIsWhole holds DemoLogRequest to exactly the records
// asked for, every one of which the writer stores: a benchmark divides by
// that number.
func TestDemoLogRequestIsWhole(t *testing.T) {
	for _, n := range []int{1, 5, 999, 1000} {
		req := DemoLogRequest(rand.New(rand.NewPCG(1, 2)), time.Unix(1_780_000_000, 0), n, n%2 == 0)
		var c dbmodel.LogColumns
		c.AppendExport(req)
		if c.Len() != n || c.Rejected != 0 {
			t.Errorf("n=%d: %d rows, %d rejected", n, c.Len(), c.Rejected)
		}
		if c.Len() > 0 && (c.RequestID.Row(0) == "" || c.FunctionName.Row(0) == "") {
			t.Errorf("n=%d: first row without request ID or function: %q, %q", n, c.RequestID.Row(0), c.FunctionName.Row(0))
		}
	}
}

// TestDemoInventoryIsInvokedDirectly: as in the demo (deploy/local),
// orders invokes inventory through the Lambda Invoke API, not through API
// Gateway: inventory's invocation span is a direct invocation under
// orders' invoke span, with no HTTP attributes.
func TestDemoInventoryIsInvokedDirectly(t *testing.T) {
	reqs := DemoTrace(rand.New(rand.NewPCG(3, 4)), time.Unix(1_780_000_000, 0))
	orders, inventory := reqs[0].ResourceSpans[0].ScopeSpans[0].Spans, reqs[1].ResourceSpans[0].ScopeSpans[0].Spans
	var invoke []byte
	for _, s := range orders {
		if s.Name == "inventory invoke" {
			invoke = s.SpanId
		}
	}
	if invoke == nil {
		t.Fatal("orders has no inventory invoke span")
	}
	root := inventory[0]
	if root.Name != "inventory" || string(root.ParentSpanId) != string(invoke) {
		t.Errorf("inventory's first span %q (parent %x), want inventory under orders' invoke %x", root.Name, root.ParentSpanId, invoke)
	}
	for _, kv := range root.Attributes {
		switch {
		case kv.Key == "faas.trigger" && kv.Value.GetStringValue() != "other":
			t.Errorf("faas.trigger %q, want other (a direct invocation)", kv.Value.GetStringValue())
		case strings.HasPrefix(kv.Key, "http.") || kv.Key == "url.path":
			t.Errorf("inventory's invocation span has %s, an HTTP attribute", kv.Key)
		}
	}
}

// TestDemoTraceIsTheDemos holds DemoTrace to the trace `make demo` stores
// for a placed order (deploy/local's TestEndToEnd): the spans of each
// function by name, the extension's inferred API Gateway span as the one
// root, the function's invocation span under it, the platform spans under
// each invocation span, every parent in the trace.
func TestDemoTraceIsTheDemos(t *testing.T) {
	reqs := DemoTrace(rand.New(rand.NewPCG(7, 8)), time.Unix(1_780_000_000, 0))
	type node struct {
		name, fn, scope string
		parent          string
	}
	byID := map[string]node{}
	names := map[string][]string{}
	for _, req := range reqs {
		fn := req.GetFunction().GetName()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					byID[string(s.SpanId)] = node{name: s.Name, fn: fn, scope: ss.GetScope().GetName(), parent: string(s.ParentSpanId)}
					names[fn] = append(names[fn], s.Name)
				}
			}
		}
	}
	want := map[string][]string{
		"orders":    {"INSERT shop.orders", "POST /orders", "inventory invoke", "lambda.invoke", "lambda.runtime_overhead", "orders", "send orders-placed", "validate order"},
		"inventory": {"inventory", "lambda.invoke", "lambda.runtime_overhead", "reserve stock"},
	}
	total := 0
	for fn, w := range want {
		got := slices.Sorted(slices.Values(names[fn]))
		if !slices.Equal(got, w) {
			t.Errorf("%s spans %q, want %q", fn, got, w)
		}
		total += len(w)
	}
	if len(byID) != total || total != SpansPerDemoTrace {
		t.Errorf("%d spans (%d distinct IDs), SpansPerDemoTrace %d, want %d", total, len(byID), SpansPerDemoTrace, total)
	}
	parents := map[string]string{
		"orders/POST /orders": "", "orders/orders": "orders/POST /orders", "orders/validate order": "orders/orders",
		"orders/INSERT shop.orders": "orders/orders", "orders/inventory invoke": "orders/orders",
		"orders/send orders-placed": "orders/orders", "orders/lambda.invoke": "orders/orders",
		"orders/lambda.runtime_overhead": "orders/lambda.invoke", "inventory/inventory": "orders/inventory invoke",
		"inventory/reserve stock": "inventory/inventory", "inventory/lambda.invoke": "inventory/inventory",
		"inventory/lambda.runtime_overhead": "inventory/lambda.invoke",
	}
	for _, n := range byID {
		var parent string
		if n.parent != "" {
			p, ok := byID[n.parent]
			if !ok {
				t.Errorf("%s/%s: parent not in the trace", n.fn, n.name)
				continue
			}
			parent = p.fn + "/" + p.name
		}
		if w := parents[n.fn+"/"+n.name]; parent != w {
			t.Errorf("%s/%s under %q, want %q", n.fn, n.name, parent, w)
		}
		if wantScope := map[string]string{"POST /orders": "lambdascope/events", "lambda.invoke": "lambdascope/telemetry",
			"lambda.runtime_overhead": "lambdascope/telemetry"}[n.name]; wantScope != "" && n.scope != wantScope {
			t.Errorf("%s/%s in scope %q, want the extension's %q", n.fn, n.name, n.scope, wantScope)
		}
	}
}
