package agent

import (
	"context"
	"log/slog"
	"testing"
	"time"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// TestWaitEndQuietBound: the wait for an invocation's end gives up after
// a quiet telemetry stream only while the Runtime API proxy has not seen
// the runtime take the invocation; once it has, a function working
// silently for longer than the bound is waited for until its answer, so
// its spans and outcome ship before the freeze.
func TestWaitEndQuietBound(t *testing.T) {
	const quiet = 20 * time.Millisecond
	tests := []struct {
		name  string
		taken bool
		want  endedBy
	}{
		{"runtime through the proxy, silent past the bound", true, endAnswered},
		{"runtime talking to Lambda directly", false, endQuiet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := slog.New(slog.DiscardHandler)
			buf := buffer.New(1<<20, 1<<20, log)
			tracker := invocation.New(buf, &resourcepb.Resource{}, log)
			ready := make(chan struct{})
			close(ready)
			a := &Agent{tracker: tracker, log: log}
			a.events = newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
				return buf, tracker, &resourcepb.Resource{}
			}, log)
			tracker.ObserveInvoke("r1", "")
			evs, err := telemetry.Parse([]byte(`[{"time": "2025-10-13T19:48:00.000Z", "type": "platform.start", "record": {"requestId": "r1"}}]`))
			if err != nil {
				t.Fatal(err)
			}
			tracker.HandleTelemetry(evs)
			now := time.Now()
			if tt.taken {
				a.events.Invoked(rtproxy.Event{RequestID: "r1", Received: now, Body: []byte(`{}`)})
			}
			// The answer comes well after the quiet bound: the
			// function worked silently meanwhile.
			answer := time.AfterFunc(10*quiet, func() {
				a.events.Ended(rtproxy.End{RequestID: "r1", Kind: rtproxy.Response, Started: now, Ended: time.Now(), Body: []byte(`{}`), Size: 2})
			})
			t.Cleanup(func() { answer.Stop() })
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if got := a.waitEnd(ctx, "r1", quiet); got != tt.want {
				t.Errorf("waitEnd = %d, want %d", got, tt.want)
			}
		})
	}
}
