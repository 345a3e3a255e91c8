package local_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/emulator"
)

// TestLauncherUnderTheEmulator runs the layer's launcher as Lambda would,
// with real processes, where it must not take the fast path or cannot
// become the agent: a bad configuration with LAMBDASCOPE_STRICT=true fails
// the init through the agent, the same without it only degrades, and a
// layer without the agent still lets the function run; on Managed
// Instances it registers and subscribes as they require.
func TestLauncherUnderTheEmulator(t *testing.T) {
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bins, err := local.Build(t.Context(), root, dir)
	if err != nil {
		t.Fatal(err)
	}
	// A layer with the launcher alone.
	broken := filepath.Join(dir, "broken", filepath.FromSlash(layer.BinaryPath))
	if err := os.MkdirAll(filepath.Dir(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bins.Extension)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, data, 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		extension string
		managed   bool
		env       map[string]string
		// failed: the invocation fails with this error type in its
		// payload ("" when it must succeed); logged: the extension's
		// output must hold it.
		failed, logged string
	}{
		{"strict", bins.Extension, false, map[string]string{"LAMBDASCOPE_STRICT": "true", "LAMBDASCOPE_FLUSH": "sometimes"},
			"Extension.ConfigInvalid", `LAMBDASCOPE_FLUSH=\"sometimes\": unknown mode`},
		{"degraded", bins.Extension, false, map[string]string{"LAMBDASCOPE_FLUSH": "sometimes"},
			"", "invalid configuration, running degraded"},
		{"agent missing", broken, false, nil,
			"", "the agent could not be started (is the layer complete?)"},
		// Registered for SHUTDOWN only, subscribed with schema 2025-01-29:
		// the records of the three concurrent invocations come from
		// telemetry alone.
		{"managed instances", bins.Extension, true, nil,
			"", "received.invocations=3 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			em, err := emulator.New(emulator.Config{
				Functions: []emulator.FunctionConfig{{
					Name: "inventory", Handler: bins.Functions["inventory"], Extensions: []string{tt.extension},
					Timeout: 10 * time.Second, Env: tt.env, ManagedInstances: tt.managed,
				}},
				Output: &syncWriter{w: &out},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := em.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			calls := 1
			if tt.managed {
				calls = 3
			}
			results := make([]*emulator.InvokeResult, calls)
			errs := make([]error, calls)
			var wg sync.WaitGroup
			for i := range calls {
				wg.Go(func() {
					results[i], errs[i] = em.Invoke(t.Context(), "inventory", []byte(`{"sku":"SKU-001","qty":1}`))
				})
			}
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if serr := em.Shutdown(ctx); serr != nil {
				t.Errorf("emulator shutdown: %v", serr)
			}
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("invoke: %v\n%s", err, out.String())
			}
			res := results[0]
			switch {
			case tt.failed == "" && res.FunctionError != "":
				t.Errorf("invocation failed: %s\n%s", res.Payload, out.String())
			case tt.failed != "" && (res.FunctionError == "" || !strings.Contains(string(res.Payload), tt.failed)):
				t.Errorf("invocation = %q %s, want it to fail with %s\n%s", res.FunctionError, res.Payload, tt.failed, out.String())
			}
			if !strings.Contains(out.String(), tt.logged) {
				t.Errorf("extension output lacks %q:\n%s", tt.logged, out.String())
			}
		})
	}
}
