package agent

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
)

// managedEnv makes the agent see Lambda Managed Instances.
func managedEnv(o *Options) {
	env := o.Env
	o.Env = func(k string) (string, bool) {
		if k == "AWS_LAMBDA_INITIALIZATION_TYPE" {
			return ManagedInstances, true
		}
		return env(k)
	}
}

// hasStart says a push holds a platform.start.
func hasStart(evs []telemetry.Event) bool {
	return slices.ContainsFunc(evs, func(ev telemetry.Event) bool { return ev.Type == telemetry.TypeStart })
}

// TestShutdownHandlesTheLastPush: on Managed Instances the invocations are
// known from telemetry alone, and AWS's emulator sends its last batch just
// before SHUTDOWN. The push is answered at once and handled after; on a
// starved machine (here its handling is held 300 ms) that is after
// SHUTDOWN. Its invocations' records are shipped all the same, also when
// their reports come in a push after SHUTDOWN.
func TestShutdownHandlesTheLastPush(t *testing.T) {
	ids := []string{"22222222-0000-4000-8000-000000000001", "22222222-0000-4000-8000-000000000002"}
	start := func(id string) string {
		return `{"time":"2025-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"` + id + `","version":"$LATEST"}}`
	}
	line := func(id string) string {
		return `{"time":"2025-03-01T10:00:00.010Z","type":"function","record":"line of ` + id + `"}`
	}
	report := func(id string) string {
		return `{"time":"2025-03-01T10:00:00.060Z","type":"platform.report","record":{"requestId":"` + id + `","status":"success","metrics":{"durationMs":50}}}`
	}
	var all, starts, reports []string
	for _, id := range ids {
		all = append(all, start(id), line(id), report(id))
		starts = append(starts, start(id), line(id))
		reports = append(reports, report(id))
	}
	for _, tc := range []struct {
		name string
		// before is pushed before SHUTDOWN is answered, after 30 ms after.
		before, after []string
	}{
		{"one push before SHUTDOWN", all, nil},
		{"reports after SHUTDOWN", starts, reports},
	} {
		t.Run(tc.name, func(t *testing.T) {
			collector := collectortest.Start(t)
			shutdown := func(int) (extapi.Event, []string) {
				return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "Spindown", DeadlineMs: time.Now().Add(4 * time.Second).UnixMilli()}, tc.after
			}
			f := &fakeLambda{script: shutdown, beforeFirstNext: tc.before}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.Endpoint = collector.Addr
				managedEnv(o)
				o.beforeTelemetry = func(evs []telemetry.Event) {
					if hasStart(evs) {
						time.Sleep(300 * time.Millisecond)
					}
				}
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			f.mu.Lock()
			pushErrs := f.pushErrs
			f.mu.Unlock()
			if len(pushErrs) > 0 {
				t.Errorf("pushes refused: %v", pushErrs)
			}
			var got, lines []string
			for _, req := range collector.Accepted() {
				for _, inv := range req.GetInvocations() {
					got = append(got, inv.GetRequestId())
					if inv.GetIncomplete() {
						t.Errorf("record of %s marked incomplete", inv.GetRequestId())
					}
				}
				for _, rl := range req.GetResourceLogs() {
					for _, sl := range rl.GetScopeLogs() {
						for _, lr := range sl.GetLogRecords() {
							if b := lr.GetBody().GetStringValue(); strings.HasPrefix(b, "line of ") {
								lines = append(lines, b)
							}
						}
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, ids) {
				t.Errorf("records shipped %v, want %v\n%s", got, ids, logs)
			}
			if len(lines) != len(ids) {
				t.Errorf("log lines shipped %q, want one per invocation", lines)
			}
			if strings.Contains(logs.String(), "not handled in time") {
				t.Errorf("pushes reported unhandled:\n%s", logs)
			}
		})
	}
}

// TestShutdownCountsUnhandledPushes: a push answered before SHUTDOWN whose
// handling does not end within the SHUTDOWN deadline is lost; the
// extension does not wait past its deadline for it, and says so with the
// count.
func TestShutdownCountsUnhandledPushes(t *testing.T) {
	collector := collectortest.Start(t)
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	shutdown := func(int) (extapi.Event, []string) {
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "Spindown", DeadlineMs: time.Now().Add(time.Second).UnixMilli()}, nil
	}
	id := "33333333-0000-4000-8000-000000000001"
	f := &fakeLambda{script: shutdown, beforeFirstNext: []string{
		`{"time":"2025-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"` + id + `","version":"$LATEST"}}`,
		`{"time":"2025-03-01T10:00:00.060Z","type":"platform.report","record":{"requestId":"` + id + `","status":"success","metrics":{"durationMs":50}}}`,
	}}
	started := time.Now()
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		managedEnv(o)
		o.beforeTelemetry = func(evs []telemetry.Event) {
			if hasStart(evs) {
				held <- struct{}{}
				<-release
			}
		}
	})
	took := time.Since(started)
	close(release)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	select {
	case <-held:
	default:
		t.Fatal("the push was never handed to the handler")
	}
	// The agent returns at the deadline, not when the push is let go.
	if took > 10*time.Second {
		t.Errorf("Run took %v with a SHUTDOWN deadline 1 s away", took)
	}
	out := logs.String()
	if !strings.Contains(out, "telemetry pushes answered before shutdown were not handled in time") || !strings.Contains(out, "pushes=1 ") {
		t.Errorf("the lost push is not reported with its count:\n%s", out)
	}
	if !strings.Contains(out, "telemetry_pushes_unhandled=1") {
		t.Errorf("the shutdown line does not count the lost push:\n%s", out)
	}
	for _, req := range collector.Accepted() {
		if n := len(req.GetInvocations()); n > 0 {
			t.Errorf("%d records shipped from a push never handled", n)
		}
	}
}
