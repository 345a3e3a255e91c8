package emulator_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/emulator"
)

// tmpNote is the file under TMPDIR the test extension appends to at
// SHUTDOWN and reports at start.
const tmpNote = "ext-note"

// startTmpNote starts "fn" with the extension keeping its note under
// TMPDIR and a SHUTDOWN deadline wide enough for a loaded machine, which
// also bounds how long an invocation waits for a reset.
func startTmpNote(t *testing.T) setup {
	t.Helper()
	return start(t, func(c *emulator.Config) {
		c.Functions[0].Env["TESTEXT_TMP_NOTE"] = tmpNote
		c.ShutdownDeadline = 30 * time.Second
	})
}

// lastExtStart is the note the extension of the latest environment found
// under TMPDIR when it started.
func lastExtStart(t *testing.T, s setup) (note string, starts int) {
	t.Helper()
	for _, rec := range s.ext.records(t) {
		if rec.Kind == "start" {
			note, starts = rec.TmpNote, starts+1
		}
	}
	return note, starts
}

func waitIdle(t *testing.T, em *emulator.Emulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := em.WaitIdle(ctx, "fn"); err != nil {
		t.Fatal(err)
	}
}

// TestResetKeepsTmp checks that after a timeout and after a runtime
// crash the function's next environment starts in the reset one's /tmp,
// with what the function wrote before the reset and what the extension
// wrote at its SHUTDOWN, as Lambda initializes a reset environment again
// without clearing /tmp.
func TestResetKeepsTmp(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		fault        func(t *testing.T, s setup) map[string]any
		// wait: the test waits for the reset with WaitIdle; otherwise the
		// next invocation itself waits for it.
		wait bool
	}{
		{name: "timeout", reason: "timeout", wait: true, fault: func(t *testing.T, s setup) map[string]any {
			if err := s.em.SetTimeout("fn", 300*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			return map[string]any{"sleep_ms": 5000}
		}},
		{name: "runtime killed", reason: "failure", fault: func(t *testing.T, s setup) map[string]any {
			if err := s.em.KillRuntimeDuringNextInvoke("fn"); err != nil {
				t.Fatal(err)
			}
			return map[string]any{}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startTmpNote(t)
			first := decode(t, invoke(t, s.em, "fn", map[string]any{
				"env": []string{"TMPDIR"}, "write_tmp": map[string]string{"fn-note": "written before the reset"}}))
			tmp := first.Env["TMPDIR"]
			if tmp == "" {
				t.Fatal("the runtime has no TMPDIR")
			}
			faulted := invoke(t, s.em, "fn", tc.fault(t, s))
			if faulted.FunctionError != "Unhandled" {
				t.Fatalf("faulted invocation: function error %q (%s), want Unhandled", faulted.FunctionError, faulted.Payload)
			}
			if err := s.em.SetTimeout("fn", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if tc.wait {
				waitIdle(t, s.em)
			}
			next := invoke(t, s.em, "fn", map[string]any{"env": []string{"TMPDIR"}, "read_tmp": []string{"fn-note", tmpNote}})
			if !next.ColdStart {
				t.Error("the invocation after the reset was warm; the reset environment should have run INIT again")
			}
			got := decode(t, next)
			if got.PID == first.PID {
				t.Errorf("the runtime after the reset is the same process (%d)", got.PID)
			}
			if got.Env["TMPDIR"] != tmp {
				t.Errorf("TMPDIR after the reset = %q, want the reset environment's %q", got.Env["TMPDIR"], tmp)
			}
			if c := got.Tmp["fn-note"]; c != "written before the reset" {
				t.Errorf("the function's file under TMPDIR after the reset: %q, want what it wrote before", c)
			}
			want := "shutdown " + tc.reason + "\n"
			if c := got.Tmp[tmpNote]; c != want {
				t.Errorf("the extension's SHUTDOWN note seen by the next runtime: %q, want %q", c, want)
			}
			if note, starts := lastExtStart(t, s); starts != 2 || note != want {
				t.Errorf("the extension's start #%d found note %q, want start #2 finding %q", starts, note, want)
			}
			waitIdle(t, s.em)
			st, err := s.em.TmpStats("fn")
			if err != nil {
				t.Fatal(err)
			}
			if st != (emulator.TmpStats{Kept: 1, Reused: 1}) {
				t.Errorf("TmpStats = %+v, want one kept and reused", st)
			}
		})
	}
}

// TestShutdownRemovesTmp checks that a spin-down removes an environment's
// /tmp, and that Shutdown removes the /tmp a reset left that no
// environment took.
func TestShutdownRemovesTmp(t *testing.T) {
	s := startTmpNote(t)
	if _, err := s.em.TmpStats("nope"); !errors.Is(err, emulator.ErrFunctionNotFound) {
		t.Errorf("TmpStats of an unknown function: %v", err)
	}
	if err := s.em.WaitIdle(t.Context(), "nope"); !errors.Is(err, emulator.ErrFunctionNotFound) {
		t.Errorf("WaitIdle of an unknown function: %v", err)
	}
	first := decode(t, invoke(t, s.em, "fn", map[string]any{
		"env": []string{"TMPDIR"}, "write_tmp": map[string]string{"fn-note": "x"}}))
	kept := first.Env["TMPDIR"]
	if err := s.em.KillRuntimeDuringNextInvoke("fn"); err != nil {
		t.Fatal(err)
	}
	if res := invoke(t, s.em, "fn", map[string]any{}); res.FunctionError != "Unhandled" {
		t.Fatalf("killed invocation: function error %q", res.FunctionError)
	}
	waitIdle(t, s.em)
	if _, err := os.Stat(filepath.Join(kept, tmpNote)); err != nil {
		t.Fatalf("the reset environment's /tmp after its SHUTDOWN: %v", err)
	}

	// A second emulator's environment, spun down at Shutdown.
	other := startTmpNote(t)
	spun := decode(t, invoke(t, other.em, "fn", map[string]any{
		"env": []string{"TMPDIR"}, "write_tmp": map[string]string{"fn-note": "y"}})).Env["TMPDIR"]

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, em := range []*emulator.Emulator{s.em, other.em} {
		if err := em.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	}
	for what, dir := range map[string]string{"kept after a reset": kept, "spun down": spun} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the /tmp %s (%s) is still there after Shutdown (stat: %v)", what, dir, err)
		}
	}
	st, err := s.em.TmpStats("fn")
	if err != nil {
		t.Fatal(err)
	}
	if st != (emulator.TmpStats{Kept: 1, Removed: 1}) {
		t.Errorf("TmpStats = %+v, want one kept, then removed at Shutdown", st)
	}
	if st, _ := other.em.TmpStats("fn"); st != (emulator.TmpStats{}) {
		t.Errorf("TmpStats after a spin-down = %+v, want none kept", st)
	}
}
