package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/emulator"
)

func TestDisableFreezeDeliversReportAtOnce(t *testing.T) {
	s := start(t, func(c *emulator.Config) { c.DisableFreeze = true })
	res := invoke(t, s.em, "fn", map[string]any{})
	pid := decode(t, res).PID
	eventually(t, "platform.report without a next window", func() bool {
		_, _, ok := s.ext.report(t, res.RequestID)
		return ok
	})
	if st := processState(pid); st == "T" {
		t.Errorf("runtime is stopped although freezing is disabled")
	}
}

func TestSubscriptionValidation(t *testing.T) {
	body := func(schema, buffering string) string {
		return `{"schemaVersion":"` + schema + `","types":["platform"],"buffering":` + buffering +
			`,"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:PORT"}}`
	}
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"defaults", body("2022-12-13", "{}"), 200},
		{"limits low", body("2025-01-29", `{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}`), 200},
		{"limits high", body("2022-07-01", `{"maxItems":10000,"maxBytes":1048576,"timeoutMs":30000}`), 200},
		{"maxItems below 1000", body("2022-12-13", `{"maxItems":999}`), 400},
		{"maxItems above 10000", body("2022-12-13", `{"maxItems":10001}`), 400},
		{"maxBytes below 262144", body("2022-12-13", `{"maxBytes":262143}`), 400},
		{"maxBytes above 1048576", body("2022-12-13", `{"maxBytes":1048577}`), 400},
		{"timeoutMs below 25", body("2022-12-13", `{"timeoutMs":24}`), 400},
		{"timeoutMs above 30000", body("2022-12-13", `{"timeoutMs":30001}`), 400},
		{"unknown schema", body("2021-01-01", "{}"), 400},
	}
	probes := make([]json.RawMessage, len(tests))
	for i, tc := range tests {
		probes[i] = json.RawMessage(tc.body)
	}
	raw, err := json.Marshal(probes)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, func(c *emulator.Config) { c.Functions[0].Env["TESTEXT_PROBES"] = string(raw) })
	invoke(t, s.em, "fn", map[string]any{})
	got := map[string]extRecord{}
	for _, rec := range s.ext.records(t) {
		if rec.Kind == "probe" {
			got[rec.ID] = rec
		}
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, ok := got[strconv.Itoa(i)]
			if !ok {
				t.Fatal("probe not made")
			}
			if rec.Status != tc.status {
				t.Fatalf("status %d, want %d (%s)", rec.Status, tc.status, rec.Body)
			}
			if tc.status == 400 {
				var e struct{ ErrorMessage, ErrorType string }
				if err := json.Unmarshal(rec.Body, &e); err != nil || e.ErrorType != "ValidationError" || e.ErrorMessage == "" {
					t.Errorf("error body %s, want errorType ValidationError and a message", rec.Body)
				}
			}
		})
	}
}

func TestManagedInstances(t *testing.T) {
	probes := `[{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:PORT"}}]`
	s := start(t, func(c *emulator.Config) {
		c.Functions[0].ManagedInstances = true
		c.Functions[0].Env["TESTEXT_PROBE_INVOKE"] = "1"
		c.Functions[0].Env["TESTEXT_EVENTS"] = `["SHUTDOWN"]`
		c.Functions[0].Env["TESTEXT_SCHEMA"] = "2025-01-29"
		c.Functions[0].Env["TESTEXT_PROBES"] = probes
	})
	res := invoke(t, s.em, "fn", map[string]any{"env": []string{"AWS_LAMBDA_INITIALIZATION_TYPE"}})
	if got := decode(t, res).Env["AWS_LAMBDA_INITIALIZATION_TYPE"]; got != "lambda-managed-instances" {
		t.Errorf("AWS_LAMBDA_INITIALIZATION_TYPE = %q", got)
	}
	var report map[string]any
	eventually(t, "platform.report (environment not frozen)", func() bool {
		var ok bool
		report, _, ok = s.ext.report(t, res.RequestID)
		return ok
	})
	m := report["metrics"].(map[string]any)
	if billed, d := m["billedDurationMs"].(float64), m["durationMs"].(float64); billed < d || billed >= d+1 {
		t.Errorf("billedDurationMs = %v, want ceil(%v) without init", billed, d)
	}
	var probe, register, sub extRecord
	for _, rec := range s.ext.records(t) {
		switch rec.Kind {
		case "register-probe":
			probe = rec
		case "register":
			register = rec
		case "probe":
			sub = rec
		}
	}
	if probe.Status != 400 || !bytes.Contains(probe.Body, []byte("InvalidEventType")) {
		t.Errorf("registration for INVOKE: %d %s, want 400 InvalidEventType", probe.Status, probe.Body)
	}
	if register.Status != 200 {
		t.Errorf("registration for SHUTDOWN only: %d %s", register.Status, register.Body)
	}
	if sub.Status != 400 {
		t.Errorf("subscription with schema 2022-12-13: %d %s, want 400", sub.Status, sub.Body)
	}
	for _, rec := range s.ext.records(t) {
		if rec.Kind == "event" && bytes.Contains(rec.Event, []byte(`"INVOKE"`)) {
			t.Errorf("an extension registered for SHUTDOWN only received INVOKE")
		}
	}
}

