package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
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

// TestSDKSpansAfterTheAnswer runs a function whose OpenTelemetry Go SDK
// starts a trace of its own for each invocation (the event carries no
// context) and exports through a batch span processor: the first
// invocation's spans before its answer, the second's during the third
// invocation, the third's when the SDK shuts down, after its answer and
// its platform report. Each invocation is one tree all the same: the
// inferred span, sent once, is the root of the SDK's trace, the SDK's
// invocation span its child, the platform spans and the record follow the
// SDK's span, and no trace is counted apart.
func TestSDKSpansAfterTheAnswer(t *testing.T) { sdkSpansAfterTheAnswer(t, false) }

// TestSDKSpansAfterTheColdAnswer is TestSDKSpansAfterTheAnswer with the
// cold invocation's spans exported after its answer, during the second
// invocation, before anything of the SDK was seen: the environment
// configures an OpenTelemetry SDK (OTEL_TRACES_EXPORTER), so the cold
// start's inferred span waits for the SDK's span as a warm one does.
func TestSDKSpansAfterTheColdAnswer(t *testing.T) { sdkSpansAfterTheAnswer(t, true) }

func sdkSpansAfterTheAnswer(t *testing.T, coldLate bool) {
	ids := []string{
		"6f1d0b7a-0000-4000-8000-0000000000a1",
		"6f1d0b7a-0000-4000-8000-0000000000a2",
		"6f1d0b7a-0000-4000-8000-0000000000a3",
	}
	event := sample(t, "apigw-v2-request-no-authorizer.json")
	collector := collectortest.Start(t)
	f := &fakeLambda{}
	for _, id := range ids {
		f.runtimeEvents = append(f.runtimeEvents, runtimeEvent{id, event})
	}
	f.script = func(n int) (extapi.Event, []string) {
		if n < len(ids) {
			return extapi.Event{EventType: extapi.Invoke, RequestID: ids[n], DeadlineMs: time.Now().Add(3 * time.Second).UnixMilli(),
				Tracing: &extapi.Tracing{Type: "X-Amzn-Trace-Id", Value: lambdaTraceHeader}}, nil
		}
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}
	var announced, otlpAddr string
	fn := &batchingFunction{t: t}
	t.Cleanup(fn.close)
	report := func(id string) {
		f.push(`{"time":"2024-05-01T10:00:00.110Z","type":"platform.report","record":{"requestId":"` + id + `","status":"success","metrics":{"durationMs":100,"billedDurationMs":100,"memorySizeMB":512,"maxMemoryUsedMB":60}}}`)
	}
	f.runtime = func(n int) {
		if n > 0 {
			// As for a frozen function, the report of the invocation
			// before comes in the next window (here before the SDK's
			// late spans) or at SHUTDOWN.
			report(ids[n-1])
		}
		if n >= len(ids) {
			return
		}
		id := ids[n]
		f.push(`{"time":"2024-05-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"` + id + `"}}`)
		proxy, ok := proxyURL(t, announced)
		if !ok {
			return
		}
		resp, err := f.client.Get(proxy + "next")
		if err != nil {
			t.Errorf("next: %v", err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		proxyRead(t, f, id, false)
		fn.start(otlpAddr)
		if n == 2 || (coldLate && n == 1) {
			// The batch processor's timer fires in the next invocation.
			fn.flush()
		}
		fn.invocationSpan(id)
		if (n == 0 && !coldLate) || (n == 1 && coldLate) {
			fn.flush()
		}
		resp, err = f.client.Post(proxy+id+"/response", "application/json", strings.NewReader(`{"statusCode":200}`))
		if err != nil {
			t.Errorf("response: %v", err)
			return
		}
		_ = resp.Body.Close()
		proxyRead(t, f, id, true)
		f.push(`{"time":"2024-05-01T10:00:00.100Z","type":"platform.runtimeDone","record":{"requestId":"` + id + `","status":"success","metrics":{"durationMs":100}}}`)
		if n == 2 {
			// SIGTERM comes before the extensions' SHUTDOWN: the SDK
			// shuts down and exports what it holds.
			fn.close()
		}
	}
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		o.Config.Flush = config.FlushEnd
		otlpAddr = o.Config.OTLPHTTPAddr
		env := o.Env
		o.Env = func(k string) (string, bool) {
			if k == "OTEL_TRACES_EXPORTER" {
				return "otlp", true
			}
			return env(k)
		}
		dir, _ := o.Env("TMPDIR")
		announced = filepath.Join(dir, "lambdascope-runtime-api")
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var spans []*tracepb.Span
	records := map[string][]byte{}
	for _, req := range collector.Accepted() {
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				spans = append(spans, ss.GetSpans()...)
			}
		}
		for _, inv := range req.GetInvocations() {
			records[inv.GetRequestId()] = inv.GetTraceId()
		}
	}
	for i, id := range ids {
		var inferred, sdk, child, invoke []*tracepb.Span
		for _, sp := range spans {
			switch {
			case spanAttr(sp, "lambdascope.invocation_id") == id:
				inferred = append(inferred, sp)
			case spanAttr(sp, "faas.invocation_id") == id && sp.GetKind() == tracepb.Span_SPAN_KIND_SERVER:
				sdk = append(sdk, sp)
			case sp.GetName() == "charge card "+id:
				child = append(child, sp)
			case sp.GetName() == "lambda.invoke" && spanAttr(sp, "faas.invocation_id") == id:
				invoke = append(invoke, sp)
			}
		}
		if len(inferred) != 1 || len(sdk) != 1 || len(child) != 1 || len(invoke) != 1 {
			t.Errorf("invocation %d: %d inferred, %d SDK invocation, %d SDK child, %d lambda.invoke spans; want one each\n%s",
				i, len(inferred), len(sdk), len(child), len(invoke), logs.String())
			continue
		}
		in, root := inferred[0], sdk[0]
		if !bytes.Equal(in.GetTraceId(), root.GetTraceId()) || len(in.GetParentSpanId()) != 0 ||
			spanAttr(in, "lambdascope.trace_context.source") != "function" {
			t.Errorf("invocation %d: inferred span in %x under %x (%s), want the root of the SDK's trace %x", i, in.GetTraceId(),
				in.GetParentSpanId(), spanAttr(in, "lambdascope.trace_context.source"), root.GetTraceId())
		}
		if !bytes.Equal(root.GetParentSpanId(), in.GetSpanId()) {
			t.Errorf("invocation %d: SDK span under %x, want the inferred span %x", i, root.GetParentSpanId(), in.GetSpanId())
		}
		if !bytes.Equal(child[0].GetParentSpanId(), root.GetSpanId()) || !bytes.Equal(child[0].GetTraceId(), root.GetTraceId()) {
			t.Errorf("invocation %d: the SDK's child is not under its invocation span", i)
		}
		if !bytes.Equal(invoke[0].GetTraceId(), root.GetTraceId()) || !bytes.Equal(invoke[0].GetParentSpanId(), root.GetSpanId()) {
			t.Errorf("invocation %d: lambda.invoke in %x under %x, want under the SDK's span %x in %x", i,
				invoke[0].GetTraceId(), invoke[0].GetParentSpanId(), root.GetSpanId(), root.GetTraceId())
		}
		if got := records[id]; !bytes.Equal(got, root.GetTraceId()) {
			t.Errorf("invocation %d: record in trace %x, want the SDK's %x\n%s", i, got, root.GetTraceId(), logs.String())
		}
	}
	if s := logs.String(); strings.Contains(s, "sdk_traces_apart") || strings.Contains(s, "inferred_spans_held_in_vain") {
		t.Errorf("traces counted apart:\n%s", s)
	}
}

