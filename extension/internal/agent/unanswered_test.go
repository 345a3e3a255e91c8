package agent

import (
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// unansweredRig is an eventObserver with a buffer and a tracker, and its
// log.
type unansweredRig struct {
	o       *eventObserver
	buf     *buffer.Buffer
	tracker *invocation.Tracker
	logs    *syncBuffer
}

func newUnansweredRig(t *testing.T) *unansweredRig {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	buf := buffer.New(1<<20, 1<<20, log)
	tracker := invocation.New(buf, &resourcepb.Resource{}, log)
	ready := make(chan struct{})
	close(ready)
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return buf, tracker, &resourcepb.Resource{}
	}, log)
	return &unansweredRig{o: o, buf: buf, tracker: tracker, logs: logs}
}

// spans takes the inferred spans added so far, by invocation ID.
func (r *unansweredRig) spans(t *testing.T) map[string]*tracepb.Span {
	t.Helper()
	out := map[string]*tracepb.Span{}
	for batch := r.buf.Take(1 << 20); batch != nil; batch = r.buf.Take(1 << 20) {
		for _, rs := range batch.Message().GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				if ss.GetScope().GetName() != EventsScope {
					continue
				}
				for _, sp := range ss.GetSpans() {
					id := spanAttr(sp, "lambdascope.invocation_id")
					if _, dup := out[id]; dup {
						t.Errorf("two inferred spans of %s", id)
					}
					out[id] = sp
				}
			}
		}
	}
	return out
}

func runtimeDone(id, status, errType string, at time.Time) telemetry.Event {
	return telemetry.Event{Time: at, Type: telemetry.TypeRuntimeDone, Kind: telemetry.KindPlatform,
		Platform: &telemetry.PlatformRecord{RequestID: id, Status: status, ErrorType: errType}}
}

