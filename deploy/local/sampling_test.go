package local_test

import (
	"testing"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/storage"
)

// TestSampledTracesAreWhole runs the sample functions with
// LAMBDASCOPE_SAMPLE_RATE=0.5 through the real collector into ClickHouse:
// each orders → inventory trace is stored with the spans of both
// functions or not at all, and every invocation still has its record.
func TestSampledTracesAreWhole(t *testing.T) {
	ctx := testContext(t)
	stack := startStack(t, ctx, map[string]string{"LAMBDASCOPE_SAMPLE_RATE": "0.5"})
	const n = 12
	calls, err := stack.RunWorkload(ctx, local.Workload{Invocations: n, Concurrency: 2}, nil)
	if err != nil {
		t.Fatalf("workload: %v", err)
	}
	if err := stack.StopFunctions(ctx); err != nil {
		t.Fatalf("stop functions: %v", err)
	}
	store, err := storage.Open(ctx, stack.DSN)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	defer store.Close()
	for _, fn := range local.SampleFunctions {
		recs, err := store.Invocations(ctx, storage.InvocationFilter{FunctionName: fn, Limit: 1000})
		if err != nil {
			t.Fatalf("read %s invocations: %v", fn, err)
		}
		if len(recs) != n {
			t.Errorf("%s: %d invocation records, want %d: sampling must not touch them", fn, len(recs), n)
		}
	}
	kept := 0
	for _, c := range calls {
		recs, err := store.Invocations(ctx, storage.InvocationFilter{FunctionName: "orders", RequestIDs: []string{c.RequestID}})
		if err != nil || len(recs) != 1 {
			t.Fatalf("orders record for %s: %v (%d rows)", c.RequestID, err, len(recs))
		}
		spans, err := store.SpansByTraceID(ctx, recs[0].TraceID)
		if err != nil {
			t.Fatalf("read trace %x: %v", recs[0].TraceID, err)
		}
		byFunction := map[string]int{}
		for _, s := range spans {
			byFunction[s.FunctionName]++
		}
		switch {
		case len(spans) == 0:
		case byFunction["orders"] > 0 && byFunction["inventory"] > 0:
			kept++
		default:
			t.Errorf("trace %x stored in part: spans per function %v", recs[0].TraceID, byFunction)
		}
	}
	t.Logf("%d of %d traces kept at rate 0.5", kept, n)
}
