package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/emulator"
	"github.com/lambdascope/lambdascope/internal/testload"
	"github.com/lambdascope/lambdascope/query"
)

// TestManagedInstancesRecordsWithoutTelemetry runs a function on Managed
// Instances through the layer's wrapper, with the real extension, collector
// and ClickHouse, while the Telemetry API refuses the subscription: the
// extension gets no INVOKE events (Managed Instances allow only SHUTDOWN)
// and no platform reports. Each invocation's record is built from what
// the Runtime API proxy saw and is stored while the environment still
// runs, long before a SHUTDOWN that on Managed Instances may come hours
// later: three concurrent invocations, one failing, all three in
// ClickHouse before the emulator shuts down, marked incomplete (the
// extension's own view), with the failure's type.
func TestManagedInstancesRecordsWithoutTelemetry(t *testing.T) {
	ctx := testContext(t)
	stack := startStackWith(t, ctx, local.Options{BackendOnly: true}, nil)
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bins, err := local.Build(ctx, root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const fn = "inventory-managed"
	var out bytes.Buffer
	em, err := emulator.New(emulator.Config{
		Functions: []emulator.FunctionConfig{{
			Name: fn, Handler: bins.Functions["inventory"], Extensions: []string{bins.Extension},
			Timeout: 10 * time.Second, ManagedInstances: true, RefuseTelemetry: true,
			Env: map[string]string{
				"LAMBDASCOPE_ENDPOINT":       stack.CollectorAddr,
				"LAMBDASCOPE_API_KEY":        stack.APIKey,
				"LAMBDASCOPE_FLUSH_INTERVAL": "200ms",
				"LAMBDASCOPE_LOG_LEVEL":      "info",
			},
		}},
		Output:           &syncWriter{w: &out},
		InitTimeout:      testload.Scale(10*time.Second, time.Minute),
		ShutdownDeadline: testload.Scale(2*time.Second, 30*time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(ctx); err != nil {
		t.Fatal(err)
	}
	shutdown := func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := em.Shutdown(sctx); err != nil {
			t.Errorf("emulator shutdown: %v", err)
		}
	}
	defer func() {
		if em != nil {
			shutdown()
		}
	}()

	payloads := []string{`{"sku":"SKU-001","qty":1}`, `{"sku":"SKU-002","qty":2}`, `{"qty":1}`}
	results := make([]*emulator.InvokeResult, len(payloads))
	errs := make([]error, len(payloads))
	var wg sync.WaitGroup
	for i, p := range payloads {
		wg.Go(func() { results[i], errs[i] = em.Invoke(ctx, fn, []byte(p)) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("invoke: %v\n%s", err, out.String())
	}
	want := map[string]string{} // request ID → status
	for i, res := range results {
		status := "success"
		if res.FunctionError != "" {
			status = "error"
		}
		if (i == 2) != (status == "error") {
			t.Fatalf("invocation %d: function error %q, payload %s\n%s", i, res.FunctionError, res.Payload, out.String())
		}
		want[res.RequestID] = status
	}

	// The records reach ClickHouse while the environment still runs.
	var got map[string]query.Invocation
	for deadline := time.Now().Add(testload.Scale(20*time.Second, 2*time.Minute)); ; {
		got = storedInvocations(ctx, t, stack, fn)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(got) != len(want) {
		t.Fatalf("stored before SHUTDOWN: %d records, want %d (%v)\n%s", len(got), len(want), got, out.String())
	}
	for id, status := range want {
		inv, ok := got[id]
		switch {
		case !ok:
			t.Errorf("no record of %s", id)
		case inv.Status != status:
			t.Errorf("%s: status %q, want %q", id, inv.Status, status)
		case !inv.Incomplete:
			t.Errorf("%s: not marked incomplete; without telemetry it is the extension's own view", id)
		case inv.DurationMs <= 0 || inv.DurationUnknown:
			t.Errorf("%s: duration %v (unknown %v), want the proxy's measure", id, inv.DurationMs, inv.DurationUnknown)
		case status == "error" && inv.ErrorType == "":
			t.Errorf("%s: failed with no error type", id)
		}
	}
	shutdown()
	em = nil
	if !strings.Contains(out.String(), "telemetry subscription failed") {
		t.Errorf("the extension did not say that the subscription failed:\n%s", out.String())
	}
	// SHUTDOWN adds no second record.
	if after := storedInvocations(ctx, t, stack, fn); len(after) != len(want) {
		t.Errorf("after SHUTDOWN: %d records, want %d", len(after), len(want))
	}
}

// storedInvocations reads fn's invocations of the last hour through the
// CLI, by request ID; a request ID stored twice fails the test.
func storedInvocations(ctx context.Context, t *testing.T, stack *local.Stack, fn string) map[string]query.Invocation {
	t.Helper()
	raw := runCLI(ctx, t, stack, "invocations", "--since", "1h", "--where", "function="+fn, "--output", "json")
	var invs []query.Invocation
	if err := json.Unmarshal([]byte(raw), &invs); err != nil {
		t.Fatalf("lambdascope invocations --output json: %v\n%s", err, raw)
	}
	out := map[string]query.Invocation{}
	for _, inv := range invs {
		if _, dup := out[inv.RequestID]; dup {
			t.Fatalf("%s stored twice:\n%s", inv.RequestID, raw)
		}
		out[inv.RequestID] = inv
	}
	return out
}
