package agent

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/redact"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/selfmetrics"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

func sample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "trigger", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func spanAttr(sp *tracepb.Span, key string) string {
	for _, kv := range sp.GetAttributes() {
		if kv.GetKey() == key {
			v := kv.GetValue()
			if _, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
				return fmt.Sprint(v.GetIntValue())
			}
			return v.GetStringValue()
		}
	}
	return ""
}

// TestRuntimeProxyDerivesFromEvents runs the agent with a runtime that
// takes its events and gives its answers through the proxy, while Lambda
// never sends platform.runtimeDone. The runtime's answer ends the wait at
// the end of each invocation (nothing is counted late, no wait runs into
// the bound), and the inferred span of each trigger reaches the collector
// in the caller's trace, with the outcome.
func TestRuntimeProxyDerivesFromEvents(t *testing.T) {
	collector := collectortest.Start(t)
	f := &fakeLambda{}
	ids := []string{"6f1d0b7a-0000-4000-8000-000000000001", "6f1d0b7a-0000-4000-8000-000000000002"}
	f.runtimeEvents = []runtimeEvent{{ids[0], sample(t, "sqs-traced.json")}, {ids[1], sample(t, "apigw-v2-request-no-authorizer.json")}}
	answers := []string{`"done"`, `{"statusCode":503,"body":"busy"}`}
	var announced string // the announcement file in the agent's $TMPDIR
	f.script = func(n int) (extapi.Event, []string) {
		if n < len(ids) {
			return extapi.Event{EventType: extapi.Invoke, RequestID: ids[n], DeadlineMs: time.Now().Add(3 * time.Second).UnixMilli()}, nil
		}
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}
	f.runtime = func(n int) {
		if n >= len(ids) {
			return
		}
		f.push(`{"time":"2024-05-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"` + ids[n] + `"}}`)
		// The agent announced its proxy before it registered.
		b, err := os.ReadFile(announced)
		if err != nil || len(strings.Fields(string(b))) != 2 {
			t.Errorf("proxy announcement: %q, %v", b, err)
			return
		}
		proxyAddr := strings.Fields(string(b))[0]
		resp, err := f.client.Get("http://" + proxyAddr + "/2018-06-01/runtime/invocation/next")
		if err != nil {
			t.Errorf("next: %v", err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		resp, err = f.client.Post("http://"+proxyAddr+"/2018-06-01/runtime/invocation/"+ids[n]+"/response", "application/json", strings.NewReader(answers[n]))
		if err != nil {
			t.Errorf("response: %v", err)
			return
		}
		_ = resp.Body.Close()
		// No platform.runtimeDone: only the answer can end the wait.
	}
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		o.Config.Flush = config.FlushEnd
		// Without the answer each wait would last this long and be
		// counted late.
		o.RuntimeDoneMargin = 5 * time.Second
		dir, _ := o.Env("TMPDIR")
		announced = filepath.Join(dir, "lambdascope-runtime-api")
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := logs.String()
	if strings.Contains(out, "runtime_done_late") || strings.Count(out, "the runtime's answer ended the wait") != 2 {
		t.Errorf("the answers did not end the waits:\n%s", out)
	}
	var spans []*tracepb.Span
	for _, req := range collector.Accepted() {
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				if ss.GetScope().GetName() == EventsScope {
					spans = append(spans, ss.GetSpans()...)
				}
			}
		}
	}
	if len(spans) != 2 {
		t.Fatalf("collector got %d inferred spans, want 2:\n%s", len(spans), out)
	}
	byTrigger := map[string]*tracepb.Span{}
	for _, sp := range spans {
		byTrigger[spanAttr(sp, "lambdascope.trigger")] = sp
	}
	sqs, api := byTrigger["sqs"], byTrigger["apigateway-http"]
	if sqs == nil || api == nil {
		t.Fatalf("inferred spans by trigger: %v", byTrigger)
	}
	// SQS: the W3C context of the first message wins over its X-Ray
	// header and Lambda's; the hop runs from the message's sent time.
	if got := hex.EncodeToString(sqs.GetTraceId()); got != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("SQS span trace %s, want the message's traceparent", got)
	}
	if got := hex.EncodeToString(sqs.GetParentSpanId()); got != "b7ad6b7169203331" {
		t.Errorf("SQS span parent %s, want the message's traceparent span", got)
	}
	if sqs.GetName() != "my-queue process" || sqs.GetKind() != tracepb.Span_SPAN_KIND_CONSUMER ||
		sqs.GetStartTimeUnixNano() != uint64(time.UnixMilli(1545082649183).UnixNano()) || sqs.GetTraceState() != "congo=t61rcWkgMzE" ||
		spanAttr(sqs, "messaging.batch.message_count") != "2" || spanAttr(sqs, "aws.lambda.response.size") != "6" {
		t.Errorf("SQS span: %v", sqs)
	}
	// The batch's records with a context of their own are linked.
	if l := sqs.GetLinks(); len(l) != 1 || hex.EncodeToString(l[0].GetTraceId()) != "0af7651916cd43dd8448eb211c80319c" ||
		l[0].GetAttributes()[0].GetValue().GetStringValue() != "059f36b4-87a3-44ab-83d2-661975830a7d" {
		t.Errorf("SQS span links: %v", l)
	}
	// API Gateway: X-Amzn-Trace-Id of the request has no Parent, so
	// Lambda's context is used; the 503 answer makes it an error.
	if got := hex.EncodeToString(api.GetTraceId()); got != "5bef4de7ad49b0e87f6ef6c87fc2e700" {
		t.Errorf("API span trace %s, want Lambda's", got)
	}
	if api.GetKind() != tracepb.Span_SPAN_KIND_SERVER || spanAttr(api, "http.response.status_code") != "503" ||
		api.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR || spanAttr(api, "lambdascope.trace_context.source") != "lambda" {
		t.Errorf("API span: %v", api)
	}
	if api.GetEndTimeUnixNano() <= api.GetStartTimeUnixNano() {
		t.Errorf("API span does not end after it starts: %v", api)
	}
	// Nothing of the bodies left the environment.
	for _, req := range collector.Accepted() {
		if s := req.String(); strings.Contains(s, "Test message.") || strings.Contains(s, "busy") {
			t.Errorf("a body reached the collector: %.200s", s)
		}
	}
}