// TestUnansweredTimeoutFromThePlatform: an invocation that never answers
// gets its inferred span once platform.runtimeDone says it timed out: in
// the caller's trace, an error of type "timeout" with the platform's
// error type as its message, ending when the platform says (not marked
// estimated), with no response size and no HTTP status. The answer that
// comes after is counted, not kept.
func TestUnansweredTimeoutFromThePlatform(t *testing.T) {
	r := newUnansweredRig(t)
	received := time.Now()
	r.o.Invoked(rtproxy.Event{RequestID: "r1", Received: received, Body: []byte(sample(t, "sqs-traced.json"))})
	r.o.Invoked(rtproxy.Event{RequestID: "r2", Received: received, Body: []byte(sample(t, "apigw-v2-request-no-authorizer.json")),
		TraceID: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"})
	if got := r.spans(t); len(got) != 0 {
		t.Fatalf("inferred spans before any end: %v", got)
	}
	ended := received.Add(3 * time.Second)
	r.o.platformEnded([]telemetry.Event{runtimeDone("r1", "timeout", "Sandbox.Timedout", ended),
		runtimeDone("r2", "timeout", "", ended)})
	got := r.spans(t)
	sqs, api := got["r1"], got["r2"]
	if len(got) != 2 || sqs == nil || api == nil {
		t.Fatalf("inferred spans: %v", got)
	}
	for _, sp := range []*tracepb.Span{sqs, api} {
		if sp.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR || spanAttr(sp, "error.type") != "timeout" ||
			spanAttr(sp, "lambdascope.unanswered.ended_by") != "platform" || boolAttr(sp, "lambdascope.end_time.estimated") {
			t.Errorf("span of a timed-out invocation: %v", sp)
		}
		for _, k := range []string{"aws.lambda.response.size", "http.response.status_code"} {
			if spanAttr(sp, k) != "" {
				t.Errorf("%s on the span of an invocation without an answer: %v", k, sp)
			}
		}
	}
	if sqs.GetStatus().GetMessage() != "Sandbox.Timedout" {
		t.Errorf("status message %q, want the platform's error type", sqs.GetStatus().GetMessage())
	}
	if tr := hex.EncodeToString(sqs.GetTraceId()); tr != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("trace %s, want the caller's", tr)
	}
	if hex.EncodeToString(api.GetTraceId()) != "5bef4de7ad49b0e87f6ef6c87fc2e700" || api.GetEndTimeUnixNano() != uint64(ended.UnixNano()) {
		t.Errorf("HTTP span does not end when the platform says, in Lambda's trace: %v", api)
	}
	if n := r.o.unansweredSpans.Load(); n != 2 {
		t.Errorf("unanswered spans counted %d, want 2", n)
	}
	// The answer after the span: counted, nothing waits for its event.
	r.o.Ended(rtproxy.End{RequestID: "r1", Kind: rtproxy.Response, Ended: ended})
	if n := r.o.lateAnswers.Load(); n != 1 || len(r.o.pending) != 0 || len(r.spans(t)) != 0 {
		t.Errorf("late answer: counted %d, pending %d", n, len(r.o.pending))
	}
	if !strings.Contains(r.logs.String(), "an answer came after its invocation's inferred span was made without one") {
		t.Errorf("the late answer is not logged:\n%s", r.logs.String())
	}
	// Nothing more at SHUTDOWN.
	r.o.endAllUnanswered()
	if got := r.spans(t); len(got) != 0 || r.o.lost.Load() != 0 {
		t.Errorf("spans again at SHUTDOWN: %v, lost %d", got, r.o.lost.Load())
	}
}

// TestUnansweredErrorWaitsForTheAnswer: platform.runtimeDone with the
// status "error" comes before the answer to /error is read: the span
// waits for the answer, which it then has.
func TestUnansweredErrorWaitsForTheAnswer(t *testing.T) {
	r := newUnansweredRig(t)
	now := time.Now()
	r.o.Invoked(rtproxy.Event{RequestID: "r1", Received: now, Body: []byte(sample(t, "sqs-traced.json"))})
	r.o.platformEnded([]telemetry.Event{runtimeDone("r1", "error", "Runtime.Boom", now.Add(time.Millisecond))})
	if got := r.spans(t); len(got) != 0 {
		t.Fatalf("span made before the answer to /error: %v", got)
	}
	r.o.Ended(rtproxy.End{RequestID: "r1", Kind: rtproxy.Error, Ended: now, Body: []byte(`{"errorType":"Boom","errorMessage":"no"}`)})
	sp := r.spans(t)["r1"]
	if sp == nil || spanAttr(sp, "error.type") != "Boom" || spanAttr(sp, "lambdascope.unanswered.ended_by") != "" ||
		spanAttr(sp, "aws.lambda.response.size") == "" {
		t.Errorf("span of an answered error: %v", sp)
	}
	if r.o.unansweredSpans.Load() != 0 || r.o.lateAnswers.Load() != 0 {
		t.Errorf("counted as unanswered")
	}
}

// TestUnansweredAtTheNextInvoke: in classic mode the next INVOKE ends an
// invocation still without an answer; the platform said nothing, so its
// end is when it was found, marked estimated, and its error type says
// only that it never answered. A platform that said "success" (the
// answer did not pass the proxy) leaves the status unset, with the
// platform's end. A direct invocation gets no span, and nothing waits.
func TestUnansweredAtTheNextInvoke(t *testing.T) {
	r := newUnansweredRig(t)
	received := time.Now()
	r.o.Invoked(rtproxy.Event{RequestID: "r1", Received: received, Body: []byte(sample(t, "apigw-v2-request-no-authorizer.json"))})
	r.o.Invoked(rtproxy.Event{RequestID: "r2", Received: received, Body: []byte(sample(t, "apigw-v2-request-no-authorizer.json"))})
	r.o.Invoked(rtproxy.Event{RequestID: "r3", Received: received, Body: []byte(`{"sku":"SKU-1"}`)})
	// The bound is waited for the answer that never comes.
	before := time.Now()
	r.o.endPrevious("r1", 10*time.Millisecond)
	sp := r.spans(t)["r1"]
	if sp == nil {
		t.Fatal("no span at the next INVOKE")
	}
	if spanAttr(sp, "error.type") != unansweredType || sp.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR ||
		spanAttr(sp, "lambdascope.unanswered.ended_by") != "next_invoke" || !boolAttr(sp, "lambdascope.end_time.estimated") ||
		sp.GetEndTimeUnixNano() < uint64(before.UnixNano()) {
		t.Errorf("span ended by the next INVOKE: %v", sp)
	}
	doneAt := received.Add(time.Second)
	r.o.platformEnded([]telemetry.Event{runtimeDone("r2", "", "", doneAt)})
	if len(r.spans(t)) != 0 {
		t.Fatal("a span made at a successful runtimeDone without the answer")
	}
	r.o.endPrevious("r2", time.Hour) // told by the platform: no wait
	sp = r.spans(t)["r2"]
	if sp == nil || sp.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_UNSET || spanAttr(sp, "error.type") != "" ||
		spanAttr(sp, "lambdascope.unanswered.ended_by") != "platform" || sp.GetEndTimeUnixNano() != uint64(doneAt.UnixNano()) {
		t.Errorf("span of an invocation the platform says succeeded: %v", sp)
	}
	r.o.endPrevious("r3", 0)
	if got := r.spans(t); len(got) != 0 || len(r.o.pending) != 0 {
		t.Errorf("direct invocation: spans %v, pending %d", got, len(r.o.pending))
	}
	if n := r.o.unansweredSpans.Load(); n != 2 {
		t.Errorf("unanswered spans counted %d, want 2", n)
	}
}

// TestUnansweredAtShutdown: at SHUTDOWN every invocation still without an
// answer gets its span, the one invoked last the SHUTDOWN's reason as its
// error type; an answer whose event was never seen is counted as lost
// and logged; the record that waited with a span (DeferReport) is let go.
func TestUnansweredAtShutdown(t *testing.T) {
	r := newUnansweredRig(t)
	r.o.sdkRoots = true // the records of events without context wait for their span
	now := time.Now()
	r.o.Invoked(rtproxy.Event{RequestID: "r1", Received: now, Body: []byte(sample(t, "apigw-v2-request-no-authorizer.json"))})
	r.o.Invoked(rtproxy.Event{RequestID: "r2", Received: now, Body: []byte(sample(t, "sqs-traced.json"))})
	r.o.Ended(rtproxy.End{RequestID: "orphan", Kind: rtproxy.Response, Ended: now})
	if !r.o.pending["r1"].deferred {
		t.Fatal("the record of an event without context does not wait")
	}
	r.o.setShutdownReason("Timeout")
	r.o.endAllUnanswered()
	got := r.spans(t)
	if len(got) != 2 || got["r1"] == nil || got["r2"] == nil {
		t.Fatalf("spans at SHUTDOWN: %v", got)
	}
	if spanAttr(got["r1"], "error.type") != unansweredType || spanAttr(got["r2"], "error.type") != "timeout" {
		t.Errorf("error types %q, %q, want %q and the SHUTDOWN's reason for the last", spanAttr(got["r1"], "error.type"),
			spanAttr(got["r2"], "error.type"), unansweredType)
	}
	for _, sp := range got {
		if spanAttr(sp, "lambdascope.unanswered.ended_by") != "shutdown" || !boolAttr(sp, "lambdascope.end_time.estimated") {
			t.Errorf("span at SHUTDOWN: %v", sp)
		}
	}
	if n := r.o.lost.Load(); n != 1 || len(r.o.pending) != 0 {
		t.Errorf("lost %d (want 1), pending %d", n, len(r.o.pending))
	}
	if !strings.Contains(r.logs.String(), "the answer came, the event was never seen") {
		t.Errorf("the orphan answer is not logged:\n%s", r.logs.String())
	}
	// The record that waited is built now, from its platform report.
	r.tracker.HandleTelemetry([]telemetry.Event{{Time: now, Type: telemetry.TypeReport, Kind: telemetry.KindPlatform,
		Platform: &telemetry.PlatformRecord{RequestID: "r1", Status: "timeout"}}})
	if n := r.tracker.Stats().Invocations; n != 1 {
		t.Errorf("%d records built from the report, want 1: the record still waits", n)
	}
}

// TestInferredErrorTypeCut: the error type of an /error answer is cut to
// the record's bound on the inferred span too, and the cut is counted.
func TestInferredErrorTypeCut(t *testing.T) {
	long := strings.Repeat("E", 1000)
	var o *eventObserver
	sp := observedWith(t, sample(t, "apigw-v2-request-no-authorizer.json"), rtproxy.End{Kind: rtproxy.Error, ErrorType: long,
		Body: []byte(`{"errorMessage":"short"}`)}, func(e *eventObserver) { o = e })
	if sp == nil {
		t.Fatal("no inferred span")
	}
	if got := spanAttr(sp, "error.type"); len(got) != maxErrorType || !strings.HasPrefix(long, got) {
		t.Errorf("error.type of %d bytes, want %d", len(got), maxErrorType)
	}
	if n := o.errorTextsCut.Load(); n != 1 {
		t.Errorf("error_texts_cut %d, want 1", n)
	}
	// Within the bound: kept whole, not counted.
	sp = observedWith(t, sample(t, "apigw-v2-request-no-authorizer.json"), rtproxy.End{Kind: rtproxy.Error, ErrorType: "Runtime.Boom",
		Body: []byte(`{"errorMessage":"short"}`)}, func(e *eventObserver) { o = e })
	if spanAttr(sp, "error.type") != "Runtime.Boom" || o.errorTextsCut.Load() != 0 {
		t.Errorf("error.type %q, cut %d", spanAttr(sp, "error.type"), o.errorTextsCut.Load())
	}
}

// TestTraceContextSourceNone: an event without a trace context (and no
// Lambda header) gives "none" on the inferred span as on the record.
func TestTraceContextSourceNone(t *testing.T) {
	r := newUnansweredRig(t)
	r.tracker.SetOwnRecords()
	now := time.Now()
	r.tracker.ObserveInvokeAt("r1", "", now)
	r.o.Invoked(rtproxy.Event{RequestID: "r1", Received: now, Body: []byte(sample(t, "apigw-v2-request-no-authorizer.json"))})
	r.o.Ended(rtproxy.End{RequestID: "r1", Kind: rtproxy.Response, Ended: now.Add(time.Millisecond), Body: []byte(`{"statusCode":200}`)})
	r.tracker.FinishIncomplete()
	var sp *tracepb.Span
	var rec string
	found := false
	for batch := r.buf.Take(1 << 20); batch != nil; batch = r.buf.Take(1 << 20) {
		m := batch.Message()
		for _, inv := range m.GetInvocations() {
			rec, found = inv.GetTraceContextSource(), true
		}
		for _, rs := range m.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				if ss.GetScope().GetName() == EventsScope {
					sp = ss.GetSpans()[0]
				}
			}
		}
	}
	if sp == nil || !found {
		t.Fatalf("inferred span %v, record found %v", sp, found)
	}
	if got := spanAttr(sp, "lambdascope.trace_context.source"); got != NoContext || rec != NoContext {
		t.Errorf("span says %q, record %q, want %q on both", got, rec, NoContext)
	}
}

