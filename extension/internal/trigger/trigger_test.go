package trigger

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func attr(t Trigger, key string) string {
	for _, a := range t.Attrs {
		if a.Key == key {
			if a.IsBool {
				return strconv.FormatBool(a.Bool)
			}
			if a.IsInt {
				return string(rune('0' + a.Int)) // small counts only
			}
			return a.Str
		}
	}
	return ""
}

// TestDetectSampleEvents reads AWS's published sample events (testdata,
// sources in testdata/README.md).
func TestDetectSampleEvents(t *testing.T) {
	tests := []struct {
		file    string
		kind    Kind
		name    string
		start   time.Time
		records int
		attrs   map[string]string
		ctx     Context
	}{
		{"apigw-request.json", APIGatewayREST, "POST /{proxy+}", time.UnixMilli(1589522469693), 0,
			map[string]string{"http.request.method": "POST", "http.route": "/{proxy+}", "url.path": "/hello/world", "faas.trigger": "http",
				"aws.apigateway.api_id": "gy415nuibc", "aws.apigateway.stage": "testStage"}, Context{}},
		{"apigw-v2-request-no-authorizer.json", APIGatewayHTTP, "GET", time.UnixMilli(1587481701067), 0,
			map[string]string{"http.request.method": "GET", "http.route": "", "url.path": "/", "faas.trigger": "http"},
			Context{XRay: "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c"}},
		{"apigw-websocket-request.json", APIGatewayWebSocket, "websocket $connect", time.Time{}, 0,
			map[string]string{"aws.apigateway.websocket.event_type": "CONNECT", "faas.trigger": "http"},
			Context{XRay: "Root=*"}},
		{"alb-lambda-target-request-headers-only.json", ALB, "GET", time.Time{}, 0,
			map[string]string{"http.request.method": "GET", "url.path": "/", "faas.trigger": "http"},
			Context{XRay: "Root=1-5c34e93e-4dea0086f9763ac0667b115a"}},
		{"lambda-urls-request.json", FunctionURL, "POST", time.UnixMilli(1583348638390), 0,
			map[string]string{"http.request.method": "POST", "url.path": "/my/path", "server.address": "<url-id>.lambda-url.us-west-2.on.aws"}, Context{}},
		{"sqs-event.json", SQS, "SQSQueue process", time.UnixMilli(1520621625029), 1,
			map[string]string{"messaging.system": "aws_sqs", "messaging.destination.name": "SQSQueue", "faas.trigger": "pubsub",
				"messaging.operation.type": "process", "cloud.region": "us-west-2"}, Context{}},
		{"sqs-traced.json", SQS, "my-queue process", time.UnixMilli(1545082649183), 2, nil,
			Context{XRay: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
				Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Tracestate: "congo=t61rcWkgMzE"}},
		// An SNS notification delivered to a queue (raw delivery off): the
		// producer's context is in the envelope's MessageAttributes.
		{"sqs-sns-envelope.json", SQS, "my-queue process", time.UnixMilli(1545082649183), 2, nil,
			Context{Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Tracestate: "congo=t61rcWkgMzE"}},
		// The same with the producer's context as Datadog's tracers send
		// it through SNS: a _datadog attribute of type Binary.
		{"sqs-sns-envelope-datadog.json", SQS, "my-queue process", time.UnixMilli(1545082649183), 2, nil,
			Context{Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Tracestate: "dd=s:1;p:00f067aa0ba902b7;t.dm:-0"}},
		// An EventBridge event a rule sent to a queue: the context is in its
		// detail, beside the queue's own X-Ray header.
		{"sqs-eventbridge-envelope.json", SQS, "my-queue process", time.UnixMilli(1545082649183), 1, nil,
			Context{XRay: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
				Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
		{"sns-event.json", SNS, "EXAMPLE process", time.Date(2015, 6, 3, 17, 43, 27, 123e6, time.UTC), 1,
			map[string]string{"messaging.system": "aws_sns", "messaging.message.id": "95df01b4-ee98-5cb9-9903-4c221d41eb5e"}, Context{}},
		{"s3-event.json", S3, "sourcebucket process", time.UnixMilli(123), 1,
			map[string]string{"messaging.system": "aws_s3", "faas.trigger": "datasource", "faas.document.operation": "ObjectCreated:Put"}, Context{}},
		{"dynamodb-event.json", DynamoDB, "Example-Table process", time.Unix(1480642020, 0), 2,
			map[string]string{"messaging.system": "aws_dynamodb", "faas.trigger": "datasource"}, Context{}},
		{"kinesis-event.json", Kinesis, "simple-stream process", time.UnixMilli(1480641523477), 2,
			map[string]string{"messaging.system": "aws_kinesis"}, Context{}},
		{"eventbridge-event.json", EventBridge, "aws.ec2 EC2 Instance State-change Notification", time.Date(2017, 12, 22, 18, 43, 48, 0, time.UTC), 0,
			map[string]string{"aws.eventbridge.source": "aws.ec2", "faas.trigger": "pubsub"}, Context{}},
		// A W3C context in the detail, as keys of the detail or Datadog's.
		{"eventbridge-traced.json", EventBridge, "aws.ec2 EC2 Instance State-change Notification", time.Date(2017, 12, 22, 18, 43, 48, 0, time.UTC), 0,
			map[string]string{"aws.eventbridge.source": "aws.ec2"},
			Context{Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Tracestate: "congo=t61rcWkgMzE", Baggage: "userId=alice"}},
		{"eventbridge-datadog.json", EventBridge, "aws.ec2 EC2 Instance State-change Notification", time.Date(2017, 12, 22, 18, 43, 48, 0, time.UTC), 0,
			map[string]string{"aws.eventbridge.source": "aws.ec2"},
			Context{Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Tracestate: "dd=s:1;t.dm:-0,congo=t61rcWkgMzE"}},
		{"scheduled-event.json", Schedule, "schedule my-schedule", time.Date(2019, 3, 1, 1, 23, 45, 0, time.UTC), 0,
			map[string]string{"faas.trigger": "timer", "aws.eventbridge.rule": "arn:aws:events:us-east-2:123456789012:rule/my-schedule"}, Context{}},
		{"cloudwatch-logs-event.json", CloudWatchLogs, "cloudwatch logs subscription", time.Time{}, 0, nil, Context{}},
		{"durable-execution-start.json", DurableExecution, "durable execution order-123", time.UnixMilli(1763644102345), 0,
			map[string]string{"faas.trigger": "other", "aws.lambda.durable.replay": "false", "aws.lambda.durable.operations": "0",
				"aws.lambda.durable.execution.name": "order-123", "aws.lambda.durable.execution.id": "9f7d84c9-ea3d-3ffc-b3e5-5ec51c34ffc9",
				"aws.lambda.durable.execution.arn": "arn:aws:lambda:us-east-1:123456789012:function:my-function:1/durable-execution/order-123/9f7d84c9-ea3d-3ffc-b3e5-5ec51c34ffc9"},
			Context{}},
		// A replay: the hop starts where the wait that resumed it ended.
		{"durable-execution-replay.json", DurableExecution, "durable execution order-123", time.UnixMilli(1763644402630), 0,
			map[string]string{"aws.lambda.durable.replay": "true", "aws.lambda.durable.operations": "2"}, Context{}},
		{"stepfunctions-context.json", StepFunctions, "stepfunctions stateMachineName", time.Time{}, 0,
			map[string]string{"aws.stepfunctions.execution.arn": "arn:aws:states:us-east-1:123456789012:execution:stateMachineName:executionName"}, Context{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := Detect(b)
			if got.Kind != tt.kind || got.Name != tt.name || !got.Start.Equal(tt.start) || got.Records != tt.records {
				t.Errorf("Detect = %s %q start %v records %d; want %s %q start %v records %d",
					got.Kind, got.Name, got.Start, got.Records, tt.kind, tt.name, tt.start, tt.records)
			}
			for k, v := range tt.attrs {
				if g := attr(got, k); g != v {
					t.Errorf("attribute %s = %q, want %q (all: %+v)", k, g, v, got.Attrs)
				}
			}
			if got.Context != tt.ctx {
				t.Errorf("context %+v, want %+v", got.Context, tt.ctx)
			}
		})
	}
}

func TestDetectDirectAndOdd(t *testing.T) {
	for _, ev := range []string{`{"sku":"SKU-1"}`, `"just a string"`, `[1,2]`, `not json`, ``, `{"Records":[{"eventSource":"aws:unknown"}]}`,
		`{"requestContext":{}}`, `{"Records":[]}`, `null`} {
		if got := Detect([]byte(ev)); got.Kind != Direct {
			t.Errorf("Detect(%q) = %s, want direct", ev, got.Kind)
		}
	}
}

// TestDetectBigEventIsSniffed: an event over MaxDecode is classified from
// its first bytes.
func TestDetectBigEventIsSniffed(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "sqs-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	big := append(bytes.TrimSuffix(bytes.TrimSpace(b), []byte("}")), []byte(`,"padding":"`+strings.Repeat("x", MaxDecode)+`"}`)...)
	if got := Detect(big); got.Kind != SQS {
		t.Errorf("big SQS event detected as %s", got.Kind)
	}
}

func TestResolvePrecedence(t *testing.T) {
	c := Context{Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Tracestate: "congo=t61rcWkgMzE",
		XRay: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}
	lambda := "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0"
	tests := []struct {
		name    string
		c       Context
		order   []Source
		want    Source
		traceID string
		spanID  string
		sampled bool
	}{
		{"w3c first", c, DefaultPrecedence, W3C, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", true},
		{"xray first", c, []Source{XRay, W3C}, XRay, "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", true},
		{"lambda only", c, []Source{Lambda}, Lambda, "5bef4de7ad49b0e87f6ef6c87fc2e700", "9a9197af755a6419", false},
		{"bad w3c falls through", Context{Traceparent: "00-00000000000000000000000000000000-b7ad6b7169203331-01", XRay: c.XRay}, DefaultPrecedence, XRay,
			"5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", true},
		{"nothing in the event", Context{}, DefaultPrecedence, Lambda, "5bef4de7ad49b0e87f6ef6c87fc2e700", "9a9197af755a6419", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, ok := Resolve(tt.c, lambda, tt.order)
			if !ok || sc.Source != tt.want || hex.EncodeToString(sc.TraceID[:]) != tt.traceID ||
				hex.EncodeToString(sc.SpanID[:]) != tt.spanID || sc.Sampled != tt.sampled {
				t.Errorf("Resolve = %+v, %v; want %s %s %s sampled=%v", sc, ok, tt.want, tt.traceID, tt.spanID, tt.sampled)
			}
		})
	}
	if _, ok := Resolve(Context{}, "", DefaultPrecedence); ok {
		t.Error("Resolve found a context in nothing")
	}
	if _, ok := Resolve(Context{XRay: "Root=1-5759e988-bd862e3fe1be46a994272793"}, "", DefaultPrecedence); ok {
		t.Error("an X-Ray header without Parent was taken")
	}
}

func TestXRayHeaderRoundTrip(t *testing.T) {
	sc, err := ParseXRay("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	if err != nil {
		t.Fatal(err)
	}
	if got := XRayHeader(sc.TraceID, sc.SpanID, sc.Sampled); got != "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1" {
		t.Errorf("XRayHeader = %q", got)
	}
}

func TestParsePrecedence(t *testing.T) {
	got, err := ParsePrecedence(" XRay , w3c")
	if err != nil || len(got) != 2 || got[0] != XRay || got[1] != W3C {
		t.Errorf("ParsePrecedence = %v, %v", got, err)
	}
	for _, bad := range []string{"", "w3c,zipkin", "w3c,w3c"} {
		if _, err := ParsePrecedence(bad); err == nil {
			t.Errorf("ParsePrecedence(%q) took it", bad)
		}
	}
}

func TestStatusCode(t *testing.T) {
	tests := []struct {
		body string
		code int
		ok   bool
	}{
		{`{"statusCode":201,"body":"x"}`, 201, true},
		{`{"body":"{\"statusCode\":500}","statusCode":503}`, 503, true},
		{`{"statusCode":"200"}`, 200, true},
		{`{"statusCode":42}`, 0, false},
		{`"hello"`, 0, false},
		{`{"statusCode":404,"headers":{}}` + "\x00\x00\x00\x00\x00\x00\x00\x00streamed body", 404, true},
		{`{"nested":{"statusCode":500}}`, 0, false},
	}
	for _, tt := range tests {
		if code, ok := StatusCode([]byte(tt.body)); code != tt.code || ok != tt.ok {
			t.Errorf("StatusCode(%q) = %d, %v; want %d, %v", tt.body, code, ok, tt.code, tt.ok)
		}
	}
}

func TestErrorOf(t *testing.T) {
	typ, msg, cut := ErrorOf([]byte(`{"errorMessage":"héllo wörld","errorType":"Runtime.Boom","stackTrace":["a"]}`), 2)
	if typ != "Ru" || msg != "h" || !cut {
		t.Errorf("ErrorOf = %q, %q, cut %v; want the type and the message cut at a character boundary", typ, msg, cut)
	}
	if typ, msg, cut := ErrorOf([]byte(`oops`), 10); typ != "" || msg != "" || cut {
		t.Errorf("ErrorOf(bad) = %q, %q, %v", typ, msg, cut)
	}
}

func FuzzDetect(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Detect(b)
		if got.Kind == "" || got.Name == "" {
			t.Fatalf("Detect(%q) = %+v: no kind or name", b, got)
		}
		_, _ = Resolve(got.Context, string(b), DefaultPrecedence)
		_, _ = StatusCode(b)
		_, _, _ = ErrorOf(b, 16)
	})
}