// observed feeds one event and its answer to an eventObserver and returns
// the inferred span it added (nil for none).
func observed(t *testing.T, event string, end rtproxy.End) *tracepb.Span {
	t.Helper()
	return observedWith(t, event, end, nil)
}

// observedWith is observed with an observer set up by setup.
func observedWith(t *testing.T, event string, end rtproxy.End, setup func(*eventObserver)) *tracepb.Span {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	buf := buffer.New(1<<20, 1<<20, log)
	tracker := invocation.New(buf, &resourcepb.Resource{}, log)
	ready := make(chan struct{})
	close(ready)
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return buf, tracker, &resourcepb.Resource{}
	}, log)
	if setup != nil {
		setup(o)
	}
	now := time.Now()
	o.Invoked(rtproxy.Event{RequestID: "r1", Received: now, Body: []byte(event)})
	end.RequestID, end.Started, end.Ended = "r1", now, now.Add(time.Millisecond)
	end.Size = int64(len(end.Body))
	o.Ended(end)
	select {
	case <-o.endedChan("r1"):
	default:
		t.Error("the end was not announced")
	}
	batch := buf.Take(1 << 20)
	if batch == nil {
		return nil
	}
	for _, rs := range batch.Request.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			if ss.GetScope().GetName() == EventsScope && len(ss.GetSpans()) == 1 {
				return ss.GetSpans()[0]
			}
		}
	}
	return nil
}