// TestUnansweredThroughTheAgent runs the agent with a runtime that takes
// two events through the proxy and answers neither. The first, of which
// the platform says nothing, is ended by the next INVOKE (or, should the
// proxy's reading of it come late, by SHUTDOWN): its span says only that
// it never answered. The second runs into its timeout:
// platform.runtimeDone says so, and its span reaches the collector in the
// caller's trace, an error of type "timeout" ending when the platform
// says; the platform's spans of the invocation hang under it.
func TestUnansweredThroughTheAgent(t *testing.T) {
	collector := collectortest.Start(t)
	f := &fakeLambda{}
	ids := []string{"6f1d0b7a-0000-4000-8000-0000000000a1", "6f1d0b7a-0000-4000-8000-0000000000a2"}
	f.runtimeEvents = []runtimeEvent{{ids[0], sample(t, "apigw-v2-request-no-authorizer.json")}, {ids[1], sample(t, "sqs-traced.json")}}
	var announced string
	f.script = func(n int) (extapi.Event, []string) {
		if n < len(ids) {
			return extapi.Event{EventType: extapi.Invoke, RequestID: ids[n], DeadlineMs: time.Now().Add(3 * time.Second).UnixMilli()}, nil
		}
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "timeout", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}
	f.runtime = func(n int) {
		if n >= len(ids) {
			return
		}
		f.push(`{"time":"2024-05-01T10:00:0` + fmt.Sprint(n) + `.000Z","type":"platform.start","record":{"requestId":"` + ids[n] + `"}}`)
		b, err := os.ReadFile(announced)
		if err != nil || len(strings.Fields(string(b))) != 2 {
			t.Errorf("proxy announcement: %q, %v", b, err)
			return
		}
		resp, err := f.client.Get("http://" + strings.Fields(string(b))[0] + "/2018-06-01/runtime/invocation/next")
		if err != nil {
			t.Errorf("next: %v", err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		// No answer. The second runs into its timeout, which the platform
		// reports no sooner than its deadline, seconds after the event.
		// A quarter of a second stands for it here: pushed at once, on a
		// loaded machine the report could come in before the agent took in
		// the proxy's view of the event (that case is counted and logged
		// as late, not what this test is about).
		if n == 1 {
			time.Sleep(250 * time.Millisecond)
			f.push(`{"time":"2024-05-01T10:00:04.000Z","type":"platform.runtimeDone","record":{"requestId":"`+ids[1]+
				`","status":"timeout","errorType":"Sandbox.Timedout","metrics":{"durationMs":3000}}}`,
				`{"time":"2024-05-01T10:00:04.010Z","type":"platform.report","record":{"requestId":"`+ids[1]+
					`","status":"timeout","errorType":"Sandbox.Timedout","metrics":{"durationMs":3000,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":60}}}`)
		}
	}
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		o.Config.Flush = config.FlushEnd
		dir, _ := o.Env("TMPDIR")
		announced = filepath.Join(dir, "lambdascope-runtime-api")
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	inferred := map[string]*tracepb.Span{}
	var platform []*tracepb.Span
	for _, req := range collector.Accepted() {
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					switch ss.GetScope().GetName() {
					case EventsScope:
						inferred[spanAttr(sp, "lambdascope.invocation_id")] = sp
					case invocation.ScopeName:
						platform = append(platform, sp)
					}
				}
			}
		}
	}
	first, timedOut := inferred[ids[0]], inferred[ids[1]]
	if len(inferred) != 2 || first == nil || timedOut == nil {
		t.Fatalf("inferred spans %v, want one of each unanswered invocation\n%s", inferred, logs.String())
	}
	if spanAttr(first, "error.type") != unansweredType || !boolAttr(first, "lambdascope.end_time.estimated") ||
		(spanAttr(first, "lambdascope.unanswered.ended_by") != "next_invoke" && spanAttr(first, "lambdascope.unanswered.ended_by") != "shutdown") {
		t.Errorf("span of the invocation the next INVOKE ended: %v", first)
	}
	if timedOut.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR || spanAttr(timedOut, "error.type") != "timeout" ||
		timedOut.GetStatus().GetMessage() != "Sandbox.Timedout" || boolAttr(timedOut, "lambdascope.end_time.estimated") || spanAttr(timedOut, "lambdascope.unanswered.ended_by") != "platform" ||
		hex.EncodeToString(timedOut.GetTraceId()) != "0af7651916cd43dd8448eb211c80319c" || spanAttr(timedOut, "aws.lambda.response.size") != "" {
		t.Errorf("span of the timed-out invocation: %v", timedOut)
	}
	parented := 0
	for _, sp := range platform {
		if string(sp.GetParentSpanId()) == string(timedOut.GetSpanId()) {
			parented++
			if string(sp.GetTraceId()) != string(timedOut.GetTraceId()) {
				t.Errorf("platform span %s under the inferred span in another trace", sp.GetName())
			}
		}
	}
	if parented == 0 {
		t.Errorf("no platform span of the timed-out invocation hangs under its inferred span: %v", platform)
	}
	if out := logs.String(); !strings.Contains(out, "inferred_spans_unanswered=2") {
		t.Errorf("the unanswered spans are not counted at shutdown:\n%s", out)
	}
}