// proxyRead waits, bounded, until the agent's Runtime API proxy has read
// the event of id, and with answered its answer: the proxy reads them
// beside the calls it relays, and on Lambda the function's telemetry
// comes well after both, as the fake's would not.
func proxyRead(t *testing.T, f *fakeLambda, id string, answered bool) {
	t.Helper()
	o := f.agent.Load().events
	if o == nil {
		t.Error("the agent runs no Runtime API proxy")
		return
	}
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	if answered {
		select {
		case <-o.endedChan(id):
		case <-timeout.C:
			t.Errorf("the proxy did not read the answer of %s within 5 s", id)
		}
		return
	}
	for {
		o.mu.Lock()
		p, ok := o.pending[id]
		read := ok && p.invoked
		o.mu.Unlock()
		if read {
			return
		}
		select {
		case <-timeout.C:
			t.Errorf("the proxy did not read the event of %s within 5 s", id)
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// proxyURL reads the Runtime API proxy's address the agent announced.
func proxyURL(t *testing.T, announced string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(announced)
	if err != nil || len(strings.Fields(string(b))) != 2 {
		t.Errorf("proxy announcement: %q, %v", b, err)
		return "", false
	}
	return "http://" + strings.Fields(string(b))[0] + "/2018-06-01/runtime/invocation/", true
}

// batchingFunction is a function's OpenTelemetry SDK that lives across
// invocations and exports through a batch span processor whose timer
// never fires by itself: it exports on flush and close.
type batchingFunction struct {
	t    *testing.T
	once sync.Once
	tp   *sdktrace.TracerProvider
}

func (b *batchingFunction) start(otlpAddr string) {
	b.once.Do(func() {
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(otlpAddr), otlptracehttp.WithInsecure())
		if err != nil {
			b.t.Errorf("exporter: %v", err)
			return
		}
		b.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Hour)))
	})
}