// TestInferredSpanOutcome: the answer's status, an implied one when the
// answer names none, and an /error, on the inferred span.
func TestInferredSpanOutcome(t *testing.T) {
	rest, httpAPI := sample(t, "apigw-request.json"), sample(t, "apigw-v2-request-no-authorizer.json")
	tests := []struct {
		name, event string
		end         rtproxy.End
		status      string
		errType     string
	}{
		{"REST with a status", rest, rtproxy.End{Kind: rtproxy.Response, Body: []byte(`{"statusCode":404,"body":""}`)}, "404", ""},
		{"REST without a status is a malformed proxy response", rest, rtproxy.End{Kind: rtproxy.Response, Body: []byte(`"plain"`)}, "502", "502"},
		{"HTTP API without a status is a 200", httpAPI, rtproxy.End{Kind: rtproxy.Response, Body: []byte(`{"ok":true}`)}, "200", ""},
		{"error", httpAPI, rtproxy.End{Kind: rtproxy.Error, ErrorType: "Runtime.Boom",
			Body: []byte(`{"errorType":"Runtime.Boom","errorMessage":"card declined"}`)}, "", "Runtime.Boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := observed(t, tt.event, tt.end)
			if sp == nil {
				t.Fatal("no inferred span")
			}
			if got := spanAttr(sp, "http.response.status_code"); got != tt.status {
				t.Errorf("status %q, want %q", got, tt.status)
			}
			if got := spanAttr(sp, "error.type"); got != tt.errType {
				t.Errorf("error.type %q, want %q", got, tt.errType)
			}
			if isErr := sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR; isErr != (tt.errType != "") {
				t.Errorf("span status %v, want an error: %v", sp.GetStatus(), tt.errType != "")
			}
			if tt.end.Kind == rtproxy.Error && sp.GetStatus().GetMessage() != "card declined" {
				t.Errorf("status message %q", sp.GetStatus().GetMessage())
			}
		})
	}
	if sp := observed(t, `{"sku":"SKU-1"}`, rtproxy.End{Kind: rtproxy.Response, Body: []byte(`{}`)}); sp != nil {
		t.Errorf("a direct invocation got an inferred span: %v", sp)
	}
}

// TestForgottenInvocationsCounted: events whose answer never comes are
// forgotten beyond a bound, and counted.
func TestForgottenInvocationsCounted(t *testing.T) {
	ready := make(chan struct{})
	close(ready)
	var logs syncBuffer
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return nil, nil, nil
	}, slog.New(slog.NewTextHandler(&logs, nil)))
	for i := range maxPending + 1 {
		o.Invoked(rtproxy.Event{RequestID: fmt.Sprint("r", i), Received: time.Now(), Body: []byte(`{}`)})
	}
	if n := o.lost.Load(); n != maxPending {
		t.Errorf("lost %d, want %d", n, maxPending)
	}
	if !strings.Contains(logs.String(), "forgetting invocations whose answer never came") {
		t.Errorf("not logged: %s", logs.String())
	}
}

// TestNoBodyInInferredSpan: nothing of an event's or an answer's body,
// nor a header outside the allow-list, is in the inferred span: each
// event below carries a marker in every place a secret could be (bodies,
// query strings, path parameters, headers, message attributes, the
// answer), and the marshalled span holds none of them.
func TestNoBodyInInferredSpan(t *testing.T) {
	const marker = "S3CR3T"
	mark := func(name string) string {
		// Every string value that is not a field detection reads gets the
		// marker, so that a leak of any of them shows.
		s := sample(t, name)
		for _, k := range []string{`"body": "`, `"body":"`, `"Message": "`, `"receiptHandle": "`, `"md5OfBody": "`,
			`"Authorization": "`, `"Cookie": "`, `"cookie": "`, `"sourceIp": "`, `"userAgent": "`, `"queryStringParameters": {"`,
			`"data": "`, `"SenderId": "`, `"x-forwarded-for": "`, `"X-Forwarded-For": "`,
			`"Accept-Encoding": "`, `"accept-encoding": "`, `"Accept-Encoding": ["`, `"accept": "`, `"Accept": "`} {
			s = strings.ReplaceAll(s, k, k+marker)
		}
		return s
	}
	answer := rtproxy.End{Kind: rtproxy.Response, Body: []byte(`{"statusCode":200,"headers":{"Set-Cookie":"` + marker + `"},"body":"` + marker + `"}`)}
	for _, name := range []string{"apigw-request.json", "apigw-v2-request-no-authorizer.json", "alb-lambda-target-request-headers-only.json",
		"lambda-urls-request.json", "sqs-traced.json", "sns-event.json", "kinesis-event.json", "apigw-websocket-request.json"} {
		t.Run(name, func(t *testing.T) {
			ev := mark(name)
			if !strings.Contains(ev, marker) {
				t.Fatalf("no marker placed in %s", name)
			}
			sp := observedWith(t, ev, answer, func(o *eventObserver) {
				o.detect = trigger.Options{Headers: []string{"user-agent", "content-type"}}
			})
			if sp == nil {
				t.Fatal("no inferred span")
			}
			b, err := proto.Marshal(sp)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(marker)) {
				t.Errorf("the span holds a body or header value: %v", sp)
			}
			for _, kv := range sp.GetAttributes() {
				if h, ok := strings.CutPrefix(kv.GetKey(), "http.request.header."); ok && h != "user-agent" && h != "content-type" {
					t.Errorf("header %s kept outside the allow-list", h)
				}
			}
		})
	}
}

