package local_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/lambdascope/lambdascope/deploy/local"
)

// startStack starts the whole local stack for a test, with env added to
// every function's environment, and stops it when the test ends; when the
// test failed, the collector's log and the functions' output are logged.
func startStack(t *testing.T, ctx context.Context, env map[string]string) *local.Stack {
	t.Helper()
	fnOut := &syncWriter{w: &bytes.Buffer{}}
	stack, err := local.Start(ctx, local.Options{
		WorkDir:        t.TempDir(),
		Log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		FunctionOutput: fnOut,
		FunctionEnv:    env,
	})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(func() {
		if err := stack.Stop(context.Background()); err != nil {
			t.Errorf("stop stack: %v", err)
		}
		if t.Failed() {
			b, _ := os.ReadFile(stack.CollectorLog())
			t.Logf("collector log:\n%s", b)
			t.Logf("functions output:\n%s", fnOut.String())
		}
	})
	return stack
}

// run runs a workload on stack and fails the test on an error.
func run(t *testing.T, ctx context.Context, stack *local.Stack, w local.Workload) []local.Call {
	t.Helper()
	calls, err := stack.RunWorkload(ctx, w, nil)
	if err != nil {
		t.Fatalf("workload: %v", err)
	}
	return calls
}
