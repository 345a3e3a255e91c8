package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/emulator"
	"github.com/lambdascope/lambdascope/internal/testload"
	"github.com/lambdascope/lambdascope/storage"
)

// TestFaults runs the real stack through the faults a deployment meets and
// checks what lands in ClickHouse: a function timeout, a runtime killed
// mid-invocation, the collector down during a burst and back, and SHUTDOWN
// right after a burst. Every invocation the platform reported must be stored
// exactly once, with the status the platform gave it, and the traces of the
// successful invocations must be whole, without a span stored twice.
func TestFaults(t *testing.T) {
	ctx := testContext(t)
	// The faults are the collector's and the extension's; orders sends
	// nothing to the queue, so shipping stays out of it.
	stack := startStack(t, ctx, map[string]string{"ORDERS_QUEUE": ""})

	// wantStatus is the status each faulted invocation must be stored with;
	// healthy holds the orders invocations whose traces must be whole.
	wantStatus := map[string]string{}
	var healthy []local.Call

	// (c) A function timeout: the environment is discarded and the
	// invocation is reported with status timeout.
	if err := stack.Emulator.SetTimeout("orders", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	timedOut := run(t, ctx, stack, local.Workload{Invocations: 1})[0]
	if timedOut.FunctionError != "Unhandled" {
		t.Fatalf("timed-out call: function error %q, want Unhandled", timedOut.FunctionError)
	}
	wantStatus[timedOut.RequestID] = "timeout"
	if err := stack.Emulator.SetTimeout("orders", 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// (d) SIGKILL of the runtime during an invocation: an error status,
	// and the next invocation is a cold start (in the reset environment's
	// /tmp).
	if err := stack.Emulator.KillRuntimeDuringNextInvoke("orders"); err != nil {
		t.Fatal(err)
	}
	killed := run(t, ctx, stack, local.Workload{Invocations: 1})[0]
	if killed.FunctionError != "Unhandled" {
		t.Fatalf("killed call: function error %q, want Unhandled", killed.FunctionError)
	}
	wantStatus[killed.RequestID] = "error"
	after := run(t, ctx, stack, local.Workload{Invocations: 1})[0]
	if !after.ColdStart {
		t.Errorf("the invocation after the runtime was killed was warm; its environment should have been discarded")
	}
	healthy = append(healthy, after)

	store, err := storage.Open(ctx, stack.DSN)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	defer store.Close()

	// The resets of (c) and (d) ship the two records at their SHUTDOWN.
	// One fault at a time: they are stored before the collector goes
	// down. (A reset while the collector is down is the spool's case,
	// TestResetSpoolReplayed.)
	waitForRecords(ctx, t, store, "orders", wantStatus)

	// (a) The collector is down for a burst, then back.
	if err := stack.StopCollector(); err != nil {
		t.Fatalf("stop collector: %v", err)
	}
	healthy = append(healthy, run(t, ctx, stack, local.Workload{Invocations: 10, Concurrency: 2})...)
	if err := stack.RestartCollector(ctx); err != nil {
		t.Fatalf("restart collector: %v", err)
	}
	healthy = append(healthy, run(t, ctx, stack, local.Workload{Invocations: 4, Concurrency: 2})...)

	// (b) SHUTDOWN right after a burst.
	healthy = append(healthy, run(t, ctx, stack, local.Workload{Invocations: 10, Concurrency: 2})...)
	if err := stack.StopFunctions(ctx); err != nil {
		t.Fatalf("stop functions: %v", err)
	}

	for _, c := range healthy {
		if c.RequestID == "" || c.FunctionError != "" || c.StatusCode != 200 {
			t.Fatalf("orders call %d: request %q, function error %q, status %d", c.Index, c.RequestID, c.FunctionError, c.StatusCode)
		}
	}

	reports := stack.Emulator.Reports()
	for _, fn := range local.SampleFunctions {
		assertRecordsOnce(ctx, t, store, fn, reports)
	}
	for id, want := range wantStatus {
		recs, err := store.Invocations(ctx, storage.InvocationFilter{FunctionName: "orders", RequestIDs: []string{id}})
		if err != nil || len(recs) != 1 {
			t.Fatalf("orders record for %s: %v (%d rows)", id, err, len(recs))
		}
		if recs[0].Status != want {
			t.Errorf("orders %s: status %q (error type %q), want %q", id, recs[0].Status, recs[0].ErrorType, want)
		}
	}
	for _, c := range healthy {
		assertWholeTrace(ctx, t, store, c.RequestID)
	}
}

// recordsWait bounds a wait for records that should already be on their
// way: a record missing after it is lost, and waiting out the whole test
// deadline would leave the package's later tests no time.
func recordsWait(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, testload.Scale(time.Minute, 5*time.Minute))
}

// waitForRecords waits until the invocations of fn named in ids are
// stored, for recordsWait at most.
func waitForRecords(ctx context.Context, t *testing.T, store *storage.Store, fn string, ids map[string]string) {
	t.Helper()
	ctx, cancel := recordsWait(ctx)
	defer cancel()
	want := make([]string, 0, len(ids))
	for id := range ids {
		want = append(want, id)
	}
	for {
		recs, err := store.Invocations(ctx, storage.InvocationFilter{FunctionName: fn, RequestIDs: want})
		if err != nil {
			t.Fatalf("read %s invocations %v: %v", fn, want, err)
		}
		if len(recs) >= len(want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %d of the records of %v stored after waiting for them", fn, len(recs), want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// assertRecordsOnce checks that every invocation of fn the emulator
// reported is stored exactly once, with the reported status and billed
// duration, and that nothing else is stored.
func assertRecordsOnce(ctx context.Context, t *testing.T, store *storage.Store, fn string, reports map[string]emulator.Report) {
	t.Helper()
	want := map[string]emulator.Report{}
	for id, r := range reports {
		if r.Function == fn {
			want[id] = r
		}
	}
	// The collector writes a moment after it answered: wait until every
	// record is there, for recordsWait at most.
	wctx, cancel := recordsWait(ctx)
	defer cancel()
	var recs []storage.InvocationRecord
	for {
		var err error
		recs, err = store.Invocations(ctx, storage.InvocationFilter{FunctionName: fn, Limit: 10000})
		if err != nil {
			t.Fatalf("read %s invocations: %v", fn, err)
		}
		if len(recs) >= len(want) {
			break
		}
		select {
		case <-wctx.Done():
			t.Errorf("%s: %d of %d invocation records stored after waiting for them", fn, len(recs), len(want))
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.RequestID]++
		rep, ok := want[r.RequestID]
		if !ok {
			t.Errorf("%s: record for request %s that the emulator never reported", fn, r.RequestID)
			continue
		}
		if r.Status != rep.Status {
			t.Errorf("%s %s: status %q stored, the platform reported %q", fn, r.RequestID, r.Status, rep.Status)
		}
		if r.BilledDurationMs != rep.BilledDurationMs {
			t.Errorf("%s %s: billed %d ms stored, the platform billed %d ms", fn, r.RequestID, r.BilledDurationMs, rep.BilledDurationMs)
		}
	}
	for id := range want {
		switch n := seen[id]; n {
		case 1:
		case 0:
			t.Errorf("%s: invocation %s (status %s) never reached ClickHouse", fn, id, want[id].Status)
		default:
			t.Errorf("%s: invocation %s stored %d times", fn, id, n)
		}
	}
}

// assertWholeTrace checks that the trace of one orders invocation holds
// one root, every other span under a parent in the trace, the inventory
// call under an orders span, and no span stored twice.
func assertWholeTrace(ctx context.Context, t *testing.T, store *storage.Store, requestID string) {
	t.Helper()
	recs, err := store.Invocations(ctx, storage.InvocationFilter{FunctionName: "orders", RequestIDs: []string{requestID}})
	if err != nil || len(recs) != 1 {
		t.Errorf("orders record for %s: %v (%d rows)", requestID, err, len(recs))
		return
	}
	traceID := recs[0].TraceID
	if traceID == ([16]byte{}) {
		t.Errorf("orders record %s has no trace ID", requestID)
		return
	}
	spans, err := store.SpansByTraceID(ctx, traceID)
	if err != nil {
		t.Fatalf("read trace %x: %v", traceID, err)
	}
	byID := map[[8]byte]storage.SpanRecord{}
	for _, s := range spans {
		if _, dup := byID[s.SpanID]; dup {
			t.Errorf("trace %x: span %x (%s) stored twice", traceID, s.SpanID, s.Name)
		}
		byID[s.SpanID] = s
	}
	roots, crossLinks := 0, 0
	for _, s := range spans {
		if s.ParentSpanID == ([8]byte{}) {
			roots++
			continue
		}
		p, ok := byID[s.ParentSpanID]
		if !ok {
			t.Errorf("trace %x of %s: span %q (%s) has a parent %x that is not in the trace", traceID, requestID, s.Name, s.FunctionName, s.ParentSpanID)
			continue
		}
		if s.FunctionName == "inventory" && p.FunctionName == "orders" {
			crossLinks++
		}
	}
	if roots != 1 || crossLinks == 0 {
		t.Errorf("trace %x of %s: %d roots and %d inventory spans under orders, want 1 and at least 1 (%d spans)", traceID, requestID, roots, crossLinks, len(spans))
	}
}