// TestInferredSpanRedacted: captured values pass the redaction rules; a
// header named among the keys is hidden whole; each is counted.
func TestInferredSpanRedacted(t *testing.T) {
	red, err := redact.New([]string{"user-agent"}, []string{`\d{4}-\d{4}-\d{4}-\d{4}`, `card declined`})
	if err != nil {
		t.Fatal(err)
	}
	ev := `{"version":"2.0","routeKey":"GET /cards/{card}","rawPath":"/cards/4111-1111-1111-1111","headers":{"user-agent":"curl/8","content-type":"text/plain"},` +
		`"requestContext":{"http":{"method":"GET","path":"/cards/4111-1111-1111-1111"},"domainName":"api.example.com","timeEpoch":1}}`
	sp := observedWith(t, ev, rtproxy.End{Kind: rtproxy.Error, ErrorType: "Payment", Body: []byte(`{"errorType":"Payment","errorMessage":"card declined for 4111-1111-1111-1111"}`)},
		func(o *eventObserver) {
			o.detect = trigger.Options{Headers: []string{"user-agent", "content-type"}}
			o.redact = red
		})
	if sp == nil {
		t.Fatal("no inferred span")
	}
	if s := sp.String(); strings.Contains(s, "4111") || strings.Contains(s, "curl") || strings.Contains(s, "declined") {
		t.Errorf("a secret is left: %s", s)
	}
	if got := spanAttr(sp, "url.path"); got != "/cards/"+redact.Mask {
		t.Errorf("url.path %q", got)
	}
	if got := spanAttr(sp, "http.request.header.content-type"); got != "text/plain" {
		t.Errorf("content-type %q, want it kept", got)
	}
	if got := spanAttr(sp, "http.request.header.user-agent"); got != redact.Mask {
		t.Errorf("user-agent %q, want it hidden", got)
	}
	if n := red.Count(); n != 4 {
		t.Errorf("counted %d redactions, want 4 (path, header, two in the message)", n)
	}
}

// TestLogsRedactedBeforeBuffered: the function's log lines, text and
// JSON, lose what the redaction rules name before they are buffered; the
// collector never sees it, and the self-metric counts it.
func TestLogsRedactedBeforeBuffered(t *testing.T) {
	collector := collectortest.Start(t)
	f := &fakeLambda{}
	script := invocationScript(2)
	f.script = func(n int) (extapi.Event, []string) {
		ev, lines := script(n)
		if n == 0 {
			lines = append(lines[:2:2],
				`{"time":"2024-05-01T10:00:00.220Z","type":"function","record":"2024-05-01T10:00:00.220Z\t`+reqID+`\tINFO\tpaid with 4111-1111-1111-1111 {\"password\":\"hunter2\"}"}`,
				`{"time":"2024-05-01T10:00:00.230Z","type":"function","record":{"timestamp":"2024-05-01T10:00:00.230Z","level":"INFO","requestId":"`+reqID+`","message":"login","Password":"hunter3","user":"ann"}}`,
				lines[len(lines)-1])
		}
		return ev, lines
	}
	_, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		o.Config.Flush = config.FlushEnd
		o.Config.RedactKeys = []string{"password"}
		o.Config.RedactPatterns = []string{`\d{4}-\d{4}-\d{4}-\d{4}`}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var all strings.Builder
	var redacted int64 = -1
	for _, req := range collector.Accepted() {
		all.WriteString(req.String())
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					if m.GetName() == selfmetrics.Redacted {
						redacted = m.GetSum().GetDataPoints()[0].GetAsInt()
					}
				}
			}
		}
	}
	got := all.String()
	// The card number is looked for whole: "4111" alone also turns up in
	// the decimal nanosecond timestamps of the requests' text.
	for _, secret := range []string{"4111-1111", "hunter2", "hunter3"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q reached the collector", secret)
		}
	}
	if !strings.Contains(got, "paid with") || !strings.Contains(got, "ann") || strings.Count(got, redact.Mask) < 3 {
		t.Errorf("the lines are not there, redacted:\n%.2000s", got)
	}
	if redacted != 3 {
		t.Errorf("self-metric %s = %d, want 3", selfmetrics.Redacted, redacted)
	}
}