// TestBatchRecordsLinked: each SQS record with a trace context of its own
// is listed with its message ID, the others are not.
func TestBatchRecordsLinked(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "sqs-traced.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := Detect(b)
	if len(got.Linked) != 1 || got.Linked[0].MessageID != "059f36b4-87a3-44ab-83d2-661975830a7d" ||
		got.Linked[0].Context.Traceparent != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
		t.Errorf("linked %+v, want the first record only", got.Linked)
	}
	batch := `{"Records":[` +
		`{"eventSource":"aws:sns","Sns":{"MessageId":"m1","TopicArn":"arn:aws:sns:eu-west-1:1:orders","MessageAttributes":{"traceparent":{"Type":"String","Value":"00-11111111111111111111111111111111-1111111111111111-01"}}}},` +
		`{"eventSource":"aws:sns","Sns":{"MessageId":"m2","TopicArn":"arn:aws:sns:eu-west-1:1:orders","MessageAttributes":{"traceparent":{"Type":"String","Value":"00-22222222222222222222222222222222-2222222222222222-01"}}}}]}`
	got = Detect([]byte(batch))
	if len(got.Linked) != 2 || got.Linked[1].MessageID != "m2" || !strings.HasPrefix(got.Linked[1].Context.Traceparent, "00-2222") {
		t.Errorf("linked %+v, want both SNS records", got.Linked)
	}
	if got.Kind != SNS || got.Name != "orders process" {
		t.Errorf("Detect = %s %q", got.Kind, got.Name)
	}
}

