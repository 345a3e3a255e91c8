package agent

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// lambdaTraceHeader is the Lambda-Runtime-Trace-Id the fake Runtime API
// sends with every event.
const lambdaTraceHeader = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"

// sdkParent is where the function's OpenTelemetry SDK takes the parent of
// its invocation span from.
type sdkParent int

const (
	// fromEventHeaders: W3C traceparent of the request's headers, as a
	// handler using the SDK's TraceContext propagator on the event does
	// (examples/functions).
	fromEventHeaders sdkParent = iota
	// fromLambdaHeader: Lambda's X-Ray trace header, as otellambda does
	// with its xrayconfig (the X-Ray propagator on _X_AMZN_TRACE_ID).
	fromLambdaHeader
)

// TestSDKInvocationSpanUnderInferredSpan runs a function with the
// OpenTelemetry Go SDK behind the Runtime API proxy. Its invocation span is
// what otellambda makes (a SERVER span named after the function, with
// faas.invocation_id, cloud.resource_id and cloud.account.id, a child of
// the context it extracts), exported over OTLP/HTTP to the extension and
// flushed before the answer. Whatever context the SDK took its parent
// from, if the event carried it, the tree is one: caller, inferred span,
// the SDK's invocation span, its child; the platform spans hang under the
// SDK's span, and no second invocation span is made.
func TestSDKInvocationSpanUnderInferredSpan(t *testing.T) {
	tracedAPI := strings.Replace(sample(t, "apigw-request.json"), `"headers": {`,
		`"headers": {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",`, 1)
	if !strings.Contains(tracedAPI, "4bf92f35") {
		t.Fatal("traceparent not placed")
	}
	tests := []struct {
		name   string
		event  string
		parent sdkParent
		// the caller's span the inferred span is a child of
		trace, callerSpan string
		source            string
	}{
		{"sdk reads the event's traceparent", tracedAPI, fromEventHeaders, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "w3c"},
		{"sdk reads lambda's header, the event has no parent", sample(t, "apigw-v2-request-no-authorizer.json"), fromLambdaHeader,
			"5bef4de7ad49b0e87f6ef6c87fc2e700", "9a9197af755a6419", "lambda"},
		// The precedence picks the message's traceparent; the SDK took
		// Lambda's context: the inferred span follows the SDK.
		{"sdk reads lambda's header, the event's traceparent comes first", sample(t, "sqs-traced.json"), fromLambdaHeader,
			"5bef4de7ad49b0e87f6ef6c87fc2e700", "9a9197af755a6419", "lambda"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const id = "6f1d0b7a-0000-4000-8000-00000000000a"
			spans := runWithSDK(t, id, tt.event, tt.parent)
			var inferred, sdkRoot, sdkChild, invoke *tracepb.Span
			servers := 0
			for _, sp := range spans {
				switch {
				case spanAttr(sp, "lambdascope.invocation_id") == id:
					inferred = sp
				case spanAttr(sp, "faas.invocation_id") == id && sp.GetKind() == tracepb.Span_SPAN_KIND_SERVER:
					sdkRoot = sp
				case sp.GetName() == "charge card":
					sdkChild = sp
				case sp.GetName() == "lambda.invoke":
					invoke = sp
				}
				if spanAttr(sp, "faas.invocation_id") == id && sp.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
					servers++
				}
			}
			if inferred == nil || sdkRoot == nil || sdkChild == nil || invoke == nil {
				t.Fatalf("inferred %v\nsdk %v\nchild %v\nlambda.invoke %v", inferred, sdkRoot, sdkChild, invoke)
			}
			if servers != 1 {
				t.Errorf("%d invocation SERVER spans, want the SDK's alone", servers)
			}
			if got := hex.EncodeToString(inferred.GetTraceId()); got != tt.trace || hex.EncodeToString(inferred.GetParentSpanId()) != tt.callerSpan ||
				spanAttr(inferred, "lambdascope.trace_context.source") != tt.source {
				t.Errorf("inferred span in %s under %x (%s), want %s under %s (%s)", got, inferred.GetParentSpanId(),
					spanAttr(inferred, "lambdascope.trace_context.source"), tt.trace, tt.callerSpan, tt.source)
			}
			if !bytes.Equal(sdkRoot.GetTraceId(), inferred.GetTraceId()) || !bytes.Equal(sdkRoot.GetParentSpanId(), inferred.GetSpanId()) {
				t.Errorf("SDK span %x under %x, want a child of the inferred span %x in %x", sdkRoot.GetTraceId(), sdkRoot.GetParentSpanId(),
					inferred.GetSpanId(), inferred.GetTraceId())
			}
			if !bytes.Equal(sdkChild.GetParentSpanId(), sdkRoot.GetSpanId()) || !bytes.Equal(invoke.GetParentSpanId(), sdkRoot.GetSpanId()) ||
				!bytes.Equal(invoke.GetTraceId(), sdkRoot.GetTraceId()) {
				t.Errorf("the SDK's child or lambda.invoke is not under the SDK's span: %v / %v", sdkChild, invoke)
			}
		})
	}
}

