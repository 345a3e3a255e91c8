package rie_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/rie"
	"github.com/lambdascope/lambdascope/extension"
)

// TestAgentKilledMidInvocation runs the Go function through the layer's
// Runtime API proxy under AWS's emulator and kills the agent (SIGKILL, as
// the OOM killer does) while the function handles an invocation. The
// launcher, the agent's parent, takes over: the function's answer goes
// through the relayed port and reaches the caller, the next invocation
// runs through it too, and the extension answers SHUTDOWN, counting the
// takeover.
func TestAgentKilledMidInvocation(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	fn := functionName("rie-agent-killed")
	sb, out := wrappedGoSandbox(t, ctx, fn, 40*time.Second)
	first := newCall("before-the-kill", 1)
	first.invoke(ctx, sb)
	first.checkAnswer(t)

	agent := agentProcess(t, sb)
	// Waits for a second invocation of its group for 10 s, twice (before
	// and after it prints), within its 40 s timeout: the agent is killed
	// within that time, while the function runs.
	mid := newCall("mid-invocation", 1)
	mid.together, mid.group = 2, "never-met"
	done := make(chan struct{})
	go func() {
		defer close(done)
		mid.invoke(ctx, sb)
	}()
	// Positions the fault inside the handler's 10 s wait, not an assertion:
	// the event reaches the function milliseconds after the invocation
	// starts.
	time.Sleep(2 * time.Second)
	if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the invocation the agent died in did not end")
	}
	mid.checkAnswer(t)
	after := newCall("after-the-kill", 1)
	after.invoke(ctx, sb)
	after.checkAnswer(t)
	if err := sb.Shutdown(ctx); err != nil {
		t.Errorf("shut down: %v", err)
	}
	logs := out.String()
	if !strings.Contains(logs, "the agent ended unexpectedly; the launcher takes over") ||
		!strings.Contains(logs, "extension shut down without its agent") || !strings.Contains(logs, "takeovers=1") {
		t.Errorf("the launcher did not log the takeover and its shutdown:\n%s", logs)
	}
}

// TestAgentKilledBetweenInvocations kills the agent (SIGKILL) while it
// waits for the next event under AWS's emulator, between two invocations,
// with the runtime waiting in /next through the agent's proxy. The
// emulator keeps the dead agent's call to /event/next parked and hands it
// the next event (and refuses the launcher's calls until then): the
// function still runs that invocation and the ones after it (the runtime
// asks again through the relayed port), and the launcher counts it among
// the invocations that ran without the agent, and ships the counts.
func TestAgentKilledBetweenInvocations(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	fn := functionName("rie-agent-killed-idle")
	sb, out := wrappedGoSandbox(t, ctx, fn, 20*time.Second)
	first := newCall("before-the-kill", 1)
	first.invoke(ctx, sb)
	first.checkAnswer(t)
	// Positions the fault after the agent and the runtime have asked for
	// the next event, which they do as soon as the invocation has ended;
	// not an assertion.
	time.Sleep(2 * time.Second)
	if err := syscall.Kill(agentProcess(t, sb), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	const after = 3
	for i := range after {
		// Each bounded well below the function's timeout: an invocation
		// the extension never ended would last until then.
		callCtx, cancelCall := context.WithTimeout(ctx, 15*time.Second)
		c := newCall("after-the-kill-"+strconv.Itoa(i), 1)
		c.invoke(callCtx, sb)
		cancelCall()
		c.checkAnswer(t)
	}
	if err := sb.Shutdown(ctx); err != nil {
		t.Errorf("shut down: %v", err)
	}
	logs := out.String()
	for _, want := range []string{
		"the agent ended unexpectedly; the launcher takes over",
		"extension shut down without its agent",
		"invocations_without_agent=" + strconv.Itoa(after) + " ",
		"invocations_to_dead_agent=1 ",
		"reported=true",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the launcher's log has no %q:\n%s", want, logs)
		}
	}
}

// agentProcess returns the process ID of the sandbox's agent.
func agentProcess(t *testing.T, sb *rie.Sandbox) int {
	t.Helper()
	for _, pid := range sb.Processes() {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err == nil && bytes.HasPrefix(cmdline, []byte("/opt/"+extension.AgentPath+"\x00")) {
			return pid
		}
	}
	t.Fatal("no agent process in the sandbox")
	return 0
}
