package storagetest

import (
	"math/rand/v2"
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
		if c.Len() > 0 && (c.RequestID[0] == "" || c.FunctionName[0] == "") {
			t.Errorf("n=%d: first row without request ID or function: %q, %q", n, c.RequestID[0], c.FunctionName[0])
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
