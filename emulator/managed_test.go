package emulator_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/emulator"
)

// nodeHandler is an uninstrumented Node.js handler: it answers with what
// it saw, logs a line and fails when asked.
const nodeHandler = `exports.handler = async (event, context) => {
  console.log('event', JSON.stringify(event));
  if (event.fail) throw new TypeError('asked to fail');
  return {
    requestId: context.awsRequestId,
    arn: context.invokedFunctionArn,
    remaining: context.getRemainingTimeInMillis(),
    handler: process.env._HANDLER,
    taskRoot: process.env.LAMBDA_TASK_ROOT,
    executionEnv: process.env.AWS_EXECUTION_ENV,
    wrapped: process.env.WRAPPED_ARGS || '',
  };
};
`

// startNode runs a Node.js function in the nodejs20.x managed runtime with
// env, and returns the emulator and its output.
func startNode(t *testing.T, env map[string]string) (*emulator.Emulator, *syncBuffer) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is needed (deploy/scripts/install-deps.sh installs it): %v", err)
	}
	code := t.TempDir()
	if err := os.WriteFile(filepath.Join(code, "index.js"), []byte(nodeHandler), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, func(c *emulator.Config) {
		c.Functions = []emulator.FunctionConfig{{Name: "node", Runtime: "nodejs20.x", Handler: "index.handler",
			CodeDir: code, Timeout: 5 * time.Second, Env: env}}
	})
	return s.em, s.out
}

type nodeAnswer struct {
	RequestID, ARN, Handler, TaskRoot, ExecutionEnv, Wrapped string
	Remaining                                                int64
}

// TestManagedRuntimeThroughExecWrapper runs a Node.js function as Lambda
// runs a managed runtime: without AWS_LAMBDA_EXEC_WRAPPER the runtime
// starts directly; with it, the wrapper is started with the runtime's
// command line (the interpreter and its arguments) and runs it.
func TestManagedRuntimeThroughExecWrapper(t *testing.T) {
	wrapper := filepath.Join(t.TempDir(), "wrapper")
	// The wrapper hands its arguments to the runtime in the environment,
	// then runs them, as the layer's wrapper does.
	script := "#!/bin/sh\nWRAPPED_ARGS=\"$*\"\nexport WRAPPED_ARGS\nexec \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"direct", nil},
		{"wrapped", map[string]string{"AWS_LAMBDA_EXEC_WRAPPER": wrapper}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em, out := startNode(t, tc.env)
			res := invoke(t, em, "node", map[string]any{"hello": "world"})
			if res.FunctionError != "" {
				t.Fatalf("function error %s: %s\n%s", res.FunctionError, res.Payload, out.String())
			}
			var a nodeAnswer
			if err := json.Unmarshal(res.Payload, &a); err != nil {
				t.Fatalf("decode %s: %v", res.Payload, err)
			}
			if a.RequestID != res.RequestID || !strings.HasSuffix(a.ARN, ":function:node") || a.Remaining <= 0 || a.Remaining > 5000 {
				t.Errorf("context: %+v (request %s)", a, res.RequestID)
			}
			if a.Handler != "index.handler" || a.ExecutionEnv != "AWS_Lambda_nodejs20.x" || a.TaskRoot == "" {
				t.Errorf("environment: %+v", a)
			}
			if tc.env == nil && a.Wrapped != "" {
				t.Errorf("runtime went through a wrapper without AWS_LAMBDA_EXEC_WRAPPER: %q", a.Wrapped)
			}
			if tc.env != nil {
				args := strings.Fields(a.Wrapped)
				if len(args) < 2 || filepath.Base(args[0]) != "node" || !strings.HasSuffix(args[len(args)-1], "/index.mjs") {
					t.Errorf("wrapper got %q, want the node command line ending in the runtime's index.mjs", a.Wrapped)
				}
			}
			// console.log in Lambda's text format, under the request. The
			// runtime's output is read beside the answer, so it may come a
			// little after it.
			line := "\t" + res.RequestID + "\tINFO\tevent {\"hello\":\"world\"}"
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), line) && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(out.String(), line) {
				t.Errorf("no log line in Lambda's format for %s:\n%s", res.RequestID, out.String())
			}
			res = invoke(t, em, "node", map[string]any{"fail": true})
			var doc struct{ ErrorType, ErrorMessage string }
			_ = json.Unmarshal(res.Payload, &doc)
			if res.FunctionError != "Unhandled" || doc.ErrorType != "TypeError" || doc.ErrorMessage != "asked to fail" {
				t.Errorf("failing invocation: %s %s", res.FunctionError, res.Payload)
			}
		})
	}
}

// TestManagedRuntimeExecWrapperMissing: a wrapper that does not exist
// fails the INIT phase, as Lambda's runtime bootstrap does (exit 127).
func TestManagedRuntimeExecWrapperMissing(t *testing.T) {
	em, out := startNode(t, map[string]string{"AWS_LAMBDA_EXEC_WRAPPER": "/nonexistent/wrapper"})
	b, _ := json.Marshal(map[string]any{})
	res, err := em.Invoke(t.Context(), "node", b)
	if err == nil && res.FunctionError == "" {
		t.Fatalf("invocation succeeded without its wrapper: %s", res.Payload)
	}
	eventually(t, "the runtime's message", func() bool {
		return strings.Contains(out.String(), "/nonexistent/wrapper: does not exist")
	})
}