func TestImpliedStatus(t *testing.T) {
	for k, want := range map[Kind]int{APIGatewayHTTP: 200, FunctionURL: 200, APIGatewayREST: 502, ALB: 502, APIGatewayWebSocket: 0, SQS: 0} {
		code, ok := ImpliedStatus(k)
		if code != want || ok != (want != 0) {
			t.Errorf("ImpliedStatus(%s) = %d, %v; want %d", k, code, ok, want)
		}
	}
}

// TestCaptureHeaders: only the headers named are kept, from "headers" or
// else "multiValueHeaders", whatever their case; no others.
func TestCaptureHeaders(t *testing.T) {
	rest := sampleEvent(t, "apigw-request.json")
	alb := sampleEvent(t, "alb-lambda-target-request-headers-only.json")
	got := DetectWith(rest, Options{Headers: []string{"user-agent", "x-not-there", "accept-encoding"}})
	if v := attr(got, "http.request.header.user-agent"); v != "PostmanRuntime/2.4.5" {
		t.Errorf("user-agent %q (attrs %+v)", v, got.Attrs)
	}
	if v := attr(got, "http.request.header.accept-encoding"); v != "gzip, deflate" {
		t.Errorf("accept-encoding %q", v)
	}
	for _, a := range got.Attrs {
		if strings.HasPrefix(a.Key, "http.request.header.") && a.Key != "http.request.header.user-agent" && a.Key != "http.request.header.accept-encoding" {
			t.Errorf("header not named was kept: %+v", a)
		}
	}
	for _, a := range Detect(rest).Attrs {
		if strings.HasPrefix(a.Key, "http.request.header.") {
			t.Errorf("a header was kept with none named: %+v", a)
		}
	}
	if v := attr(DetectWith(alb, Options{Headers: []string{"user-agent"}}), "http.request.header.user-agent"); v == "" {
		t.Error("ALB user-agent not captured")
	}
	// Not an HTTP trigger: nothing is captured.
	for _, a := range DetectWith(sampleEvent(t, "sqs-event.json"), Options{Headers: []string{"user-agent"}}).Attrs {
		if strings.HasPrefix(a.Key, "http.request.header.") {
			t.Errorf("header on an SQS trigger: %+v", a)
		}
	}
	multi := `{"httpMethod":"GET","requestContext":{"resourcePath":"/"},"multiValueHeaders":{"User-Agent":["curl/8","other"]}}`
	if v := attr(DetectWith([]byte(multi), Options{Headers: []string{"user-agent"}}), "http.request.header.user-agent"); v != "curl/8" {
		t.Errorf("multi-value user-agent %q, want the first", v)
	}
}

func sampleEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pinnedDurableTrace is the trace ID of the sample execution:
// SHA-256("lambdascope durable execution\x00" + ARN), its first 16 bytes.
const pinnedDurableTrace = "4b8793ce128267ebe7d44ea8cccf1525"

// TestDurableTrace: the trace of a durable execution is derived from its
// ARN alone, the same in every environment, and differs between
// executions.
func TestDurableTrace(t *testing.T) {
	const arn = "arn:aws:lambda:us-east-1:123456789012:function:my-function:1/durable-execution/order-123/9f7d84c9-ea3d-3ffc-b3e5-5ec51c34ffc9"
	t1, r1 := DurableTrace(arn)
	t2, r2 := DurableTrace(arn)
	t3, r3 := DurableTrace(strings.Replace(arn, "order-123", "order-124", 1))
	if t1 != t2 || r1 != r2 {
		t.Error("the same ARN gave two traces")
	}
	if t1 == t3 || r1 == r3 {
		t.Error("two executions share a trace")
	}
	if t1 == ([16]byte{}) || r1 == ([8]byte{}) {
		t.Error("zero ID")
	}
	// Pinned: a change of the derivation splits the traces of executions
	// running across it.
	if got := hex.EncodeToString(t1[:]); got != pinnedDurableTrace {
		t.Errorf("trace ID %s, want %s", got, pinnedDurableTrace)
	}
	for _, ev := range []string{`{"DurableExecutionArn":"not-an-execution"}`, `{"DurableExecutionArn":5}`} {
		if got := Detect([]byte(ev)); got.Kind == DurableExecution {
			t.Errorf("Detect(%s) = %s", ev, got.Kind)
		}
	}
	// Timestamps as RFC 3339 text are read too.
	got := Detect([]byte(`{"DurableExecutionArn":"` + arn + `","InitialExecutionState":{"Operations":[{"Type":"EXECUTION","StartTimestamp":"2025-11-20T13:08:22.345Z"}]}}`))
	if !got.Start.Equal(time.Date(2025, 11, 20, 13, 8, 22, 345e6, time.UTC)) || got.Durable == nil || got.Durable.Replay {
		t.Errorf("Detect = %+v", got)
	}
}

