package rie_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/rie"
	"github.com/lambdascope/lambdascope/extension"
)

// TestManagedInstancesFunctionErrorType runs the Go function under AWS's
// emulator in Managed Instances mode, packaged with the layer's wrapper as
// its bootstrap, so that its answers pass the extension's Runtime API
// proxy: the failed call's record holds the platform's error type (the
// Lambda-Runtime-Function-Error-Type header the function sent,
// Function.CallFailed) and, beside it, the function's own (its /error
// body's errorType, CallFailed); the others hold neither.
func TestManagedInstancesFunctionErrorType(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	fn := functionName("rie-mi-errtype")
	wrapper := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(wrapper, []byte(extension.Wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	sb, out := sandboxOutput(t, ctx, rie.Options{FunctionName: fn, Bootstrap: wrapper,
		TaskFiles: map[string]string{"bootstrap.real": shared.goFn}, Timeout: 10 * time.Second, MaxConcurrency: 2})
	var calls []*call
	for i := range 3 {
		c := newCall(fmt.Sprintf("errtype-%d", i), 1)
		c.fail = i == 1
		c.invoke(ctx, sb)
		c.checkAnswer(t)
		calls = append(calls, c)
	}
	if err := sb.Shutdown(ctx); err != nil {
		t.Errorf("shut down: %v", err)
	}
	checkRecords(t, ctx, fn, calls)
	if t.Failed() {
		t.Logf("emulator, runtime and extension output:\n%s", out.String())
		return
	}
	var recs []invocationOut
	cli(t, ctx, &recs, "invocations", "--function", fn, "--limit", "100")
	byID := map[string]invocationOut{}
	for _, r := range recs {
		byID[r.RequestID] = r
	}
	for _, c := range calls {
		r := byID[c.requestID]
		want := map[bool][2]string{false: {"", ""}, true: {"Function.CallFailed", "CallFailed"}}[c.fail]
		if got := [2]string{r.ErrorType, r.FunctionErrorType}; got != want {
			t.Errorf("%s: error type %q and the function's %q, want %q", c.name, got[0], got[1], want)
		}
	}
	// --error-type finds the failed call by either type.
	for _, typ := range []string{"CallFailed", "Function.CallFailed"} {
		var got []invocationOut
		cli(t, ctx, &got, "invocations", "--function", fn, "--error-type", typ)
		if len(got) != 1 || got[0].RequestID != calls[1].requestID {
			t.Errorf("invocations --error-type %s = %+v, want %s alone", typ, got, calls[1].requestID)
		}
	}
}