// TestDurableExecutionOneTrace: the invocations of a durable execution,
// run in any environment, share the trace of its ARN although Lambda's
// header differs for each: the first invocation's span is the root, a
// replay's its child, marked as a replay.
func TestDurableExecutionOneTrace(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ready := make(chan struct{})
	close(ready)
	run := func(event, requestID, lambdaHeader string) *tracepb.Span {
		t.Helper()
		buf := buffer.New(1<<20, 1<<20, log)
		tracker := invocation.New(buf, &resourcepb.Resource{}, log)
		o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
			return buf, tracker, &resourcepb.Resource{}
		}, log)
		now := time.Now()
		o.Invoked(rtproxy.Event{RequestID: requestID, Received: now, Body: []byte(event), TraceID: lambdaHeader})
		o.Ended(rtproxy.End{RequestID: requestID, Kind: rtproxy.Response, Started: now, Ended: now, Body: []byte(`{"Status":"PENDING"}`)})
		batch := buf.Take(1 << 20)
		if batch == nil {
			t.Fatal("nothing buffered")
		}
		for _, rs := range batch.Request.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				if ss.GetScope().GetName() == EventsScope {
					return ss.GetSpans()[0]
				}
			}
		}
		t.Fatal("no inferred span")
		return nil
	}
	first := run(sample(t, "durable-execution-start.json"), "r1", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
	replay := run(sample(t, "durable-execution-replay.json"), "r2", "Root=1-6a1b2c3d-0123456789abcdef01234567;Parent=1111111111111111;Sampled=1")
	traceID, root := trigger.DurableTrace("arn:aws:lambda:us-east-1:123456789012:function:my-function:1/durable-execution/order-123/9f7d84c9-ea3d-3ffc-b3e5-5ec51c34ffc9")
	for _, sp := range []*tracepb.Span{first, replay} {
		if !bytes.Equal(sp.GetTraceId(), traceID[:]) || spanAttr(sp, "lambdascope.trace_context.source") != "durable" ||
			spanAttr(sp, "lambdascope.trigger") != "durable-execution" || sp.GetName() != "durable execution order-123" {
			t.Errorf("span %v not in the execution's trace", sp)
		}
	}
	if !bytes.Equal(first.GetSpanId(), root[:]) || len(first.GetParentSpanId()) != 0 || boolAttr(first, "aws.lambda.durable.replay") {
		t.Errorf("first invocation: span %x parent %x replay %v; want the root %x", first.GetSpanId(), first.GetParentSpanId(),
			boolAttr(first, "aws.lambda.durable.replay"), root)
	}
	if !bytes.Equal(replay.GetParentSpanId(), root[:]) || bytes.Equal(replay.GetSpanId(), root[:]) || !boolAttr(replay, "aws.lambda.durable.replay") ||
		spanAttr(replay, "aws.lambda.durable.operations") != "2" {
		t.Errorf("replay: %v; want a child of the root marked as a replay", replay)
	}
	// The replay's hop starts when the wait that resumed it ended.
	if got := time.Unix(0, int64(replay.GetStartTimeUnixNano())); !got.Equal(time.UnixMilli(1763644402630)) {
		t.Errorf("replay starts %v", got)
	}
}

func boolAttr(sp *tracepb.Span, key string) bool {
	for _, kv := range sp.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue().GetBoolValue()
		}
	}
	return false
}
