package local_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/internal/testload"
)

// startStack starts the whole local stack for a test, with env added to
// every function's environment, and stops it when the test ends; when the
// test failed, the collector's log and the functions' output are logged.
func startStack(t *testing.T, ctx context.Context, env map[string]string) *local.Stack {
	t.Helper()
	stack, _ := startStackWithOutput(t, ctx, env)
	return stack
}

// startStackWithOutput is startStack that also returns what the
// functions and their extensions print.
func startStackWithOutput(t *testing.T, ctx context.Context, env map[string]string) (*local.Stack, *syncWriter) {
	t.Helper()
	fnOut := &syncWriter{w: &bytes.Buffer{}}
	stack := startStackWith(t, ctx, local.Options{
		FunctionOutput: fnOut,
		FunctionEnv:    env,
		// Lambda's limits on an unloaded machine, wider on a loaded one:
		// what these tests assert is that nothing is lost, not how fast
		// a starved process gets through INIT or SHUTDOWN.
		InitTimeout:      testload.Scale(10*time.Second, time.Minute),
		ShutdownDeadline: testload.Scale(2*time.Second, 30*time.Second),
	}, fnOut)
	return stack, fnOut
}

// startStackWith starts a stack with o in a directory of the test's own,
// its logs discarded, and stops it when the test ends; a failed test
// prints the collector's log and, when fnOut is not nil, what the
// functions printed.
func startStackWith(t *testing.T, ctx context.Context, o local.Options, fnOut *syncWriter) *local.Stack {
	t.Helper()
	o.WorkDir = t.TempDir()
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	stack, err := local.Start(ctx, o)
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
			if fnOut != nil {
				t.Logf("functions output:\n%s", fnOut.String())
			}
		}
	})
	return stack
}

// testContext bounds a test of the stack by the test's own deadline (go
// test -timeout), not by a fixed time a loaded machine may need more than.
func testContext(t *testing.T) context.Context {
	return testload.Context(t, 30*time.Second, 30*time.Minute)
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
