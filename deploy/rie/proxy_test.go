package rie_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/rie"
	"github.com/lambdascope/lambdascope/extension"
)

// TestClassicThroughTheProxy runs the Go function under AWS's emulator,
// whose order of start is Lambda's (the runtime starts once every
// extension has registered), packaged for an OS-only runtime with the
// layer's wrapper as its bootstrap and the program as bootstrap.real: the
// runtime talks to the extension's Runtime API proxy from the first
// invocation of the cold start, and every answer is the function's.
func TestClassicThroughTheProxy(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	fn := functionName("rie-classic-proxied")
	sb, out := wrappedGoSandbox(t, ctx, fn, 5*time.Second)
	const invocations = 3
	for i := range invocations {
		c := newCall(fmt.Sprintf("proxied-%d", i), 1)
		c.fail = i == 1
		c.invoke(ctx, sb)
		c.checkAnswer(t)
	}
	if err := sb.Shutdown(ctx); err != nil {
		t.Errorf("shut down: %v", err)
	}
	// Each invocation is a /next and an answer; the last /next is cut by
	// the shutdown.
	m := regexp.MustCompile(`extension shut down.*runtime_api_calls=(\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatal("the agent logged no runtime API calls at shutdown")
	}
	if n, _ := strconv.Atoi(m[1]); n < 2*invocations {
		t.Errorf("the agent relayed %d runtime API calls, want at least %d", n, 2*invocations)
	}
}

// wrappedGoSandbox starts the Go function under AWS's emulator packaged
// for an OS-only runtime with the layer: the wrapper as its bootstrap, the
// program as bootstrap.real.
func wrappedGoSandbox(t *testing.T, ctx context.Context, fn string, timeout time.Duration) (*rie.Sandbox, *syncBuffer) {
	t.Helper()
	wrapper := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(wrapper, []byte(extension.Wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return sandboxOutput(t, ctx, rie.Options{FunctionName: fn, Bootstrap: wrapper,
		TaskFiles: map[string]string{"bootstrap.real": shared.goFn}, Timeout: timeout})
}