// TestEventBridgeDetailContext: the W3C context of an EventBridge event
// is its detail's own traceparent when valid, else the one under
// _datadog; Lambda's header comes after it in the default order.
func TestEventBridgeDetailContext(t *testing.T) {
	const (
		tp   = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		tpDD = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		head = `{"version":"0","detail-type":"OrderPlaced","source":"shop.orders","time":"2026-12-06T10:00:00Z","detail":`
	)
	tests := []struct {
		name   string
		detail string
		want   Context
	}{
		{"own", `{"traceparent":"` + tp + `","tracestate":"a=1","baggage":"k=v"}`, Context{Traceparent: tp, Tracestate: "a=1", Baggage: "k=v"}},
		{"own before datadog", `{"_datadog":{"traceparent":"` + tpDD + `","tracestate":"dd=s:1"},"traceparent":"` + tp + `"}`,
			Context{Traceparent: tp}},
		{"datadog when own is malformed", `{"traceparent":"00-xyz","tracestate":"a=1","_datadog":{"traceparent":"` + tpDD + `","tracestate":"dd=s:1"}}`,
			Context{Traceparent: tpDD, Tracestate: "dd=s:1"}},
		{"datadog alone", `{"_datadog":{"x-datadog-trace-id":"1","traceparent":"` + tpDD + `"}}`, Context{Traceparent: tpDD}},
		{"keys folded as encoding/json does", `{"TraceParent":"` + tp + `"}`, Context{Traceparent: tp}},
		{"not a string", `{"traceparent":{"v":"` + tp + `"},"tracestate":5}`, Context{}},
		{"datadog not an object", `{"_datadog":"` + tp + `"}`, Context{}},
		{"detail not an object", `["` + tp + `"]`, Context{}},
		{"nested deeper", `{"order":{"traceparent":"` + tp + `"}}`, Context{}},
		{"none", `{}`, Context{}},
	}
	lambda := "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := []byte(head + tt.detail + `}`)
			got := Detect(ev)
			if got.Kind != EventBridge {
				t.Fatalf("kind %s, want %s", got.Kind, EventBridge)
			}
			if got.Context != tt.want {
				t.Errorf("context %+v, want %+v", got.Context, tt.want)
			}
			if std := detectStd(ev); std.Context != got.Context {
				t.Errorf("encoding/json reads context %+v, the scanner %+v", std.Context, got.Context)
			}
			sc, ok := Resolve(got.Context, lambda, DefaultPrecedence)
			wantSrc := Lambda
			if tt.want.Traceparent != "" {
				wantSrc = W3C
			}
			if !ok || sc.Source != wantSrc {
				t.Errorf("resolved from %q (%v), want %q", sc.Source, ok, wantSrc)
			}
		})
	}
	// Only an EventBridge event's detail is read.
	if got := Detect([]byte(`{"detail":{"traceparent":"` + tp + `"}}`)); got.Kind != Direct || got.Context != (Context{}) {
		t.Errorf("a direct invocation's detail: %s, context %+v", got.Kind, got.Context)
	}
}