// TestSDKNewTraceLeftAlone: an SDK span that took no parent from the event
// (a new trace) is not moved, and the inferred span stays in the caller's
// trace.
func TestSDKNewTraceLeftAlone(t *testing.T) {
	const id = "6f1d0b7a-0000-4000-8000-00000000000b"
	spans := runWithSDK(t, id, sample(t, "sqs-traced.json"), -1)
	for _, sp := range spans {
		if spanAttr(sp, "faas.invocation_id") == id && sp.GetKind() == tracepb.Span_SPAN_KIND_SERVER && len(sp.GetParentSpanId()) != 0 {
			t.Errorf("the SDK's root span got a parent: %v", sp)
		}
		if spanAttr(sp, "lambdascope.invocation_id") == id && hex.EncodeToString(sp.GetTraceId()) != "0af7651916cd43dd8448eb211c80319c" {
			t.Errorf("inferred span left the caller's trace: %v", sp)
		}
	}
}

// runWithSDK runs one invocation of event through the agent with a
// function using the OpenTelemetry SDK, its parent taken as parent says
// (-1: none), and returns every span the collector got.
func runWithSDK(t *testing.T, id, event string, parent sdkParent) []*tracepb.Span {
	t.Helper()
	collector := collectortest.Start(t)
	f := &fakeLambda{}
	f.runtimeEvents = []runtimeEvent{{id, event}}
	var announced, otlpAddr string
	f.script = func(n int) (extapi.Event, []string) {
		if n == 0 {
			return extapi.Event{EventType: extapi.Invoke, RequestID: id, DeadlineMs: time.Now().Add(3 * time.Second).UnixMilli(),
				Tracing: &extapi.Tracing{Type: "X-Amzn-Trace-Id", Value: lambdaTraceHeader}}, nil
		}
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}
	f.runtime = func(n int) {
		if n > 0 {
			return
		}
		f.push(`{"time":"2024-05-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"` + id + `"}}`)
		b, err := os.ReadFile(announced)
		if err != nil || len(strings.Fields(string(b))) != 2 {
			t.Errorf("proxy announcement: %q, %v", b, err)
			return
		}
		proxy := "http://" + strings.Fields(string(b))[0] + "/2018-06-01/runtime/invocation/"
		resp, err := f.client.Get(proxy + "next")
		if err != nil {
			t.Errorf("next: %v", err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		proxyRead(t, f, id, false)
		invoke(t, otlpAddr, id, body, resp.Header.Get("Lambda-Runtime-Trace-Id"), parent)
		resp, err = f.client.Post(proxy+id+"/response", "application/json", strings.NewReader(`{"statusCode":200}`))
		if err != nil {
			t.Errorf("response: %v", err)
			return
		}
		_ = resp.Body.Close()
		proxyRead(t, f, id, true)
		f.push(`{"time":"2024-05-01T10:00:00.100Z","type":"platform.runtimeDone","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":100}}}`,
			`{"time":"2024-05-01T10:00:00.110Z","type":"platform.report","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":100,"billedDurationMs":100,"memorySizeMB":512,"maxMemoryUsedMB":60}}}`)
	}
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		o.Config.Flush = config.FlushEnd
		otlpAddr = o.Config.OTLPHTTPAddr
		dir, _ := o.Env("TMPDIR")
		announced = filepath.Join(dir, "lambdascope-runtime-api")
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var spans []*tracepb.Span
	for _, req := range collector.Accepted() {
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				spans = append(spans, ss.GetSpans()...)
			}
		}
	}
	if len(spans) == 0 {
		t.Fatalf("no spans:\n%s", logs.String())
	}
	return spans
}