// invocationSpan makes the invocation span otellambda makes, in a trace
// of its own, with one child.
func (b *batchingFunction) invocationSpan(id string) {
	if b.tp == nil {
		return
	}
	tracer := b.tp.Tracer("go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda")
	ctx, span := tracer.Start(context.Background(), "checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("faas.invocation_id", id)))
	_, child := tracer.Start(ctx, "charge card "+id)
	child.End()
	span.End()
}

func (b *batchingFunction) flush() {
	if b.tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.tp.ForceFlush(ctx); err != nil {
		b.t.Errorf("flush: %v", err)
	}
}

func (b *batchingFunction) close() {
	if b.tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.tp.Shutdown(ctx); err != nil && !strings.Contains(err.Error(), "already shutdown") {
		b.t.Errorf("shutdown: %v", err)
	}
}

// TestHeldSpanBound: an inferred span held for the SDK's invocation span
// (the function's SDK was seen starting traces of its own) goes out in a
// trace of its own when the answer of a later event comes first, and at
// SHUTDOWN; each is counted and logged, and is sent once.
func TestHeldSpanBound(t *testing.T) {
	ready := make(chan struct{})
	close(ready)
	buf := buffer.New(1<<20, 1<<20, slog.New(slog.DiscardHandler))
	var logs syncBuffer
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return buf, nil, nil
	}, slog.New(slog.NewTextHandler(&logs, nil)))
	event := []byte(sample(t, "apigw-v2-request-no-authorizer.json"))
	now := time.Now()
	run := func(id string) {
		o.Invoked(rtproxy.Event{RequestID: id, TraceID: lambdaTraceHeader, Received: now, Body: event})
		o.Ended(rtproxy.End{RequestID: id, Kind: rtproxy.Response, Started: now, Ended: now})
	}
	inferred := func() map[string]int {
		out := map[string]int{}
		b := buf.Take(1 << 30)
		if b == nil {
			return out
		}
		for _, rs := range b.Request.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					out[spanAttr(sp, "lambdascope.invocation_id")]++
				}
			}
		}
		return out
	}
	o.mu.Lock()
	o.sdkRoots = true
	o.mu.Unlock()

	run("r1")
	if got := inferred(); len(got) != 0 {
		t.Fatalf("sent at the answer: %v; want r1 held", got)
	}
	run("r2") // r1's wait ends at r2's answer; r2 waits
	if got := inferred(); got["r1"] != 1 || got["r2"] != 0 {
		t.Errorf("after the next answer: %v, want r1 alone", got)
	}
	if n := o.heldInVain.Load(); n != 1 {
		t.Errorf("held in vain %d, want 1", n)
	}
	o.sendAllHeld()
	if got := inferred(); got["r2"] != 1 || got["r1"] != 0 {
		t.Errorf("at shutdown: %v, want r2 alone", got)
	}
	if n := o.heldInVain.Load(); n != 2 {
		t.Errorf("held in vain %d, want 2", n)
	}
	s := logs.String()
	if !strings.Contains(s, "inferred spans sent without the function's invocation span they waited for") ||
		!strings.Contains(s, "why=shutdown") || !strings.Contains(s, "total=2") {
		t.Errorf("log:\n%s", s)
	}
	o.mu.Lock()
	held, r1 := len(o.held)+len(o.heldQ), o.recent["r1"]
	o.mu.Unlock()
	if held != 0 || !r1.noContext {
		t.Errorf("%d still held; r1 remembered as %+v", held, r1)
	}
}

