package local_test

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/emulator"
	"github.com/lambdascope/lambdascope/internal/testload"
)

// lateRE finds the late runtimeDone count of an extension's shutdown line.
var lateRE = regexp.MustCompile(`msg="extension shut down".* runtime_done_late=(\d+)`)

// TestRuntimeDoneLostUnderTheEmulator is the fault test of the wait before
// /event/next with real processes: the emulator drops platform.runtimeDone
// of some invocations of a function whose extension flushes at the end of
// every invocation. The time the extension adds to each invocation, from
// the function's response to the end the emulator bills, stays within the
// bound (the stream quiet for the 25 ms buffering window plus 25 ms, with
// slack for the machine's load), instead of reaching the function's
// timeout, and the late events are counted. The function runs without the
// wrapper: through the Runtime API proxy the extension sees the answer and
// does not wait for runtimeDone. An invocation may find its environment
// still busy with the previous one's end and start another (the platform
// scales out): the late events are counted over every environment.
func TestRuntimeDoneLostUnderTheEmulator(t *testing.T) {
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bins, err := local.Build(t.Context(), root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The fault is a wait until the function's timeout: far beyond the
	// bound, however loaded the machine.
	const timeout = time.Minute
	var out bytes.Buffer
	em, err := emulator.New(emulator.Config{
		Functions: []emulator.FunctionConfig{{
			Name: "inventory", Handler: bins.Program("inventory"), Extensions: []string{bins.Extension},
			Timeout: timeout, Env: map[string]string{"LAMBDASCOPE_FLUSH": "end"},
		}},
		Output:           &syncWriter{w: &out},
		InitTimeout:      testload.Scale(10*time.Second, time.Minute),
		ShutdownDeadline: testload.Scale(2*time.Second, 30*time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := em.Shutdown(ctx); err != nil {
		t.Errorf("emulator shutdown: %v", err)
	}
	// The bound is 50 ms; the slack absorbs a busy test machine, never
	// up to the timeout the fault would reach.
	bound := 50*time.Millisecond + testload.Scale(500*time.Millisecond, timeout/4)
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
	late, shutdowns := 0, 0
	for _, m := range lateRE.FindAllStringSubmatch(out.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		late += n
		shutdowns++
	}
	// Every dropped event is counted late. On a loaded machine one that
	// was not dropped can come after the agent ended its invocation too
	// (it ends an invocation whose telemetry went quiet): counted, never
	// more than there were invocations.
	if shutdowns == 0 || late < len(dropped) || late > len(results) {
		t.Errorf("the extensions' shutdown lines (%d) count %d late runtimeDone events, want %d to %d:\n%s", shutdowns, late, len(dropped), len(results), out.String())
	}
}