func TestManagedInstancesRunInvocationsConcurrently(t *testing.T) {
	const n = 6
	s := start(t, func(c *emulator.Config) {
		c.Functions[0].ManagedInstances = true
		c.Functions[0].Env["TESTEXT_EVENTS"] = `["SHUTDOWN"]`
		c.Functions[0].Env["TESTEXT_SCHEMA"] = "2025-01-29"
	})
	payload, err := json.Marshal(map[string]any{"sleep_ms": 400, "env": []string{"AWS_LAMBDA_MAX_CONCURRENCY"}})
	if err != nil {
		t.Fatalf("marshal payload: %v", err)
	}
	results := make([]*emulator.InvokeResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = s.em.Invoke(t.Context(), "fn", payload) })
	}
	wg.Wait()
	pids := map[int]bool{}
	ids := map[string]bool{}
	for i, res := range results {
		if errs[i] != nil {
			t.Fatalf("Invoke %d: %v", i, errs[i])
		}
		r := decode(t, res)
		pids[r.PID] = true
		ids[res.RequestID] = true
		if got := r.Env["AWS_LAMBDA_MAX_CONCURRENCY"]; got != strconv.Itoa(emulator.DefaultManagedConcurrency) {
			t.Errorf("AWS_LAMBDA_MAX_CONCURRENCY = %q, want %d", got, emulator.DefaultManagedConcurrency)
		}
	}
	if len(pids) != 1 || len(ids) != n {
		t.Fatalf("%d invocations ran in %d runtime processes with %d request IDs, want one process and %d IDs", n, len(pids), len(ids), n)
	}
	for id := range ids {
		eventually(t, "platform.report of "+id, func() bool {
			_, _, ok := s.ext.report(t, id)
			return ok
		})
	}

	initStarts := 0
	starts, dones := map[string]time.Time{}, map[string]time.Time{}
	for _, ev := range s.ext.telemetry(t) {
		if ev.Type == "platform.initStart" {
			initStarts++
			continue
		}
		if ev.Type != "platform.start" && ev.Type != "platform.runtimeDone" {
			continue
		}
		var rec struct {
			RequestID string `json:"requestId"`
		}
		if err := json.Unmarshal(ev.Record, &rec); err != nil {
			t.Fatalf("%s record: %v", ev.Type, err)
		}
		at, err := time.Parse(time.RFC3339Nano, ev.Time)
		if err != nil {
			t.Fatalf("%s time %q: %v", ev.Type, ev.Time, err)
		}
		if ev.Type == "platform.start" {
			starts[rec.RequestID] = at
		} else {
			dones[rec.RequestID] = at
		}
	}
	if initStarts != 1 {
		t.Errorf("platform.initStart events = %d, want 1 (one environment)", initStarts)
	}
	// Every invocation started before any of them was done: they all ran
	// at once in the one environment.
	var lastStart, firstDone time.Time
	for id := range ids {
		st, okS := starts[id]
		d, okD := dones[id]
		if !okS || !okD {
			t.Fatalf("request %s: platform.start seen %v, platform.runtimeDone seen %v", id, okS, okD)
		}
		if st.After(lastStart) {
			lastStart = st
		}
		if firstDone.IsZero() || d.Before(firstDone) {
			firstDone = d
		}
	}
	if !lastStart.Before(firstDone) {
		t.Errorf("invocations did not overlap: last platform.start %s, first platform.runtimeDone %s", lastStart, firstDone)
	}
}

func TestKillRuntimeDuringNextInvoke(t *testing.T) {
	s := start(t, nil)
	if err := s.em.KillRuntimeDuringNextInvoke("nope"); !errors.Is(err, emulator.ErrFunctionNotFound) {
		t.Errorf("arming an unknown function: %v", err)
	}
	if err := s.em.KillRuntimeDuringNextInvoke("fn"); err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s.em, "fn", map[string]any{})
	if res.FunctionError != "Unhandled" || !bytes.Contains(res.Payload, []byte("Runtime.ExitError")) {
		t.Fatalf("result = %q %s", res.FunctionError, res.Payload)
	}
	var rep emulator.Report
	eventually(t, "the invocation's report", func() bool {
		var ok bool
		rep, ok = s.em.Reports()[res.RequestID]
		return ok
	})
	if rep.Status != "error" || rep.ErrorType != "Runtime.ExitError" {
		t.Errorf("report status %q error type %q, want error Runtime.ExitError", rep.Status, rep.ErrorType)
	}
	next := invoke(t, s.em, "fn", map[string]any{})
	if !next.ColdStart || next.FunctionError != "" {
		t.Errorf("next invocation: cold %v, error %q; want a clean cold start", next.ColdStart, next.FunctionError)
	}
}

