package local_test

import (
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/storage"
)

// TestResetSpoolReplayed kills the orders runtime during an invocation
// while the collector is down: the extension of the reset environment
// spools the invocation's record at SHUTDOWN under the sandbox's /tmp,
// which Lambda keeps for the next INIT, and the extension of the next
// environment replays it once the collector is back. The record must be
// stored exactly once, with status "error".
func TestResetSpoolReplayed(t *testing.T) {
	ctx := testContext(t)
	stack, fnOut := startStackWithOutput(t, ctx, map[string]string{"ORDERS_QUEUE": ""})

	// A warm environment first, with the collector up.
	if c := run(t, ctx, stack, local.Workload{Invocations: 1})[0]; c.FunctionError != "" || c.StatusCode != 200 {
		t.Fatalf("first orders call: function error %q, status %d", c.FunctionError, c.StatusCode)
	}
	// Its environment idle before the next call: one still finishing its
	// invocation is waited for only a moment (the emulator's hand-off
	// wait), and on a loaded machine the call to be killed would get a
	// new environment, leaving this warm one for the call after the reset.
	if err := stack.Emulator.WaitIdle(ctx, "orders"); err != nil {
		t.Fatal(err)
	}

	if err := stack.StopCollector(); err != nil {
		t.Fatalf("stop collector: %v", err)
	}
	if err := stack.Emulator.KillRuntimeDuringNextInvoke("orders"); err != nil {
		t.Fatal(err)
	}
	killed := run(t, ctx, stack, local.Workload{Invocations: 1})[0]
	if killed.FunctionError != "Unhandled" {
		t.Fatalf("killed call: function error %q, want Unhandled", killed.FunctionError)
	}
	// The reset's SHUTDOWN is over: the extension, unable to reach the
	// collector, has spooled what it held, and the environment's /tmp is
	// kept.
	if err := stack.Emulator.WaitIdle(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	const spooledLine = "could not send to the collector before shutdown: spooled"
	if !hasExtensionLine(fnOut.String(), "orders", spooledLine) {
		t.Fatalf("no orders extension logged %q at the reset's SHUTDOWN", spooledLine)
	}
	st, err := stack.Emulator.TmpStats("orders")
	if err != nil {
		t.Fatal(err)
	}
	if st.Kept != 1 || st.Reused != 0 {
		t.Fatalf("orders /tmp after the reset: %+v, want one kept, none reused yet", st)
	}

	if err := stack.RestartCollector(ctx); err != nil {
		t.Fatalf("restart collector: %v", err)
	}
	after := run(t, ctx, stack, local.Workload{Invocations: 1})[0]
	if after.FunctionError != "" || after.StatusCode != 200 {
		t.Fatalf("orders call after the reset: function error %q, status %d", after.FunctionError, after.StatusCode)
	}
	if !after.ColdStart {
		t.Errorf("the orders call after the reset was warm; the reset environment should have run INIT again")
	}
	if st, _ := stack.Emulator.TmpStats("orders"); st.Reused != 1 {
		t.Errorf("orders /tmp after the next INIT: %+v, want the kept one reused", st)
	}
	const replayLine = "found spooled batches from an earlier run"
	if !hasExtensionLine(fnOut.String(), "orders", replayLine) {
		t.Errorf("the orders extension after the reset did not log %q", replayLine)
	}
	if err := stack.StopFunctions(ctx); err != nil {
		t.Fatalf("stop functions: %v", err)
	}
	if st, _ := stack.Emulator.TmpStats("orders"); st.Kept != 1 || st.Removed != 0 || st.Dropped != 0 {
		t.Errorf("orders /tmp at the end: %+v, want the one kept, reused, nothing removed or dropped", st)
	}

	store, err := storage.Open(ctx, stack.DSN)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	defer store.Close()
	reports := stack.Emulator.Reports()
	if r := reports[killed.RequestID]; r.Status != "error" {
		t.Fatalf("the platform reported the killed invocation as %q, want error", r.Status)
	}
	for _, fn := range local.SampleFunctions {
		assertRecordsOnce(ctx, t, store, fn, reports)
	}
	recs, err := store.Invocations(ctx, storage.InvocationFilter{FunctionName: "orders", RequestIDs: []string{killed.RequestID}})
	if err != nil || len(recs) != 1 {
		t.Fatalf("orders record of the killed invocation %s: %v (%d rows), want one", killed.RequestID, err, len(recs))
	}
	if recs[0].Status != "error" {
		t.Errorf("killed invocation stored with status %q (error type %q), want error", recs[0].Status, recs[0].ErrorType)
	}
}

// hasExtensionLine reports whether an extension of function wrote a line
// containing msg to the functions' output.
func hasExtensionLine(out, function, msg string) bool {
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "["+function+"/") && strings.Contains(line, msg) {
			return true
		}
	}
	return false
}