// invoke is the function: the invocation span otellambda makes, one child,
// exported to the extension and flushed before the answer.
func invoke(t *testing.T, otlpAddr, id string, event []byte, lambdaHeader string, parent sdkParent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(otlpAddr), otlptracehttp.WithInsecure())
	if err != nil {
		t.Errorf("exporter: %v", err)
		return
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	switch parent {
	case fromEventHeaders:
		var ev struct {
			Headers map[string]string `json:"headers"`
		}
		_ = json.Unmarshal(event, &ev)
		carrier := propagation.MapCarrier{}
		for k, v := range ev.Headers {
			carrier[strings.ToLower(k)] = v
		}
		ctx = propagation.TraceContext{}.Extract(ctx, carrier)
	case fromLambdaHeader:
		// What the X-Ray propagator extracts from the header.
		sc, err := trigger.ParseXRay(lambdaHeader)
		if err != nil {
			t.Errorf("lambda header %q: %v", lambdaHeader, err)
			return
		}
		flags := trace.TraceFlags(0)
		if sc.Sampled {
			flags = trace.FlagsSampled
		}
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: sc.TraceID, SpanID: sc.SpanID, TraceFlags: flags, Remote: true}))
	}
	tracer := tp.Tracer("go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda")
	arn := "arn:aws:lambda:eu-west-1:123456789012:function:checkout"
	ctx, span := tracer.Start(ctx, "checkout", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("faas.invocation_id", id), attribute.String("cloud.resource_id", arn), attribute.String("cloud.account.id", "123456789012")))
	_, child := tracer.Start(ctx, "charge card")
	child.End()
	span.End()
	if err := tp.ForceFlush(ctx); err != nil {
		t.Errorf("flush: %v", err)
	}
}

// TestAdoptAfterInferredSpan: the function's spans may come after the
// answer (an SDK that exports later, here decoded as OTLP/JSON is): its
// invocation span still goes under the inferred span when its parent is
// the inferred span's; one under another parent is left alone.
func TestAdoptAfterInferredSpan(t *testing.T) {
	ready := make(chan struct{})
	close(ready)
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return nil, nil, nil
	}, slog.New(slog.DiscardHandler))
	now := time.Now()
	o.Invoked(rtproxy.Event{RequestID: "r1", Received: now, Body: []byte(sample(t, "sqs-traced.json"))})
	o.Ended(rtproxy.End{RequestID: "r1", Kind: rtproxy.Response, Started: now, Ended: now})
	o.mu.Lock()
	ref, ok := o.recent["r1"]
	o.mu.Unlock()
	if !ok {
		t.Fatal("the inferred span is not remembered")
	}
	traceID, _ := hex.DecodeString("0af7651916cd43dd8448eb211c80319c")
	span := func(parent string) *tracepb.Span {
		p, _ := hex.DecodeString(parent)
		return &tracepb.Span{TraceId: traceID, SpanId: []byte{1, 1, 1, 1, 1, 1, 1, 1}, ParentSpanId: p, Kind: tracepb.Span_SPAN_KIND_SERVER,
			Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", "r1")}}
	}
	same, other := span("b7ad6b7169203331"), span("1111111111111111")
	o.adoptDecoded([]*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{same, other}}}}})
	if !bytes.Equal(same.GetParentSpanId(), ref.spanID[:]) {
		t.Errorf("parent %x, want the inferred span %x", same.GetParentSpanId(), ref.spanID)
	}
	if hex.EncodeToString(other.GetParentSpanId()) != "1111111111111111" {
		t.Errorf("a span under another parent was moved to %x", other.GetParentSpanId())
	}
	if n := o.adopted.Load(); n != 1 {
		t.Errorf("adopted %d, want 1", n)
	}
}

// TestSDKNewTraceUnderInferredSpan: the event carries no context (an
// untraced client behind API Gateway) and the SDK starts a trace of its
// own. The inferred span takes the SDK's trace, as its root, and the
// SDK's invocation span, which had no parent in the bytes the function
// sent, becomes its child: one tree, the platform spans under the SDK's
// span, one invocation span.
func TestSDKNewTraceUnderInferredSpan(t *testing.T) {
	const id = "6f1d0b7a-0000-4000-8000-00000000000c"
	spans := runWithSDK(t, id, sample(t, "apigw-v2-request-no-authorizer.json"), -1)
	var inferred, sdkRoot, sdkChild, invoke *tracepb.Span
	servers := 0
	for _, sp := range spans {
		switch {
		case spanAttr(sp, "lambdascope.invocation_id") == id:
			inferred = sp
		case spanAttr(sp, "faas.invocation_id") == id && sp.GetKind() == tracepb.Span_SPAN_KIND_SERVER:
			sdkRoot = sp
			servers++
		case sp.GetName() == "charge card":
			sdkChild = sp
		case sp.GetName() == "lambda.invoke":
			invoke = sp
		}
	}
	if inferred == nil || sdkRoot == nil || sdkChild == nil || invoke == nil {
		t.Fatalf("inferred %v\nsdk %v\nchild %v\nlambda.invoke %v", inferred, sdkRoot, sdkChild, invoke)
	}
	if servers != 1 {
		t.Errorf("%d invocation SERVER spans, want the SDK's alone", servers)
	}
	if hex.EncodeToString(sdkRoot.GetTraceId()) == "5bef4de7ad49b0e87f6ef6c87fc2e700" {
		t.Fatal("the SDK took Lambda's trace; the test wants a trace of its own")
	}
	if !bytes.Equal(inferred.GetTraceId(), sdkRoot.GetTraceId()) || len(inferred.GetParentSpanId()) != 0 ||
		spanAttr(inferred, "lambdascope.trace_context.source") != "function" {
		t.Errorf("inferred span in %x under %x (%s), want the root of the SDK's trace %x (function)", inferred.GetTraceId(),
			inferred.GetParentSpanId(), spanAttr(inferred, "lambdascope.trace_context.source"), sdkRoot.GetTraceId())
	}
	if !bytes.Equal(sdkRoot.GetParentSpanId(), inferred.GetSpanId()) {
		t.Errorf("SDK span under %x, want the inferred span %x", sdkRoot.GetParentSpanId(), inferred.GetSpanId())
	}
	if !bytes.Equal(sdkChild.GetParentSpanId(), sdkRoot.GetSpanId()) || !bytes.Equal(sdkChild.GetTraceId(), sdkRoot.GetTraceId()) ||
		!bytes.Equal(invoke.GetParentSpanId(), sdkRoot.GetSpanId()) || !bytes.Equal(invoke.GetTraceId(), sdkRoot.GetTraceId()) {
		t.Errorf("the SDK's child or lambda.invoke is not under the SDK's span: %v / %v", sdkChild, invoke)
	}
}

