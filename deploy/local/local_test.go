package local_test

import (
	"encoding/hex"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/storage"
)

// TestEndToEnd does what `make demo` does and checks what lands in
// ClickHouse: every invocation's record, with the emulator's billed
// duration, and traces whose spans link across the two functions.
func TestEndToEnd(t *testing.T) {
	ctx := testContext(t)
	stack := startStack(t, ctx, nil)

	const n = 12
	calls, err := stack.RunWorkload(ctx, local.Workload{Invocations: n, Concurrency: 2, FailEvery: 4}, nil)
	if err != nil {
		t.Fatalf("workload: %v", err)
	}
	reports := map[string]bool{}
	cold := 0
	for _, c := range calls {
		if c.RequestID == "" || c.FunctionError != "" {
			t.Fatalf("orders call %d: request %q, function error %q", c.Index, c.RequestID, c.FunctionError)
		}
		if want := map[bool]int{false: 200, true: 502}[c.FailInventory]; c.StatusCode != want {
			t.Errorf("orders call %d (fail inventory %v): status %d, want %d", c.Index, c.FailInventory, c.StatusCode, want)
		}
		reports[c.RequestID] = true
		if c.ColdStart {
			cold++
		}
	}
	if cold == 0 {
		t.Fatal("no orders invocation was a cold start")
	}
	if err := stack.StopFunctions(ctx); err != nil {
		t.Fatalf("stop functions: %v", err)
	}

	store, err := storage.Open(ctx, stack.DSN)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	defer store.Close()

	emulated := stack.Emulator.Reports()
	for _, fn := range local.SampleFunctions {
		recs, err := store.Invocations(ctx, storage.InvocationFilter{FunctionName: fn, Limit: 1000})
		if err != nil {
			t.Fatalf("read %s invocations: %v", fn, err)
		}
		if len(recs) != n {
			t.Fatalf("%s: %d invocation records in ClickHouse, want %d (one per invocation)", fn, len(recs), n)
		}
		seen := map[string]bool{}
		coldRecs, failedRecs := 0, 0
		for _, r := range recs {
			// inventory fails every fourth reservation with a real error
			// that aws-lambda-go reports to /error, through the layer's
			// Runtime API proxy: the record holds its type and message, and
			// the function's own type (fmt.Errorf's *errors.errorString,
			// named by aws-lambda-go in the body) beside the platform's.
			if r.Status == "error" {
				failedRecs++
				if fn != "inventory" || r.ErrorType == "" || !strings.Contains(r.ErrorMessage, "insufficient stock") {
					t.Errorf("%s %s: failed with type %q, message %q; want inventory's \"insufficient stock\"", fn, r.RequestID, r.ErrorType, r.ErrorMessage)
				}
				if r.FunctionErrorType != "errorString" {
					t.Errorf("%s %s: the function's error type %q, want errorString (the platform's is %q)", fn, r.RequestID, r.FunctionErrorType, r.ErrorType)
				}
			} else if r.ErrorMessage != "" || r.FunctionErrorType != "" {
				t.Errorf("%s %s: status %q with error message %q, type %q", fn, r.RequestID, r.Status, r.ErrorMessage, r.FunctionErrorType)
			}
			if seen[r.RequestID] {
				t.Errorf("%s: request %s stored twice", fn, r.RequestID)
			}
			seen[r.RequestID] = true
			rep, ok := emulated[r.RequestID]
			if !ok {
				t.Errorf("%s: record for request %s that the emulator never reported", fn, r.RequestID)
				continue
			}
			if r.BilledDurationMs != rep.BilledDurationMs {
				t.Errorf("%s %s: billed %d ms in ClickHouse, emulator billed %d ms", fn, r.RequestID, r.BilledDurationMs, rep.BilledDurationMs)
			}
			if r.MemorySizeMB == 0 || r.MaxMemoryUsedMB == 0 {
				t.Errorf("%s %s: memory size %d / used %d", fn, r.RequestID, r.MemorySizeMB, r.MaxMemoryUsedMB)
			}
			if r.ColdStart {
				coldRecs++
			}
			if fn == "orders" && !reports[r.RequestID] {
				t.Errorf("orders record %s matches no call the workload made", r.RequestID)
			}
		}
		if coldRecs == 0 {
			t.Errorf("%s: no invocation record marked as a cold start", fn)
		}
		if want := map[string]int{"inventory": n / 4}[fn]; failedRecs != want {
			t.Errorf("%s: %d failed invocation records, want %d", fn, failedRecs, want)
		}
		if fn == "orders" && coldRecs != cold {
			t.Errorf("orders: %d cold-start records, the emulator reported %d cold starts", coldRecs, cold)
		}
	}

	// Every orders invocation's trace holds spans of both functions, and
	// inventory's invocation span is a child of a span of orders. The
	// requests carry no trace context, so the inferred API Gateway span
	// ("POST /orders") is the root of the trace orders' SDK started.
	// inventory runs through the wrapper too; orders invokes it directly
	// (the trace context in the event), so no span is inferred for it: its
	// invocation span is under orders' client span.
	wantSpans := map[string][]string{
		"orders":    {"INSERT shop.orders", "POST /orders", "inventory invoke", "lambda.invoke", "lambda.runtime_overhead", "orders", "validate order"},
		"inventory": {"inventory", "lambda.invoke", "lambda.runtime_overhead", "reserve stock"},
	}
	var firstTrace [16]byte
	for _, c := range calls {
		recs, err := store.Invocations(ctx, storage.InvocationFilter{FunctionName: "orders", RequestIDs: []string{c.RequestID}})
		if err != nil || len(recs) != 1 {
			t.Fatalf("orders record for %s: %v (%d rows)", c.RequestID, err, len(recs))
		}
		traceID := recs[0].TraceID
		if traceID == ([16]byte{}) {
			t.Fatalf("orders record %s has no trace ID", c.RequestID)
		}
		if firstTrace == ([16]byte{}) {
			firstTrace = traceID
		}
		spans, err := store.SpansByTraceID(ctx, traceID)
		if err != nil {
			t.Fatalf("read trace %x: %v", traceID, err)
		}
		byID := map[[8]byte]storage.SpanRecord{}
		for _, s := range spans {
			if _, dup := byID[s.SpanID]; dup {
				t.Errorf("trace %x: span %x stored twice", traceID, s.SpanID)
			}
			byID[s.SpanID] = s
		}
		roots, crossLinks, errored := 0, 0, 0
		for _, s := range spans {
			if s.ParentSpanID == ([8]byte{}) {
				roots++
				continue
			}
			parent, ok := byID[s.ParentSpanID]
			if !ok {
				t.Errorf("trace %x: span %q (%s) has a parent %x that is not in the trace", traceID, s.Name, s.FunctionName, s.ParentSpanID)
				continue
			}
			if s.FunctionName == "inventory" && parent.FunctionName == "orders" {
				crossLinks++
			}
			if s.StatusCode == 2 {
				errored++
			}
		}
		if roots != 1 {
			t.Errorf("trace %x: %d root spans, want 1", traceID, roots)
		}
		// The span count: every span each function makes, once, plus
		// lambda.init for a cold start.
		names := map[string][]string{}
		inits := map[string]int{}
		for _, s := range spans {
			if s.Name == "lambda.init" {
				inits[s.FunctionName]++
				continue
			}
			names[s.FunctionName] = append(names[s.FunctionName], s.Name)
		}
		for fn, want := range wantSpans {
			if fn == "orders" && !c.FailInventory {
				// A placed order is sent to the orders-placed queue.
				want = slices.Sorted(slices.Values(append(slices.Clone(want), "send orders-placed")))
			}
			got := slices.Sorted(slices.Values(names[fn]))
			if !slices.Equal(got, want) {
				t.Errorf("trace %x: %s spans %q, want %q", traceID, fn, got, want)
			}
			if inits[fn] > 1 {
				t.Errorf("trace %x: %d lambda.init spans of %s", traceID, inits[fn], fn)
			}
		}
		if (inits["orders"] == 1) != c.ColdStart {
			t.Errorf("trace %x: %d lambda.init spans of orders for a call with cold start %v", traceID, inits["orders"], c.ColdStart)
		}
		// shipping joins the trace whose message led its batch
		// (TestTriggersInTheTrace checks how).
		delete(names, "shipping")
		if len(names) != len(wantSpans) {
			t.Errorf("trace %x: spans of functions %v, want orders and inventory (and shipping) only", traceID, slices.Sorted(maps.Keys(names)))
		}
		if crossLinks != 1 {
			t.Errorf("trace %x: %d inventory spans with an orders parent, want 1", traceID, crossLinks)
		}
		if c.FailInventory && errored == 0 {
			t.Errorf("trace %x: inventory failed but no span has status ERROR", traceID)
		}
	}

	// The CLI reads the same trace back.
	cmd := exec.CommandContext(ctx, stack.Bin.CLI, "trace", hex.EncodeToString(firstTrace[:]))
	cmd.Env = append(os.Environ(), "LAMBDASCOPE_CLICKHOUSE_DSN="+stack.DSN)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lambdascope trace: %v\n%s", err, out)
	}
	for _, want := range []string{"orders", "inventory"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lambdascope trace output does not mention %s:\n%s", want, out)
		}
	}
}