// TestHeldSpansBounded: with more invocations answered before a later
// event's answer than maxHeld (Managed Instances), the oldest held span
// goes out when one more would wait, counted and logged.
func TestHeldSpansBounded(t *testing.T) {
	ready := make(chan struct{})
	close(ready)
	buf := buffer.New(1<<24, 1<<24, slog.New(slog.DiscardHandler))
	var logs syncBuffer
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return buf, nil, nil
	}, slog.New(slog.NewTextHandler(&logs, nil)))
	o.mu.Lock()
	o.sdkRoots = true
	o.mu.Unlock()
	event := []byte(sample(t, "apigw-v2-request-no-authorizer.json"))
	now := time.Now()
	id := func(i int) string { return fmt.Sprintf("r%d", i) }
	// Every event comes before any answer: no answer ends another's wait.
	for i := range maxHeld + 1 {
		o.Invoked(rtproxy.Event{RequestID: id(i), TraceID: lambdaTraceHeader, Received: now, Body: event})
	}
	for i := range maxHeld + 1 {
		o.Ended(rtproxy.End{RequestID: id(i), Kind: rtproxy.Response, Started: now, Ended: now})
	}
	o.mu.Lock()
	held := len(o.held)
	_, oldest := o.held[id(0)]
	o.mu.Unlock()
	if held != maxHeld || oldest {
		t.Errorf("%d held, the oldest among them: %v; want %d, not the oldest", held, oldest, maxHeld)
	}
	if n := o.heldInVain.Load(); n != 1 {
		t.Errorf("held in vain %d, want 1", n)
	}
	if s := logs.String(); !strings.Contains(s, `why="more inferred spans waited than the bound"`) || !strings.Contains(s, "total=1") {
		t.Errorf("log:\n%s", s)
	}
	b := buf.Take(1 << 30)
	if b == nil || len(b.Request.GetResourceSpans()) != 1 ||
		spanAttr(b.Request.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()[0], "lambdascope.invocation_id") != id(0) {
		t.Errorf("sent %v, want the oldest's inferred span alone", b)
	}
}

// TestJoinedSpanNotHeld: once the SDK was seen starting traces, an
// inferred span whose invocation span came before the answer, here a
// child of Lambda's header, is sent at the answer, not held.
func TestJoinedSpanNotHeld(t *testing.T) {
	ready := make(chan struct{})
	close(ready)
	buf := buffer.New(1<<20, 1<<20, slog.New(slog.DiscardHandler))
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return buf, nil, nil
	}, slog.New(slog.DiscardHandler))
	o.mu.Lock()
	o.sdkRoots = true
	o.mu.Unlock()
	now := time.Now()
	o.Invoked(rtproxy.Event{RequestID: "r1", TraceID: lambdaTraceHeader, Received: now,
		Body: []byte(sample(t, "apigw-v2-request-no-authorizer.json"))})
	sc, err := trigger.ParseXRay(lambdaTraceHeader)
	if err != nil {
		t.Fatal(err)
	}
	sdk := &tracepb.Span{TraceId: sc.TraceID[:], SpanId: []byte{1, 1, 1, 1, 1, 1, 1, 1}, ParentSpanId: sc.SpanID[:],
		Kind: tracepb.Span_SPAN_KIND_SERVER, Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", "r1")}}
	o.adoptDecoded([]*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{sdk}}}}})
	o.Ended(rtproxy.End{RequestID: "r1", Kind: rtproxy.Response, Started: now, Ended: now})
	o.mu.Lock()
	held := len(o.held)
	o.mu.Unlock()
	if b := buf.Take(1 << 30); held != 0 || b == nil || len(b.Request.GetResourceSpans()) != 1 {
		t.Errorf("%d held, sent %v; want the inferred span sent at the answer", held, b)
	}
	if o.adopted.Load() != 1 {
		t.Errorf("adopted %d, want 1", o.adopted.Load())
	}
}

