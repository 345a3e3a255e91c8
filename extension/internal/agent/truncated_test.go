package agent

import (
	"log/slog"
	"testing"
	"time"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// TestTruncatedEventIsSniffed: of an event too big to decode the proxy
// keeps only the first bytes (its sniff limit); the trigger is read from
// them as from a whole event too big to decode.
func TestTruncatedEventIsSniffed(t *testing.T) {
	event := sample(t, "sqs-event.json")
	if len(event) > trigger.SniffLen {
		event = event[:trigger.SniffLen]
	}
	log := slog.New(slog.DiscardHandler)
	buf := buffer.New(1<<20, 1<<20, log)
	tracker := invocation.New(buf, &resourcepb.Resource{}, log)
	ready := make(chan struct{})
	close(ready)
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return buf, tracker, &resourcepb.Resource{}
	}, log)
	// Cut inside the JSON: not decodable.
	o.Invoked(rtproxy.Event{RequestID: "r1", Received: time.Now(), Body: []byte(event[:len(event)-10]), Truncated: true})
	o.mu.Lock()
	p := o.pending["r1"]
	o.mu.Unlock()
	if p == nil || p.trig.Kind != trigger.SQS {
		t.Fatalf("pending invocation %+v, want one of an SQS trigger", p)
	}
}