func TestSetTimeout(t *testing.T) {
	s := start(t, nil)
	tests := []struct {
		name, fn string
		timeout  time.Duration
		ok       bool
	}{
		{"unknown function", "nope", time.Second, false},
		{"zero", "fn", 0, false},
		{"above 900s", "fn", 901 * time.Second, false},
		{"one second", "fn", time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.em.SetTimeout(tc.fn, tc.timeout); (err == nil) != tc.ok {
				t.Errorf("SetTimeout(%q, %v) = %v, want ok %v", tc.fn, tc.timeout, err, tc.ok)
			}
		})
	}
	res := invoke(t, s.em, "fn", map[string]any{"sleep_ms": 3000})
	if !bytes.Contains(res.Payload, []byte("Task timed out after 1.00 seconds")) {
		t.Errorf("result = %q %s", res.FunctionError, res.Payload)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.em.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if rep := s.em.Reports()[res.RequestID]; rep.Status != "timeout" {
		t.Errorf("report status %q, want timeout", rep.Status)
	}
}

func TestShutdownSignalsRuntimeBeforeExtensions(t *testing.T) {
	sigtermOut := filepath.Join(t.TempDir(), "sigterm")
	s := start(t, func(c *emulator.Config) { c.Functions[0].Env["TESTFN_SIGTERM_OUT"] = sigtermOut })
	invoke(t, s.em, "fn", map[string]any{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.em.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	raw, err := os.ReadFile(sigtermOut)
	if err != nil {
		t.Fatalf("the runtime never got SIGTERM: %v", err)
	}
	sigterm, err := time.Parse(time.RFC3339Nano, string(raw))
	if err != nil {
		t.Fatalf("SIGTERM time %q: %v", raw, err)
	}
	var shutdownAt time.Time
	var deadlineMs int64
	for _, rec := range s.ext.records(t) {
		var ev struct {
			EventType  string `json:"eventType"`
			DeadlineMs int64  `json:"deadlineMs"`
		}
		if rec.Kind == "event" && json.Unmarshal(rec.Event, &ev) == nil && ev.EventType == "SHUTDOWN" {
			shutdownAt, deadlineMs = rec.At, ev.DeadlineMs
		}
	}
	if shutdownAt.IsZero() {
		t.Fatal("the extension never received SHUTDOWN")
	}
	if !sigterm.Before(shutdownAt) {
		t.Errorf("runtime got SIGTERM at %v, not before the extension's SHUTDOWN at %v", sigterm, shutdownAt)
	}
	if deadline := time.UnixMilli(deadlineMs); deadline.Sub(sigterm) > 2*time.Second {
		t.Errorf("SHUTDOWN deadline %v is more than 2 s after the runtime's SIGTERM at %v: the deadline is not shared", deadline, sigterm)
	}
}

func TestSandboxTmpIsPrivateAndDiscarded(t *testing.T) {
	s := start(t, nil)
	res := decode(t, invoke(t, s.em, "fn", map[string]any{"env": []string{"TMPDIR"}}))
	tmp := res.Env["TMPDIR"]
	if tmp == "" || tmp == os.TempDir() {
		t.Fatalf("runtime TMPDIR = %q, want a directory of the environment's own", tmp)
	}
	var extEnv []string
	for _, rec := range s.ext.records(t) {
		if rec.Kind == "start" {
			extEnv = rec.Env
		}
	}
	for _, want := range []string{"TMPDIR=" + tmp, "LAMBDASCOPE_SPOOL_DIR=" + filepath.Join(tmp, "lambdascope-spool")} {
		if !containsString(extEnv, want) {
			t.Errorf("extension environment lacks %s", want)
		}
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("sandbox /tmp %s: %v", tmp, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.em.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sandbox /tmp %s still there after shutdown (stat: %v)", tmp, err)
	}
}

func TestDropRuntimeDoneOfNextInvoke(t *testing.T) {
	// Not frozen, so the telemetry reaches the extension between
	// invocations.
	s := start(t, func(c *emulator.Config) { c.DisableFreeze = true })
	if err := s.em.DropRuntimeDoneOfNextInvoke("nope"); !errors.Is(err, emulator.ErrFunctionNotFound) {
		t.Errorf("arming an unknown function: %v", err)
	}
	if err := s.em.DropRuntimeDoneOfNextInvoke("fn"); err != nil {
		t.Fatal(err)
	}
	dropped := invoke(t, s.em, "fn", map[string]any{})
	kept := invoke(t, s.em, "fn", map[string]any{})
	for _, res := range []*emulator.InvokeResult{dropped, kept} {
		if res.FunctionError != "" {
			t.Fatalf("invocation failed: %s", res.Payload)
		}
	}
	dones := func() map[string]int {
		n := map[string]int{}
		for _, ev := range s.ext.telemetry(t) {
			if ev.Type != "platform.runtimeDone" {
				continue
			}
			var rec struct {
				RequestID string `json:"requestId"`
			}
			if err := json.Unmarshal(ev.Record, &rec); err != nil {
				t.Fatalf("%s record: %v", ev.Type, err)
			}
			n[rec.RequestID]++
		}
		return n
	}
	eventually(t, "platform.runtimeDone of the invocation after the armed one", func() bool { return dones()[kept.RequestID] == 1 })
	if n := dones()[dropped.RequestID]; n != 0 {
		t.Errorf("%d platform.runtimeDone events of the armed invocation, want none", n)
	}
}