// TestAdoptRoot: the SDK's span without a parent, decoded (OTLP/JSON or
// gRPC), goes under the inferred span when the event carried no context
// and the inferred span is not made yet; made already, or with a context
// of the event, it is left alone, and a late one is counted.
func TestAdoptRoot(t *testing.T) {
	sdkTrace := bytes.Repeat([]byte{0x5d}, 16)
	tests := []struct {
		name   string
		event  string
		lambda string // Lambda-Runtime-Trace-Id
		// late: the SDK's spans come after the answer
		late    bool
		adopted bool
	}{
		{"no context anywhere", sample(t, "apigw-v2-request-no-authorizer.json"), "", false, true},
		{"lambda's header only", sample(t, "apigw-v2-request-no-authorizer.json"), lambdaTraceHeader, false, true},
		{"the event's traceparent", sample(t, "sqs-traced.json"), lambdaTraceHeader, false, false},
		{"after the answer", sample(t, "apigw-v2-request-no-authorizer.json"), "", true, false},
		// A durable execution keeps the trace its ARN names.
		{"a durable execution", sample(t, "durable-execution-start.json"), lambdaTraceHeader, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready := make(chan struct{})
			close(ready)
			o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
				return nil, nil, nil
			}, slog.New(slog.DiscardHandler))
			now := time.Now()
			o.Invoked(rtproxy.Event{RequestID: "r1", TraceID: tt.lambda, Received: now, Body: []byte(tt.event)})
			o.mu.Lock()
			before := *o.pending["r1"]
			o.mu.Unlock()
			root := &tracepb.Span{TraceId: sdkTrace, SpanId: []byte{1, 1, 1, 1, 1, 1, 1, 1}, Kind: tracepb.Span_SPAN_KIND_SERVER,
				Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", "r1")}}
			rss := []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{root}}}}}
			if tt.late {
				o.Ended(rtproxy.End{RequestID: "r1", Kind: rtproxy.Response, Started: now, Ended: now})
			}
			o.adoptDecoded(rss)
			o.mu.Lock()
			p := o.pending["r1"]
			o.mu.Unlock()
			switch {
			case tt.adopted:
				if !bytes.Equal(root.GetParentSpanId(), before.spanID[:]) || p == nil || !bytes.Equal(p.sc.TraceID[:], sdkTrace) ||
					p.sc.SpanID != ([8]byte{}) || p.sc.Source != FunctionTrace {
					t.Errorf("SDK span under %x, inferred span's context %+v; want the inferred span %x as the root of %x",
						root.GetParentSpanId(), p, before.spanID, sdkTrace)
				}
				if o.adopted.Load() != 1 {
					t.Errorf("adopted %d, want 1", o.adopted.Load())
				}
			default:
				if len(root.GetParentSpanId()) != 0 {
					t.Errorf("the SDK's root got parent %x", root.GetParentSpanId())
				}
				if p != nil && p.sc != before.sc {
					t.Errorf("the inferred span's context changed: %+v, was %+v", p.sc, before.sc)
				}
				if want := map[bool]uint64{true: 1}[tt.late]; o.apart.Load() != want || o.adopted.Load() != 0 {
					t.Errorf("apart %d adopted %d, want %d and 0", o.apart.Load(), o.adopted.Load(), want)
				}
			}
		})
	}
}