// TestMessageDatadogContext: the W3C context of an SQS or SNS message is
// its own traceparent attribute when valid, else the one in its _datadog
// attribute (JSON as text, or base64 when its type is Binary), as of an
// EventBridge event's detail; the same holds for the attributes of an SNS
// envelope in an SQS message's body.
func TestMessageDatadogContext(t *testing.T) {
	const (
		tp   = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		tpDD = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	)
	ddJSON := `{"x-datadog-trace-id":"11803532876627986230","traceparent":"` + tpDD + `","tracestate":"dd=s:1"}`
	ddText, _ := json.Marshal(ddJSON)
	ddB64 := `"` + base64.StdEncoding.EncodeToString([]byte(ddJSON)) + `"`
	sqs := func(attrs string) string {
		return `{"Records":[{"messageId":"m1","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-2:123456789012:my-queue",` +
			`"attributes":{"SentTimestamp":"1545082649183"},"messageAttributes":{` + attrs + `},"body":"x"}]}`
	}
	sns := func(attrs string) string {
		return `{"Records":[{"EventSource":"aws:sns","Sns":{"MessageId":"m1","TopicArn":"arn:aws:sns:us-east-2:123456789012:orders",` +
			`"Timestamp":"2018-12-17T21:37:29.183Z","MessageAttributes":{` + attrs + `}}}]}`
	}
	envelope := func(attrs string) string {
		body, _ := json.Marshal(`{"Type":"Notification","MessageId":"n1","TopicArn":"arn:aws:sns:us-east-2:123456789012:orders","MessageAttributes":{` + attrs + `}}`)
		return `{"Records":[{"messageId":"m1","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-2:123456789012:my-queue",` +
			`"attributes":{"SentTimestamp":"1545082649183"},"messageAttributes":{},"body":` + string(body) + `}]}`
	}
	want := Context{Traceparent: tpDD, Tracestate: "dd=s:1"}
	tests := []struct {
		name, event string
		want        Context
	}{
		{"sqs string", sqs(`"_datadog":{"dataType":"String","stringValue":` + string(ddText) + `}`), want},
		{"sqs binary", sqs(`"_datadog":{"dataType":"Binary","binaryValue":` + ddB64 + `}`), want},
		{"sqs own before datadog", sqs(`"traceparent":{"dataType":"String","stringValue":"` + tp + `"},"_datadog":{"dataType":"String","stringValue":` + string(ddText) + `}`),
			Context{Traceparent: tp}},
		{"sqs datadog when own is malformed", sqs(`"traceparent":{"stringValue":"00-xyz"},"tracestate":{"stringValue":"a=1"},"_datadog":{"dataType":"String","stringValue":` + string(ddText) + `}`), want},
		{"sns string", sns(`"_datadog":{"Type":"String","Value":` + string(ddText) + `}`), want},
		{"sns binary", sns(`"_datadog":{"Type":"Binary","Value":` + ddB64 + `}`), want},
		{"envelope string", envelope(`"_datadog":{"Type":"String","Value":` + string(ddText) + `}`), want},
		{"envelope binary", envelope(`"_datadog":{"Type":"Binary","Value":` + ddB64 + `}`), want},
		{"envelope own before datadog", envelope(`"traceparent":{"Type":"String","Value":"` + tp + `"},"_datadog":{"Type":"Binary","Value":` + ddB64 + `}`),
			Context{Traceparent: tp}},
		{"binary not base64", sns(`"_datadog":{"Type":"Binary","Value":"%%%"}`), Context{}},
		{"binary read as text", sns(`"_datadog":{"Type":"String","Value":` + ddB64 + `}`), Context{}},
		{"not a JSON object", sqs(`"_datadog":{"dataType":"String","stringValue":"` + tpDD + `"}`), Context{}},
		{"type not a string", sns(`"_datadog":{"Type":1,"Value":` + string(ddText) + `}`), want},
		{"other attributes' types are not read", sqs(`"tenant":{"dataType":5,"binaryValue":[1],"stringValue":"t"}`), Context{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect([]byte(tt.event))
			if got.Kind != SQS && got.Kind != SNS {
				t.Fatalf("kind %s, want SQS or SNS", got.Kind)
			}
			if got.Context != tt.want {
				t.Errorf("context %+v, want %+v", got.Context, tt.want)
			}
			if std := detectStd([]byte(tt.event)); std.Context != got.Context {
				t.Errorf("encoding/json reads context %+v, the scanner %+v", std.Context, got.Context)
			}
			if tt.want.Traceparent != "" && (len(got.Linked) != 1 || got.Linked[0].Context.Traceparent != tt.want.Traceparent) {
				t.Errorf("links %+v, want the record linked with its context", got.Linked)
			}
		})
	}
}

