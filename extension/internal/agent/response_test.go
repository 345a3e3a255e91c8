package agent

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/redact"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// TestResponseOnTheInvocationRecord: the trigger and where it came from,
// where the trace context came from, the status code of a proxy
// integration, the response size and the message of an error the proxy
// saw go on the invocation's record, so that a 5xx answer of a successful
// invocation can be counted as an error. The events are AWS's samples.
// The error message passes the redaction rules before it is cut to its
// bound: a secret at the bound is hidden whole.
func TestResponseOnTheInvocationRecord(t *testing.T) {
	const lambdaHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	long := strings.Repeat("a", invocation.MaxErrorMessage-9) + " card 4111111111111111 declined"
	tests := []struct {
		name, event, lambda string
		kind                rtproxy.Kind
		body                string
		trigger, source     string
		context             string
		status              uint32
		message             string
	}{
		{"API Gateway 503", sample(t, "apigw-request.json"), lambdaHeader, rtproxy.Response, `{"statusCode":503,"body":"busy"}`,
			"apigateway-rest", "POST /{proxy+}", "lambda", 503, ""},
		{"HTTP API", sample(t, "apigw-v2-request-no-authorizer.json"), lambdaHeader, rtproxy.Response, `{"statusCode":200}`,
			"apigateway-http", "GET", "lambda", 200, ""},
		{"WebSocket", sample(t, "apigw-websocket-request.json"), lambdaHeader, rtproxy.Response, `{"statusCode":200}`,
			"apigateway-websocket", "websocket $connect", "lambda", 200, ""},
		{"ALB", sample(t, "alb-lambda-target-request-headers-only.json"), lambdaHeader, rtproxy.Response, `{"statusCode":200}`,
			"alb", "lambda-target", "lambda", 200, ""},
		{"function URL", sample(t, "lambda-urls-request.json"), lambdaHeader, rtproxy.Response, `{"statusCode":201}`,
			"function-url", "POST", "lambda", 201, ""},
		{"SQS with W3C context", sample(t, "sqs-traced.json"), lambdaHeader, rtproxy.Response, `null`, "sqs", "my-queue", "w3c", 0, ""},
		{"SQS", sample(t, "sqs-event.json"), lambdaHeader, rtproxy.Response, `null`, "sqs", "SQSQueue", "lambda", 0, ""},
		{"SNS", sample(t, "sns-event.json"), lambdaHeader, rtproxy.Response, `null`, "sns", "EXAMPLE", "lambda", 0, ""},
		{"S3", sample(t, "s3-event.json"), lambdaHeader, rtproxy.Response, `null`, "s3", "sourcebucket", "lambda", 0, ""},
		{"DynamoDB", sample(t, "dynamodb-event.json"), lambdaHeader, rtproxy.Response, `null`, "dynamodb", "Example-Table", "lambda", 0, ""},
		{"Kinesis", sample(t, "kinesis-event.json"), lambdaHeader, rtproxy.Response, `null`, "kinesis", "simple-stream", "lambda", 0, ""},
		{"EventBridge with W3C context", sample(t, "eventbridge-traced.json"), lambdaHeader, rtproxy.Response, `null`,
			"eventbridge", "aws.ec2 EC2 Instance State-change Notification", "w3c", 0, ""},
		{"schedule", sample(t, "scheduled-event.json"), lambdaHeader, rtproxy.Response, `null`, "schedule", "my-schedule", "lambda", 0, ""},
		{"Step Functions", sample(t, "stepfunctions-context.json"), lambdaHeader, rtproxy.Response, `null`,
			"stepfunctions", "stateMachineName", "lambda", 0, ""},
		{"durable execution", sample(t, "durable-execution-start.json"), lambdaHeader, rtproxy.Response, `null`,
			"durable-execution", "order-123", "durable", 0, ""},
		{"CloudWatch Logs", sample(t, "cloudwatch-logs-event.json"), lambdaHeader, rtproxy.Response, `null`,
			"cloudwatch-logs", "", "lambda", 0, ""},
		{"direct invoke without context", `{"sku":"SKU-1"}`, "", rtproxy.Response, `{"ok":true}`, "direct", "", NoContext, 0, ""},
		{"error redacted", sample(t, "sqs-event.json"), lambdaHeader, rtproxy.Error,
			`{"errorMessage":"card 4111111111111111 declined","errorType":"CardError","stackTrace":["at pay (index.js:3)"]}`,
			"sqs", "SQSQueue", "lambda", 0, "card [REDACTED] declined"},
		{"long error redacted, then cut", `{"sku":"SKU-1"}`, lambdaHeader, rtproxy.Error,
			`{"errorMessage":"` + long + `","errorType":"CardError"}`, "direct", "", "lambda", 0,
			(strings.Repeat("a", invocation.MaxErrorMessage-9) + " card [REDACTED] declined")[:invocation.MaxErrorMessage]},
	}
	red, err := redact.New(nil, []string{`\d{16}`})
	if err != nil {
		t.Fatal(err)
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
			o.redact = red
			now := time.Now()
			o.Invoked(rtproxy.Event{RequestID: "r1", TraceID: tt.lambda, Received: now, Body: []byte(tt.event)})
			o.Ended(rtproxy.End{RequestID: "r1", Kind: tt.kind, Started: now, Ended: now.Add(time.Millisecond),
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
			if inv.GetTriggerSource() != tt.source || inv.GetTraceContextSource() != tt.context {
				t.Errorf("trigger source %q, trace context source %q; want %q, %q", inv.GetTriggerSource(), inv.GetTraceContextSource(), tt.source, tt.context)
			}
			if inv.GetErrorMessage() != tt.message {
				t.Errorf("error message %q, want %q", inv.GetErrorMessage(), tt.message)
			}
			// The inferred span says the same.
			for _, rs := range batch.Request.GetResourceSpans() {
				for _, ss := range rs.GetScopeSpans() {
					if ss.GetScope().GetName() != EventsScope {
						continue
					}
					for _, sp := range ss.GetSpans() {
						if got := spanAttr(sp, "lambdascope.trace_context.source"); contextSource(trigger.SpanContext{Source: trigger.Source(got)}) != tt.context {
							t.Errorf("inferred span's context source %q, record's %q", got, tt.context)
						}
						if tt.message != "" && sp.GetStatus().GetMessage() != tt.message {
							t.Errorf("inferred span's status message %q, want %q", sp.GetStatus().GetMessage(), tt.message)
						}
					}
				}
			}
		})
	}
}
