package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/emulator"
)

// proxyLayer is the layer's tree, the test function, and a bootstrap that
// runs it through the layer's wrapper (the packaging documented for
// OS-only runtimes), keeping the real Runtime API's address in
// REAL_RUNTIME_API so the function can tell whether the wrapper pointed
// it elsewhere.
type proxyLayer struct {
	dir, launcher, bootstrap string
}

func buildProxyLayer(t *testing.T) proxyLayer {
	t.Helper()
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	launcher, err := layer.BuildTree(t.Context(), root, filepath.Join(dir, "layer"))
	if err != nil {
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
	script := "#!/bin/sh\nexport REAL_RUNTIME_API=\"$AWS_LAMBDA_RUNTIME_API\"\nexec " +
		filepath.Join(dir, "layer", layer.WrapperPath) + ` "$LAMBDA_TASK_ROOT/app" "$@"` + "\n"
	if err := os.WriteFile(bootstrap, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return proxyLayer{dir: dir, launcher: launcher, bootstrap: bootstrap}
}

// brokenLayer is a copy of the layer's launcher whose agent is missing
// (agent nil) or is the given bytes.
func (pl proxyLayer) brokenLayer(t *testing.T, name string, agent []byte) string {
	t.Helper()
	launcher := filepath.Join(pl.dir, name, filepath.FromSlash(layer.BinaryPath))
	data, err := os.ReadFile(pl.launcher)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(launcher), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(launcher, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if agent != nil {
		path := filepath.Join(pl.dir, name, filepath.FromSlash(layer.AgentPath))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, agent, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return launcher
}

// runtimeAPIs invokes a function and returns the Runtime API address its
// runtime used and the real one.
func runtimeAPIs(t *testing.T, em *emulator.Emulator, name string, w *syncWriter) (used, real string) {
	t.Helper()
	res, err := em.Invoke(t.Context(), name, []byte(`{"echo":"hi","env":["AWS_LAMBDA_RUNTIME_API","REAL_RUNTIME_API"]}`))
	if err != nil {
		t.Fatalf("%s: invoke: %v\n%s", name, err, w.String())
	}
	if res.FunctionError != "" {
		t.Fatalf("%s: invocation failed: %s\n%s", name, res.Payload, w.String())
	}
	var r struct {
		Echo string
		Env  map[string]string
	}
	if err := json.Unmarshal(res.Payload, &r); err != nil || r.Echo != "hi" {
		t.Fatalf("%s: answer %s (%v)", name, res.Payload, err)
	}
	return r.Env["AWS_LAMBDA_RUNTIME_API"], r.Env["REAL_RUNTIME_API"]
}

// TestLauncherProxiesTheFirstInvocation starts the layer as Lambda does
// (the launcher, which becomes the agent) in fresh environments and
// invokes each once: the launcher binds and announces the proxy's port
// before it registers, so the runtime, which Lambda starts once every
// extension has registered, runs through the proxy from its first
// invocation, and the agent relays its calls.
func TestLauncherProxiesTheFirstInvocation(t *testing.T) {
	pl := buildProxyLayer(t)
	var out bytes.Buffer
	w := &syncWriter{w: &out}
	names := []string{"cold-1", "cold-2", "cold-3"}
	var fns []emulator.FunctionConfig
	for _, n := range names {
		fns = append(fns, emulator.FunctionConfig{Name: n, Handler: pl.bootstrap, Extensions: []string{pl.launcher},
			Timeout: 10 * time.Second, Env: map[string]string{"LAMBDASCOPE_LOG_LEVEL": "debug"}})
	}
	em, err := emulator.New(emulator.Config{Functions: fns, Output: w})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		used, real := runtimeAPIs(t, em, n, w)
		if used == real || used == "" {
			t.Errorf("%s: the runtime's first invocation used the real Runtime API %s, not the proxy", n, real)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := em.Shutdown(ctx); err != nil {
		t.Errorf("emulator shutdown: %v", err)
	}
	logs := w.String()
	for _, n := range names {
		// One event, its answer, and the /next cut by the shutdown.
		m := regexp.MustCompile(`\[` + n + `/lambdascope\] .*extension shut down.*runtime_api_calls=(\d+)`).FindStringSubmatch(logs)
		if m == nil {
			t.Errorf("%s: the agent logged no runtime API calls at shutdown:\n%s", n, logs)
			continue
		}
		if c, _ := strconv.Atoi(m[1]); c < 2 {
			t.Errorf("%s: the agent relayed %d runtime API calls, want at least 2", n, c)
		}
	}
}

// TestLauncherRelaysWithoutTheAgent: a layer whose agent is missing, or
// is not a program, cannot take the function down: the runtime was
// pointed at the proxy's port before the launcher found out, and the
// launcher relays it to the real Runtime API for the environment's life.
func TestLauncherRelaysWithoutTheAgent(t *testing.T) {
	pl := buildProxyLayer(t)
	tests := []struct {
		name  string
		agent []byte
	}{
		{"agent missing", nil},
		{"agent not a program", []byte("\x7fELF garbage")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			launcher := pl.brokenLayer(t, filepath.Base(t.Name()), tt.agent)
			var out bytes.Buffer
			w := &syncWriter{w: &out}
			em, err := emulator.New(emulator.Config{
				Functions: []emulator.FunctionConfig{{Name: "fn", Handler: pl.bootstrap, Extensions: []string{launcher}, Timeout: 10 * time.Second}},
				Output:    w,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := em.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				used, real := runtimeAPIs(t, em, "fn", w)
				if used == real || used == "" {
					t.Errorf("invocation %d: the runtime used the real Runtime API %s; want the launcher's relay", i, real)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := em.Shutdown(ctx); err != nil {
				t.Errorf("emulator shutdown: %v", err)
			}
			if !bytes.Contains([]byte(w.String()), []byte("the agent could not be started")) {
				t.Errorf("the launcher did not say the agent could not be started:\n%s", w.String())
			}
		})
	}
}

// TestWrapperAsBootstrapUnderTheEmulator packages the function for an
// OS-only runtime the documented way — the program renamed bootstrap.real,
// and bootstrap a link to the layer's wrapper — and runs it with the layer
// as Lambda starts it: the wrapper, started as the bootstrap without
// arguments, runs the program through the Runtime API proxy from the
// first invocation.
func TestWrapperAsBootstrapUnderTheEmulator(t *testing.T) {
	pl := buildProxyLayer(t)
	fnDir := filepath.Join(pl.dir, "fn-linked")
	if err := os.MkdirAll(fnDir, 0o755); err != nil {
		t.Fatal(err)
	}
	app, err := os.ReadFile(filepath.Join(pl.dir, "fn", "app"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fnDir, "bootstrap.real"), app, 0o755); err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(fnDir, "bootstrap")
	if err := os.Symlink(filepath.Join(pl.dir, "layer", layer.WrapperPath), bootstrap); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := &syncWriter{w: &out}
	em, err := emulator.New(emulator.Config{
		Functions: []emulator.FunctionConfig{{Name: "linked", Handler: bootstrap, Extensions: []string{pl.launcher}, Timeout: 10 * time.Second}},
		Output:    w,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	const invocations = 2
	for range invocations {
		if used, _ := runtimeAPIs(t, em, "linked", w); used == "" {
			t.Error("the program saw no AWS_LAMBDA_RUNTIME_API")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := em.Shutdown(ctx); err != nil {
		t.Errorf("emulator shutdown: %v", err)
	}
	m := regexp.MustCompile(`\[linked/lambdascope\] .*extension shut down.*runtime_api_calls=(\d+)`).FindStringSubmatch(w.String())
	if m == nil {
		t.Fatalf("the agent logged no runtime API calls at shutdown:\n%s", w.String())
	}
	if c, _ := strconv.Atoi(m[1]); c < 2*invocations {
		t.Errorf("the agent relayed %d runtime API calls, want at least %d", c, 2*invocations)
	}
}
