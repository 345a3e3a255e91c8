package agent

import (
	"log/slog"
	"testing"
	"time"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/shipper"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// TestShippedAfterTheAnswer: with the adaptive flush, what earlier
// invocations left is shipped in the background. A busy function whose
// runtime answers through the proxy has it shipped once it has answered,
// so that encoding and compressing it does not take the CPU from the
// function while it works; a runtime talking to Lambda directly has it
// shipped when the invocation starts, as before; a quiet function (flushed
// at each invocation's end) has it shipped by that flush alone, with no
// background flush beside it.
func TestShippedAfterTheAnswer(t *testing.T) {
	tests := []struct {
		name         string
		avgGap       time.Duration
		proxied      bool
		atInvoke     int // kicks when the invocation starts
		afterAnswer  int // kicks once it has answered
		wantEndFlush bool
	}{
		{"busy, runtime through the proxy", 10 * time.Millisecond, true, 0, 1, false},
		{"busy, runtime talking to Lambda directly", 10 * time.Millisecond, false, 1, 0, false},
		{"quiet, runtime through the proxy", 10 * time.Second, true, 0, 0, true},
		{"quiet, runtime talking to Lambda directly", 10 * time.Second, false, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := slog.New(slog.DiscardHandler)
			buf := buffer.New(1<<20, 1<<20, log)
			tracker := invocation.New(buf, &resourcepb.Resource{}, log)
			ship, err := shipper.New(shipper.DefaultConfig(), buf, log) // no endpoint: nothing is sent
			if err != nil {
				t.Fatal(err)
			}
			ready := make(chan struct{})
			close(ready)
			opts := DefaultOptions()
			opts.Config.Flush = config.FlushAdaptive
			kicks := 0
			a := &Agent{opts: opts, log: log, buf: buf, tracker: tracker, ship: ship, ready: ready,
				invokes: 5, avgGap: tt.avgGap, lastInvoke: time.Now().Add(-tt.avgGap), lastSelf: time.Now()}
			a.kick = func() { kicks++ }
			a.events = newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
				return buf, tracker, &resourcepb.Resource{}
			}, log)
			a.events.onAnswer = a.onAnswer
			answer := func(id string) {
				now := time.Now()
				a.events.Invoked(rtproxy.Event{RequestID: id, Received: now, Body: []byte(`{}`)})
				a.events.Ended(rtproxy.End{RequestID: id, Kind: rtproxy.Response, Started: now, Ended: now, Body: []byte(`{}`), Size: 2})
			}
			if tt.proxied {
				// The invocation before, through the proxy.
				answer("r0")
			}
			kicks = 0
			a.onInvoke(t.Context(), extapi.Event{EventType: extapi.Invoke, RequestID: "r1", DeadlineMs: time.Now().Add(3 * time.Second).UnixMilli()})
			if kicks != tt.atInvoke {
				t.Errorf("%d kicks when the invocation started, want %d", kicks, tt.atInvoke)
			}
			if got := a.endFlush.Load(); got != tt.wantEndFlush {
				t.Errorf("flushed at its end = %v, want %v", got, tt.wantEndFlush)
			}
			if tt.proxied {
				kicks = 0
				answer("r1")
				if kicks != tt.afterAnswer {
					t.Errorf("%d kicks once it answered, want %d", kicks, tt.afterAnswer)
				}
			}
		})
	}
}
