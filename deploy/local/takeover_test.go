package local_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/emulator"
)

// TestAgentKilledUnderTheEmulator starts the layer as Lambda does and kills
// its agent (SIGKILL, as the OOM killer does) after an invocation and in
// the middle of one. The function cannot tell: the launcher, which started
// the agent as its child and kept the ports, takes over, the runtime's
// calls through the proxy's port complete, every invocation's answer
// reaches the caller, and the extension answers SHUTDOWN, counting the
// takeover in its last line.
func TestAgentKilledUnderTheEmulator(t *testing.T) {
	pl := buildProxyLayer(t)
	agentPath := filepath.Join(pl.dir, "layer", filepath.FromSlash(layer.AgentPath))
	tests := []struct {
		name string
		mid  bool // kill while the function runs, before it answers
	}{
		{"after an invocation", false},
		{"mid-invocation", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := &syncWriter{w: &out}
			em, err := emulator.New(emulator.Config{
				Functions: []emulator.FunctionConfig{{Name: "fn", Handler: pl.bootstrap, Extensions: []string{pl.launcher},
					Timeout: 10 * time.Second, Env: map[string]string{"LAMBDASCOPE_LOG_LEVEL": "debug"}}},
				Output: w,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := em.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			used, real := runtimeAPIs(t, em, "fn", w)
			if used == real {
				t.Fatalf("the runtime used the real Runtime API %s, not the proxy", real)
			}
			agent := agentPID(t, agentPath)
			if tt.mid {
				const marker = "handler-running"
				done := make(chan *emulator.InvokeResult, 1)
				go func() {
					res, err := em.Invoke(context.WithoutCancel(t.Context()), "fn",
						[]byte(`{"echo":"mid","log":"`+marker+`","sleep_ms":1000}`))
					if err != nil {
						t.Errorf("invoke: %v", err)
					}
					done <- res
				}()
				waitFor(t, w, "[fn] "+marker)
				if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				select {
				case res := <-done:
					if res == nil || res.FunctionError != "" || !strings.Contains(string(res.Payload), `"echo":"mid"`) {
						t.Fatalf("the invocation the agent died in: %+v\n%s", res, w.String())
					}
				case <-time.After(15 * time.Second):
					t.Fatalf("the invocation the agent died in did not end\n%s", w.String())
				}
				// The caller has its answer before the environment is
				// done with the invocation (the emulator waits a moment
				// for the extensions): the calls below must find it idle,
				// not start a new environment beside it.
				ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
				err := em.WaitIdle(ctx, "fn")
				cancel()
				if err != nil {
					t.Fatalf("the environment the agent died in did not become idle: %v\n%s", err, w.String())
				}
			} else {
				// Once the invocation is over and the environment idle (the
				// emulator freezes it then), so that no call is in flight.
				waitState(t, agent, 'T')
				if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				// The next invocation once the agent is dead (the environment
				// is frozen, the launcher too, until it comes) and the
				// emulator has dropped the calls it left waiting: an event
				// that comes before can be handed to such a call as it
				// breaks, and is lost with it.
				waitDead(t, agent)
				waitCallsDropped(t, real)
			}
			for i := range 2 {
				if got, _ := runtimeAPIs(t, em, "fn", w); got != used {
					t.Errorf("invocation %d after the kill: the runtime used %s; want the proxy's port %s, relayed\n%s", i, got, used, w.String())
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := em.Shutdown(ctx); err != nil {
				t.Errorf("emulator shutdown: %v\n%s", err, w.String())
			}
			logs := w.String()
			if !strings.Contains(logs, "the agent ended unexpectedly; the launcher takes over") ||
				!strings.Contains(logs, `agent_end="killed by signal killed"`) {
				t.Errorf("the launcher did not log the takeover:\n%s", logs)
			}
			m := regexp.MustCompile(`extension shut down without its agent.* takeovers=1 invocations_without_agent=(\d+)`).FindStringSubmatch(logs)
			if m == nil {
				t.Fatalf("the launcher did not answer SHUTDOWN with its counts:\n%s", logs)
			}
			// The two invocations after the kill, and the one it happened
			// in when its event was still to come.
			if n, _ := strconv.Atoi(m[1]); n < 2 {
				t.Errorf("invocations_without_agent=%d; want at least 2", n)
			}
		})
	}
}

// agentPID finds the one process running the agent at path.
func agentPID(t *testing.T, path string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && exe == path {
			return pid
		}
	}
	t.Fatalf("no process runs %s", path)
	return 0
}

// waitDead waits, at most 10 s, until the process pid has exited (a
// zombie, or gone).
func waitDead(t *testing.T, pid int) {
	t.Helper()
	waitState(t, pid, 'Z')
}

// waitCallsDropped waits, at most 10 s, until no TCP connection to the
// API at addr is open on the API's side (established, or closed by the
// peer but not yet by the API).
func waitCallsDropped(t *testing.T, addr string) {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	local := fmt.Sprintf(":%04X ", p)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		table, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			t.Fatal(err)
		}
		open := 0
		for line := range strings.Lines(string(table)) {
			f := strings.Fields(line)
			// sl local_address rem_address st: 01 established, 08 close-wait.
			if len(f) > 3 && strings.HasSuffix(f[1]+" ", local) && (f[3] == "01" || f[3] == "08") {
				open++
			}
		}
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections to %s still open 10 s after the agent died", open, addr)
		}
	}
}

// waitState waits, at most 10 s, until the process pid is in state
// (/proc/pid/stat: 'T' stopped, 'Z' a zombie); a process that is gone is
// taken as a zombie.
func waitState(t *testing.T, pid int, state byte) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil && state == 'Z' {
			return
		}
		// pid (comm) state ...: the state follows the last ')'.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not in state %c within 10 s (%v)", pid, state, err)
		}
	}
}

// waitFor waits, at most 10 s, until the output holds s.
func waitFor(t *testing.T, w *syncWriter, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(w.String(), s); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output within 10 s:\n%s", s, w.String())
		}
	}
}
