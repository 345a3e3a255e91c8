package storagetest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

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
		if c.Len() > 0 && (c.RequestID[0] == "" || c.FunctionName[0] == "") {
			t.Errorf("n=%d: first row without request ID or function: %q, %q", n, c.RequestID[0], c.FunctionName[0])
		}
	}
}

// TestDemoTraceIsTheDemos holds DemoTrace to the spans the demo stores for
// a warm orders call (deploy/local's TestEndToEnd names them): one root,
// the inferred API Gateway span of orders; every other span under a
// parent in the trace; inventory, invoked directly, under orders' invoke
// span with no inferred span of its own.
func TestDemoTraceIsTheDemos(t *testing.T) {
	reqs := DemoTrace(rand.New(rand.NewPCG(3, 4)), time.Unix(1_780_000_000, 0))
	want := map[string][]string{
		"orders":    {"INSERT shop.orders", "POST /orders", "inventory invoke", "lambda.invoke", "lambda.runtime_overhead", "orders", "send orders-placed", "validate order"},
		"inventory": {"inventory", "lambda.invoke", "lambda.runtime_overhead", "reserve stock"},
	}
	byID := map[string]*tracepb.Span{}
	fnOf := map[string]string{}
	names := map[string][]string{}
	total := 0
	for _, req := range reqs {
		fn := req.GetFunction().GetName()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					byID[string(s.SpanId)] = s
					fnOf[string(s.SpanId)] = fn
					names[fn] = append(names[fn], s.Name)
					total++
				}
			}
		}
	}
	if total != SpansPerDemoTrace {
		t.Errorf("%d spans, SpansPerDemoTrace says %d", total, SpansPerDemoTrace)
	}
	for fn, w := range want {
		if got := slices.Sorted(slices.Values(names[fn])); !slices.Equal(got, w) {
			t.Errorf("%s spans %q, want %q", fn, got, w)
		}
	}
	roots := 0
	for id, s := range byID {
		if len(s.ParentSpanId) == 0 {
			roots++
			if s.Name != "POST /orders" {
				t.Errorf("root %q, want the inferred POST /orders", s.Name)
			}
			continue
		}
		p, ok := byID[string(s.ParentSpanId)]
		if !ok {
			t.Errorf("%s span %q has a parent that is not in the trace", fnOf[id], s.Name)
			continue
		}
		if fnOf[id] == "inventory" && fnOf[string(s.ParentSpanId)] == "orders" && (s.Name != "inventory" || p.Name != "inventory invoke") {
			t.Errorf("inventory span %q under orders span %q, want inventory under inventory invoke", s.Name, p.Name)
		}
	}
	if roots != 1 {
		t.Errorf("%d roots, want 1", roots)
	}
}

// TestDemoSpanRequestHasTheSpans: at least n spans of one function, in the
// scopes of one trace's request.
func TestDemoSpanRequestHasTheSpans(t *testing.T) {
	for _, inventory := range []bool{false, true} {
		for _, n := range []int{1, 9, 100} {
			req := DemoSpanRequest(rand.New(rand.NewPCG(1, 2)), time.Unix(1_780_000_000, 0), n, inventory)
			got := 0
			for _, ss := range req.ResourceSpans[0].ScopeSpans {
				got += len(ss.Spans)
			}
			per := map[bool]int{false: 8, true: 4}[inventory]
			if len(req.ResourceSpans) != 1 || got < n || got >= n+per {
				t.Errorf("inventory %v, n=%d: %d resource spans, %d spans", inventory, n, len(req.ResourceSpans), got)
			}
		}
	}
}
