package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/emulator"
)

// TestRuntimeProxyUnderTheEmulator runs one real function four ways under
// the emulator and compares what its callers get: directly (no layer);
// packaged for an OS-only runtime with the layer's wrapper as its
// bootstrap and the agent as its extension, so it runs through the
// Runtime API proxy; the same with the wrapper but no extension (the proxy
// is not up: the runtime uses the real API); and with the layer as Lambda
// starts it (the launcher). Every way gives the same answers, payloads of
// a few bytes to 1 MiB and errors alike, and the proxied and launched ones
// did pass through the proxy.
func TestRuntimeProxyUnderTheEmulator(t *testing.T) {
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	launcher, err := layer.BuildTree(t.Context(), root, filepath.Join(dir, "layer"))
	if err != nil {
		t.Fatal(err)
	}
	// The agent started on its own, as an extension named after its file,
	// binds the proxy before it registers, as the launcher does.
	agentBin, err := os.ReadFile(filepath.Join(dir, "layer", filepath.FromSlash(layer.AgentPath)))
	if err != nil {
		t.Fatal(err)
	}
	agent := filepath.Join(dir, "agent", "lambdascope")
	if err := os.MkdirAll(filepath.Dir(agent), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(agent, agentBin, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "layer", layer.WrapperPath)
	fnDir := filepath.Join(dir, "fn")
	app := filepath.Join(fnDir, "app")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", app, "./emulator/testdata/function")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build function: %v\n%s", err, out)
	}
	// The packaging change documented for OS-only runtimes: a bootstrap
	// that runs the program through the wrapper.
	bootstrap := filepath.Join(fnDir, "bootstrap")
	script := "#!/bin/sh\nexec " + wrapper + ` "$LAMBDA_TASK_ROOT/app" "$@"` + "\n"
	if err := os.WriteFile(bootstrap, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	w := &syncWriter{w: &out}
	fn := func(name, handler string, ext ...string) emulator.FunctionConfig {
		return emulator.FunctionConfig{Name: name, Handler: handler, Extensions: ext, Timeout: 10 * time.Second,
			Env: map[string]string{"LAMBDASCOPE_LOG_LEVEL": "debug"}}
	}
	em, err := emulator.New(emulator.Config{
		Functions: []emulator.FunctionConfig{
			fn("direct", app),
			fn("proxied", bootstrap, agent),
			fn("proxy-not-up", bootstrap),
			fn("launched", bootstrap, launcher),
		},
		Output: w,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := em.Shutdown(ctx); err != nil {
			t.Errorf("emulator shutdown: %v", err)
		}
	}
	t.Cleanup(stop)

	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	requests := []string{
		`{"echo":"hello","env":["AWS_LAMBDA_RUNTIME_API"]}`,
		`{"echo":"` + big + `"}`,
		`{"fail":true}`,
		`{"echo":"é\u2028\u0000 \"quoted\"","log":"a line"}`,
	}
	answers := map[string][]string{}
	apis := map[string]string{}
	for _, name := range []string{"direct", "proxied", "proxy-not-up", "launched"} {
		for i, req := range requests {
			res, err := em.Invoke(t.Context(), name, []byte(req))
			if err != nil {
				t.Fatalf("%s: invoke %d: %v\n%s", name, i, err, w.String())
			}
			answers[name] = append(answers[name], stable(t, res))
			if i == 0 {
				var r struct{ Env map[string]string }
				_ = json.Unmarshal(res.Payload, &r)
				apis[name] = r.Env["AWS_LAMBDA_RUNTIME_API"]
			}
		}
	}
	for _, name := range []string{"proxied", "proxy-not-up", "launched"} {
		if !reflect.DeepEqual(answers[name], answers["direct"]) {
			for i := range answers[name] {
				if answers[name][i] != answers["direct"][i] {
					t.Errorf("%s: answer %d differs from the direct run:\n got %.300s\nwant %.300s", name, i, answers[name][i], answers["direct"][i])
				}
			}
		}
	}
	stop()
	logs := w.String()
	// The proxied and launched functions' runtimes talked to the proxy:
	// the agent counted the calls (4 events, 4 answers, and the last
	// /next, cut by the shutdown).
	for _, name := range []string{"proxied", "launched"} {
		m := regexp.MustCompile(`\[` + name + `/lambdascope\] .*runtime_api_calls=(\d+)`).FindStringSubmatch(logs)
		if m == nil {
			t.Fatalf("the %s function's agent logged no shutdown line:\n%s", name, logs)
		}
		if n, _ := strconv.Atoi(m[1]); n < 8 {
			t.Errorf("the %s function's agent relayed %d runtime API calls, want at least 8:\n%s", name, n, logs)
		}
	}
	t.Logf("runtime API of each function's runtime: %v", apis)
}

// stable is an answer without what differs from one run to the next.
func stable(t *testing.T, res *emulator.InvokeResult) string {
	t.Helper()
	if res.FunctionError != "" {
		return res.FunctionError + " " + string(res.Payload)
	}
	var m map[string]any
	if err := json.Unmarshal(res.Payload, &m); err != nil {
		t.Fatalf("answer %.100q: %v", res.Payload, err)
	}
	for _, k := range []string{"request_id", "arn", "trace_id", "deadline_ms", "env", "pid"} {
		delete(m, k)
	}
	return fmt.Sprint(m)
}

// TestRuntimeProxyAnswerEndsTheWait is the end-of-invocation wait with
// real processes: the emulator drops platform.runtimeDone of every
// invocation of a function whose extension flushes at the end of each
// one. Run through the Runtime API proxy, the function's answer ends the
// wait: nothing is counted late, and the extension's share of each
// invocation's billed time after the response stays below the bound of
// the wait for a lost runtimeDone.
func TestRuntimeProxyAnswerEndsTheWait(t *testing.T) {
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := layer.BuildTree(t.Context(), root, filepath.Join(dir, "layer")); err != nil {
		t.Fatal(err)
	}
	agentBin, err := os.ReadFile(filepath.Join(dir, "layer", filepath.FromSlash(layer.AgentPath)))
	if err != nil {
		t.Fatal(err)
	}
	agent := filepath.Join(dir, "agent", "lambdascope")
	if err := os.MkdirAll(filepath.Dir(agent), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(agent, agentBin, 0o755); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "fn", "app")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", app, "./emulator/testdata/function")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build function: %v\n%s", err, out)
	}
	bootstrap := filepath.Join(dir, "fn", "bootstrap")
	script := "#!/bin/sh\nexec " + filepath.Join(dir, "layer", layer.WrapperPath) + ` "$LAMBDA_TASK_ROOT/app" "$@"` + "\n"
	if err := os.WriteFile(bootstrap, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := &syncWriter{w: &out}
	em, err := emulator.New(emulator.Config{
		Functions: []emulator.FunctionConfig{{Name: "quiet", Handler: bootstrap, Extensions: []string{agent}, Timeout: 10 * time.Second,
			Env: map[string]string{"LAMBDASCOPE_FLUSH": "end", "LAMBDASCOPE_LOG_LEVEL": "debug"}}},
		Output: w,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The wait for a lost runtimeDone is bounded by 50 ms of a quiet
	// telemetry stream; the answer must end it well before.
	const bound = 50 * time.Millisecond
	var results []*emulator.InvokeResult
	for i := range 4 {
		if err := em.DropRuntimeDoneOfNextInvoke("quiet"); err != nil {
			t.Fatal(err)
		}
		res, err := em.Invoke(t.Context(), "quiet", []byte(`{"echo":"x"}`))
		if err != nil || res.FunctionError != "" {
			t.Fatalf("invoke %d: %v %s\n%s", i, err, res.Payload, w.String())
		}
		results = append(results, res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := em.Shutdown(ctx); err != nil {
		t.Errorf("emulator shutdown: %v", err)
	}
	logs := w.String()
	if strings.Contains(logs, "runtime_done_late") {
		t.Errorf("waits were counted late although the answers were seen:\n%s", logs)
	}
	if n := strings.Count(logs, "the runtime's answer ended the wait"); n != len(results) {
		t.Errorf("%d waits ended by the answer, want %d:\n%s", n, len(results), logs)
	}
	reports := em.Reports()
	var under int
	for i, res := range results {
		rep, ok := reports[res.RequestID]
		if !ok {
			t.Errorf("invocation %d: no report", i)
			continue
		}
		added := time.Duration(rep.DurationMs*float64(time.Millisecond)) - res.Duration
		t.Logf("invocation %d: %v after the response", i, added.Round(100*time.Microsecond))
		if added < bound {
			under++
		}
	}
	// A busy machine may stretch one invocation's flush; most must stay
	// under the bound the lost runtimeDone would have cost.
	if under < len(results)-1 {
		t.Errorf("only %d of %d invocations ended within %v of their response", under, len(results), bound)
	}
}
