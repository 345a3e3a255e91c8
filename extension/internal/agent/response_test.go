package agent

import (
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

// TestResponseOnTheInvocationRecord: the trigger, the status code of a
// proxy integration and the response size the proxy saw go on the
// invocation's record, so that a 5xx answer of a successful invocation
// can be counted as an error.
func TestResponseOnTheInvocationRecord(t *testing.T) {
	tests := []struct {
		name, event string
		body        string
		trigger     string
		status      uint32
	}{
		{"API Gateway 503", sample(t, "apigw-request.json"), `{"statusCode":503,"body":"busy"}`, "apigateway-rest", 503},
		{"direct invoke", `{"sku":"SKU-1"}`, `{"ok":true}`, "direct", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := slog.New(slog.DiscardHandler)
			buf := buffer.New(1<<20, 1<<20, log)
			tracker := invocation.New(buf, &resourcepb.Resource{}, log)
			ready := make(chan struct{})
			close(ready)
			o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
				return buf, tracker, &resourcepb.Resource{}
			}, log)
			now := time.Now()
			o.Invoked(rtproxy.Event{RequestID: "r1", Received: now, Body: []byte(tt.event)})
			o.Ended(rtproxy.End{RequestID: "r1", Kind: rtproxy.Response, Started: now, Ended: now.Add(time.Millisecond),
				Body: []byte(tt.body), Size: int64(len(tt.body))})
			evs, err := telemetry.Parse([]byte(`[
				{"time": "2025-10-13T19:48:00.000Z", "type": "platform.start", "record": {"requestId": "r1"}},
				{"time": "2025-10-13T19:48:00.100Z", "type": "platform.report", "record": {"requestId": "r1", "status": "success",
					"metrics": {"durationMs": 100, "billedDurationMs": 100, "memorySizeMB": 128, "maxMemoryUsedMB": 60}}}]`))
			if err != nil {
				t.Fatal(err)
			}
			tracker.HandleTelemetry(evs)
			batch := buf.Take(1 << 20)
			if batch == nil || len(batch.Request.GetInvocations()) != 1 {
				t.Fatalf("batch = %v, want one invocation", batch)
			}
			inv := batch.Request.GetInvocations()[0]
			if inv.GetTrigger() != tt.trigger || inv.GetHttpStatusCode() != tt.status || inv.GetResponseSize() != uint64(len(tt.body)) {
				t.Errorf("record = %v, want trigger %s, status code %d, %d bytes", inv, tt.trigger, tt.status, len(tt.body))
			}
		})
	}
}
