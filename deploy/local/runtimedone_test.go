package local_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/emulator"
)

// TestRuntimeDoneLostUnderTheEmulator is the fault test of the wait before
// /event/next with real processes: the emulator drops platform.runtimeDone
// of some invocations of a function whose extension flushes at the end of
// every invocation. The time the extension adds to each invocation, from
// the function's response to the end the emulator bills, stays within the
// bound (the stream quiet for the 25 ms buffering window plus 25 ms),
// instead of reaching the function's 10 s timeout, and the late events are
// counted. The function runs without the wrapper: through the Runtime API
// proxy the extension sees the answer and does not wait for runtimeDone.
func TestRuntimeDoneLostUnderTheEmulator(t *testing.T) {
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bins, err := local.Build(t.Context(), root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	em, err := emulator.New(emulator.Config{
		Functions: []emulator.FunctionConfig{{
			Name: "inventory", Handler: bins.Program("inventory"), Extensions: []string{bins.Extension},
			Timeout: 10 * time.Second, Env: map[string]string{"LAMBDASCOPE_FLUSH": "end"},
		}},
		Output: &syncWriter{w: &out},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The bound is 50 ms; the slack absorbs a busy test machine.
	const bound = 50*time.Millisecond + 500*time.Millisecond
	dropped := map[int]bool{1: true, 2: true}
	var results []*emulator.InvokeResult
	for i := range 4 {
		if dropped[i] {
			if err := em.DropRuntimeDoneOfNextInvoke("inventory"); err != nil {
				t.Fatal(err)
			}
		}
		res, err := em.Invoke(t.Context(), "inventory", []byte(`{"sku":"SKU-001","qty":1}`))
		if err != nil {
			t.Fatalf("invoke %d: %v\n%s", i, err, out.String())
		}
		if res.FunctionError != "" {
			t.Fatalf("invocation %d failed: %s\n%s", i, res.Payload, out.String())
		}
		results = append(results, res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := em.Shutdown(ctx); err != nil {
		t.Errorf("emulator shutdown: %v", err)
	}
	reports := em.Reports()
	for i, res := range results {
		rep, ok := reports[res.RequestID]
		if !ok {
			t.Errorf("invocation %d: no report", i)
			continue
		}
		added := time.Duration(rep.DurationMs*float64(time.Millisecond)) - res.Duration
		t.Logf("invocation %d (runtimeDone dropped: %v): %v after the response", i, dropped[i], added.Round(time.Millisecond))
		if added > bound {
			t.Errorf("invocation %d (runtimeDone dropped: %v): billed %v after the response, want at most %v", i, dropped[i], added, bound)
		}
	}
	if !strings.Contains(out.String(), "runtime_done_late=2") {
		t.Errorf("the extension's shutdown line does not count 2 late runtimeDone events:\n%s", out.String())
	}
}