// TestDurableTimestampsInMilliseconds: a durable execution's operation
// timestamps read the same in seconds (as the Lambda API writes them) and
// in milliseconds since the epoch.
func TestDurableTimestampsInMilliseconds(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "durable-execution-replay.json"))
	if err != nil {
		t.Fatal(err)
	}
	inSeconds := Detect(b)
	ms := regexp.MustCompile(`(Timestamp": )(\d+)\.(\d{3})`).ReplaceAll(b, []byte("${1}${2}${3}"))
	if bytes.Equal(ms, b) {
		t.Fatal("no timestamp rewritten")
	}
	inMillis := Detect(ms)
	if want := time.UnixMilli(1763644402630); !inSeconds.Start.Equal(want) || !inMillis.Start.Equal(want) {
		t.Errorf("start %v in seconds, %v in milliseconds; want %v", inSeconds.Start, inMillis.Start, want)
	}
	if std := detectStd(ms); !std.Start.Equal(inMillis.Start) {
		t.Errorf("encoding/json reads %v, the scanner %v", std.Start, inMillis.Start)
	}
}

// TestTraceHeadersHexAsEncodingHex: the trace headers' hex digits read as
// encoding/hex reads them, of either case, and a byte that is none refused
// in each part.
func TestTraceHeadersHexAsEncodingHex(t *testing.T) {
	ref := func(parts ...string) (ids []byte, ok bool) {
		for _, p := range parts {
			b, err := hex.DecodeString(p)
			if err != nil {
				return nil, false
			}
			ids = append(ids, b...)
		}
		return ids, true
	}
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, s := range []string{tp, strings.ToUpper(tp), "00-0AF7651916cd43dd8448eb211c80319C-B7ad6b7169203331-0F",
		"00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333 -01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0:", "00-/af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0\xff", "00-0af7651916cd43dd8448eb211c80319c-`7ad6b7169203331-01"} {
		sc, err := ParseTraceparent(s)
		want, ok := ref(s[3:35], s[36:52], s[53:55])
		if got := append(append(sc.TraceID[:], sc.SpanID[:]...), byte(map[bool]int{false: 0, true: 1}[sc.Sampled])); (err == nil) != ok ||
			ok && (!bytes.Equal(got[:24], want[:24]) || got[24] != want[24]&1) {
			t.Errorf("ParseTraceparent(%q) = %x, %v; encoding/hex: %x, %v", s, got, err, want, ok)
		}
	}
	const xr = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	for _, s := range []string{xr, "Root=1-5759E988-BD862e3fe1be46a994272793;Parent=53995C3F42cd8ad8",
		"Root=1-5759e98G-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", "Root=1-5759e988-bd862e3fe1be46a99427279h;Parent=53995c3f42cd8ad8",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad@"} {
		sc, err := ParseXRay(s)
		root, parent := s[5:40], s[48:64]
		want, ok := ref(root[2:10], root[11:], parent)
		if got := append(sc.TraceID[:], sc.SpanID[:]...); (err == nil) != ok || ok && !bytes.Equal(got, want) {
			t.Errorf("ParseXRay(%q) = %x, %v; encoding/hex: %x, %v", s, got, err, want, ok)
		}
	}
}