// TestColdStartHold: where the environment configures an SDK, the cold
// start's inferred span (an event without context) waits for the SDK's
// invocation span; a function that shows none has it sent at the next
// answer, uncounted, and the next events are not held. Without an SDK in
// the environment nothing waits.
func TestColdStartHold(t *testing.T) {
	for _, tt := range []struct {
		name    string
		coldSDK bool
	}{{"SDK configured", true}, {"no SDK configured", false}} {
		t.Run(tt.name, func(t *testing.T) {
			ready := make(chan struct{})
			close(ready)
			buf := buffer.New(1<<20, 1<<20, slog.New(slog.DiscardHandler))
			var logs syncBuffer
			o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
				return buf, nil, nil
			}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			o.coldSDK = tt.coldSDK
			event := []byte(sample(t, "apigw-v2-request-no-authorizer.json"))
			now := time.Now()
			run := func(id string) {
				o.Invoked(rtproxy.Event{RequestID: id, TraceID: lambdaTraceHeader, Received: now, Body: event})
				o.Ended(rtproxy.End{RequestID: id, Kind: rtproxy.Response, Started: now, Ended: now})
			}
			inferred := func() map[string]int {
				out := map[string]int{}
				if b := buf.Take(1 << 30); b != nil {
					for _, rs := range b.Request.GetResourceSpans() {
						for _, ss := range rs.GetScopeSpans() {
							for _, sp := range ss.GetSpans() {
								out[spanAttr(sp, "lambdascope.invocation_id")]++
							}
						}
					}
				}
				return out
			}
			run("r1")
			if got, want := inferred()["r1"], map[bool]int{true: 0, false: 1}[tt.coldSDK]; got != want {
				t.Fatalf("r1 sent %d times at its answer, want %d", got, want)
			}
			run("r2")
			if got, want := inferred(), map[bool]map[string]int{true: {"r1": 1, "r2": 1}, false: {"r2": 1}}[tt.coldSDK]; !maps.Equal(got, want) {
				t.Errorf("sent at r2's answer: %v, want %v", got, want)
			}
			if n := o.heldInVain.Load(); n != 0 {
				t.Errorf("held in vain %d, want 0: the cold start's hold is a guess", n)
			}
			if s := logs.String(); strings.Contains(s, "level=WARN") {
				t.Errorf("warned:\n%s", s)
			}
		})
	}
}

func TestSDKConfigured(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_SERVICE_NAME": "checkout", "OTEL_RESOURCE_ATTRIBUTES": "team=a"}, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, true},
		{map[string]string{"OTEL_PROPAGATORS": "tracecontext,xray"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": " None ", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, false},
		{map[string]string{"OTEL_TRACES_SAMPLER": " "}, false},
	} {
		env := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
		if got := sdkConfigured(env); got != tt.want {
			t.Errorf("sdkConfigured(%v) = %v, want %v", tt.env, got, tt.want)
		}
	}
}

// TestSDKSpanTooLateCounted: a function's invocation span that comes
// after its invocation's inferred span was forgotten (more than maxPending
// invocations later) is counted and logged; one of an invocation never
// seen, or still remembered, is not.
func TestSDKSpanTooLateCounted(t *testing.T) {
	ready := make(chan struct{})
	close(ready)
	buf := buffer.New(1<<24, 1<<24, slog.New(slog.DiscardHandler))
	var logs syncBuffer
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return buf, nil, nil
	}, slog.New(slog.NewTextHandler(&logs, nil)))
	event := []byte(sample(t, "apigw-v2-request-no-authorizer.json"))
	now := time.Now()
	id := func(i int) string { return fmt.Sprintf("r%d", i) }
	for i := range maxPending + 1 {
		o.Invoked(rtproxy.Event{RequestID: id(i), TraceID: lambdaTraceHeader, Received: now, Body: event})
		o.Ended(rtproxy.End{RequestID: id(i), Kind: rtproxy.Response, Started: now, Ended: now})
	}
	sdkSpan := func(inv string) {
		sp := &tracepb.Span{TraceId: bytes.Repeat([]byte{7}, 16), SpanId: bytes.Repeat([]byte{8}, 8),
			Kind: tracepb.Span_SPAN_KIND_SERVER, Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", inv)}}
		o.adoptDecoded([]*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{sp}}}}})
	}
	sdkSpan("never-seen")
	sdkSpan(id(maxPending)) // remembered
	if n := o.tooLate.Load(); n != 0 {
		t.Fatalf("too late %d before any forgotten invocation's span came, want 0", n)
	}
	sdkSpan(id(0)) // forgotten
	if n := o.tooLate.Load(); n != 1 {
		t.Errorf("too late %d, want 1", n)
	}
	if s := logs.String(); !strings.Contains(s, "came after its inferred span was forgotten") || !strings.Contains(s, "invocation=r0") {
		t.Errorf("log:\n%s", s)
	}
}
