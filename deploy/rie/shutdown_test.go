package rie_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/rie"
)

// TestShutdownBoundedByLeftovers runs a stand-in for the emulator that
// ignores SIGTERM and leaves a child holding its output open: Shutdown
// still returns, within its own bounds, says what happened, and kills the
// child. Waiting for the emulator's exit once meant waiting for that
// output to close, which such a child never did.
func TestShutdownBoundedByLeftovers(t *testing.T) {
	t.Parallel()
	sb, out := startStuck(t, nil)
	child := 0
	for deadline := time.Now().Add(10 * time.Second); child == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, _ = fmt.Sscanf(out.String(), "child %d", &child)
	}
	if child == 0 {
		t.Fatalf("the stand-in printed no child:\n%s", out)
	}

	done := make(chan error, 1)
	var err error
	start := time.Now()
	go func() { done <- sb.Shutdown(context.Background()) }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("Shutdown did not return within 2 minutes")
	}
	t.Logf("Shutdown returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || !strings.Contains(err.Error(), "did not exit within 10s of SIGTERM") {
		t.Errorf("Shutdown's error = %v, want it to say the emulator did not exit on SIGTERM", err)
	}
	// SIGKILL takes effect when the process is next scheduled: a loaded
	// machine may show it running for a moment after Shutdown returned.
	state := processState(child)
	for deadline := time.Now().Add(10 * time.Second); state != "" && state != "Z" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		state = processState(child)
	}
	if state != "" && state != "Z" {
		t.Errorf("the emulator's child %d is still running 10 s after Shutdown returned (state %s)", child, state)
	}
}

// TestInvokeEndsWhenTheEmulatorStalls holds an invocation in a stand-in
// for the emulator that prints the line AWS's emulator prints when its
// Telemetry API deadlocks: Invoke returns ErrTelemetryStalled then, not
// when its context ends.
func TestInvokeEndsWhenTheEmulatorStalls(t *testing.T) {
	t.Parallel()
	sb, _ := startStuck(t, map[string]string{"STUCK_STALL": "1"})
	t.Cleanup(func() { _ = sb.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	_, err := sb.Invoke(ctx, rie.Invocation{RequestID: "held", Payload: []byte("{}")})
	if !errors.Is(err, rie.ErrTelemetryStalled) {
		t.Errorf("Invoke = %v, want ErrTelemetryStalled", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Invoke returned once its context ended (%v), not at the stall", ctx.Err())
	}
	if !sb.TelemetryStalled() {
		t.Error("TelemetryStalled = false after the stall line")
	}
}

// startStuck builds the stand-in for the emulator and starts a sandbox
// of it, with env added to its environment.
func startStuck(t *testing.T, env map[string]string) (*rie.Sandbox, *syncBuffer) {
	t.Helper()
	root := need(t)
	dir := t.TempDir()
	stuck := filepath.Join(dir, "stuck-emulator")
	build := exec.Command("go", "build", "-o", stuck, "./deploy/rie/testdata/stuck-emulator")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in: %v\n%s", err, out)
	}
	out := &syncBuffer{}
	sb, err := rie.Start(t.Context(), rie.Options{
		RIE: stuck, WorkDir: filepath.Join(dir, "sandbox"), Bootstrap: stuck, Output: out, Env: env,
	})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	return sb, out
}

// processState returns the state letter of pid from /proc/PID/stat, or ""
// when there is no such process.
func processState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}
