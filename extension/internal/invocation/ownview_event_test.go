package invocation

import (
	"log/slog"
	"testing"
	"time"
)

// An invocation that never answers (it timed out, its runtime crashed)
// still has on its record what the proxy read of its event when it handed
// it to the runtime: the trigger, its source, where the trace context came
// from; the first one is the cold start. The record built at the next
// INVOKE has no end; the one a SHUTDOWN for a timeout interrupted takes
// the reason as its status. The answer, when it comes, gives its own
// fields beside the event's.
func TestOwnRecordOfAnUnansweredInvocationHasItsTrigger(t *testing.T) {
	tr, s, now := ownTracker()
	event := Response{Trigger: "sqs", TriggerSource: "orders", TraceContextSource: "w3c"}
	start1 := *now
	tr.ObserveInvoke("r1", "")
	tr.ObserveEvent("r1", start1.Add(time.Millisecond), event)
	// r1 crashed: the environment starts again and r2 runs.
	*now = start1.Add(time.Second)
	tr.ObserveInvoke("r2", "")
	tr.ObserveEvent("r2", now.Add(time.Millisecond), Response{Trigger: "apigateway-http", TriggerSource: "GET /items", TraceContextSource: "xray",
		// Answer fields are not the event's: left out.
		HTTPStatus: 500, ErrorMessage: "not from the event"})
	tr.ObserveResponse("r2", Response{Trigger: "apigateway-http", TriggerSource: "GET /items", TraceContextSource: "xray", HTTPStatus: 200, Size: 7})
	tr.ObserveEnd("r2", time.Time{}, now.Add(3*time.Millisecond), false, "")
	// r3 runs into its timeout.
	*now = now.Add(time.Second)
	tr.ObserveInvoke("r3", "")
	tr.ObserveEvent("r3", *now, event)
	tr.SetShutdownReason("timeout")
	tr.FinishIncomplete()

	recs := byRequest(t, s.invocations)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	for id, status := range map[string]string{"r1": "", "r3": "timeout"} {
		r := recs[id]
		if r.GetTrigger() != "sqs" || r.GetTriggerSource() != "orders" || r.GetTraceContextSource() != "w3c" {
			t.Errorf("%s: trigger %q, source %q, context %q; want what the proxy read of the event", id, r.GetTrigger(), r.GetTriggerSource(), r.GetTraceContextSource())
		}
		if r.GetStatus() != status || r.GetUnknownFigures()&unknownDuration == 0 || !r.GetIncomplete() {
			t.Errorf("%s = %v, want status %q and the duration unknown", id, r, status)
		}
	}
	if !recs["r1"].GetColdStart() || recs["r2"].GetColdStart() || recs["r3"].GetColdStart() {
		t.Errorf("cold starts r1 %v, r2 %v, r3 %v; want r1 alone", recs["r1"].GetColdStart(), recs["r2"].GetColdStart(), recs["r3"].GetColdStart())
	}
	if r := recs["r1"]; r.GetStartTimeUnixNano() != uint64(start1.UnixNano()) {
		t.Errorf("r1 starts at %d, want the INVOKE's %d (before the hand-over)", r.GetStartTimeUnixNano(), start1.UnixNano())
	}
	if r := recs["r2"]; r.GetTrigger() != "apigateway-http" || r.GetHttpStatusCode() != 200 || r.GetResponseSize() != 7 ||
		r.GetErrorMessage() != "" || r.GetStatus() != "success" || r.GetDurationMs() != 3 {
		t.Errorf("r2 = %v, want the event's trigger and the answer's status 200", r)
	}
}

// The event handed over with the Telemetry API working: a record built
// from the platform's report of an invocation that never answered has the
// trigger too. What the proxy reports of an invocation whose record was
// built already is counted, not kept.
func TestEventTriggerOnThePlatformsRecord(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, slog.New(slog.DiscardHandler))
	tr.ObserveInvoke("r1", "")
	tr.ObserveEvent("r1", time.Now(), Response{Trigger: "sns", TriggerSource: "alerts", TraceContextSource: "none"})
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2026-12-07T10:00:00.000Z", "type": "platform.start", "record": {"requestId": "r1"}},
		{"time": "2026-12-07T10:00:03.000Z", "type": "platform.runtimeDone", "record": {"requestId": "r1", "status": "timeout"}},
		{"time": "2026-12-07T10:00:03.002Z", "type": "platform.report", "record": {"requestId": "r1", "status": "timeout",
			"metrics": {"durationMs": 3000, "billedDurationMs": 3000, "memorySizeMB": 128, "maxMemoryUsedMB": 40}}}]`))
	if len(s.invocations) != 1 {
		t.Fatalf("%d records, want 1", len(s.invocations))
	}
	if r := s.invocations[0]; r.GetTrigger() != "sns" || r.GetTriggerSource() != "alerts" || r.GetStatus() != "timeout" || r.GetIncomplete() {
		t.Errorf("record = %v, want the platform's with the event's trigger", r)
	}
	tr.ObserveEvent("r1", time.Now(), Response{Trigger: "sns"})
	tr.ObserveResponse("r1", Response{Trigger: "sns"})
	if n := tr.Stats().ResponsesLate; n != 2 {
		t.Errorf("late = %d, want 2 (the event and the answer)", n)
	}
}

// On Managed Instances (no INVOKE events) without the Telemetry API, a
// record is built and handed to the sink as soon as its answer is seen,
// not at SHUTDOWN: from the hand-over of the event to the answer, with
// the trigger and outcome, counted as a record from the own view. One
// that waits for ReleaseReport is built then; one left without an answer
// is built at SHUTDOWN, its duration unknown. A report coming after all
// for an invocation recorded so is left out and counted.
func TestOwnRecordsAtTheAnswerOnManagedInstances(t *testing.T) {
	tr, s, now := ownTracker()
	tr.SetManagedInstances()
	t0 := *now
	tr.ObserveEvent("a", t0, Response{Trigger: "sqs", TriggerSource: "orders", TraceContextSource: "lambda"})
	tr.ObserveEvent("b", t0.Add(time.Millisecond), Response{Trigger: "direct", TraceContextSource: "lambda"})
	tr.ObserveEvent("c", t0.Add(2*time.Millisecond), Response{Trigger: "s3", TraceContextSource: "none"})
	tr.ObserveEvent("d", t0.Add(3*time.Millisecond), Response{Trigger: "sns", TraceContextSource: "none"})
	if !tr.DeferReport("c") {
		t.Fatal("DeferReport refused")
	}
	// b answers first, a after it; both while c and d still run.
	tr.ObserveResponse("b", Response{Trigger: "direct", TraceContextSource: "lambda", ErrorMessage: "declined"})
	tr.ObserveEnd("b", time.Time{}, t0.Add(5*time.Millisecond), true, "CallFailed")
	if len(s.invocations) != 1 || s.invocations[0].GetRequestId() != "b" {
		t.Fatalf("records after b's answer: %v, want b's", s.invocations)
	}
	tr.ObserveResponse("a", Response{Trigger: "sqs", TriggerSource: "orders", TraceContextSource: "lambda", Size: 9})
	tr.ObserveEnd("a", t0, t0.Add(10*time.Millisecond), false, "")
	tr.ObserveEnd("c", time.Time{}, t0.Add(12*time.Millisecond), false, "")
	if len(s.invocations) != 2 {
		t.Fatalf("%d records after a's and c's answers, want 2 (c waits)", len(s.invocations))
	}
	tr.ReleaseReport("c")
	if len(s.invocations) != 3 || s.invocations[2].GetRequestId() != "c" {
		t.Fatalf("records after c's release: %v, want c's last", s.invocations)
	}
	if st := tr.Stats(); st.OwnRecords != 3 {
		t.Errorf("own records = %d before SHUTDOWN, want 3", st.OwnRecords)
	}
	// The platform speaks after all: a's report is left out.
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2026-12-07T10:00:00.011Z", "type": "platform.report", "record": {"requestId": "a", "status": "success",
			"metrics": {"durationMs": 10}}}]`))
	*now = t0.Add(time.Hour)
	tr.SetShutdownReason("spindown")
	tr.FinishIncomplete()

	recs := byRequest(t, s.invocations)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	if r := recs["a"]; r.GetStartTimeUnixNano() != uint64(t0.UnixNano()) || r.GetDurationMs() != 10 || r.GetStatus() != "success" ||
		r.GetTrigger() != "sqs" || r.GetTriggerSource() != "orders" || r.GetResponseSize() != 9 || !r.GetIncomplete() {
		t.Errorf("a = %v", r)
	}
	if r := recs["b"]; r.GetDurationMs() != 4 || r.GetStatus() != "error" || r.GetErrorType() != "CallFailed" || r.GetErrorMessage() != "declined" {
		t.Errorf("b = %v", r)
	}
	if r := recs["c"]; r.GetDurationMs() != 10 || r.GetTrigger() != "s3" {
		t.Errorf("c = %v", r)
	}
	if r := recs["d"]; r.GetTrigger() != "sns" || r.GetUnknownFigures()&unknownDuration == 0 || r.GetStatus() != "" ||
		r.GetStartTimeUnixNano() != uint64(t0.Add(3*time.Millisecond).UnixNano()) {
		t.Errorf("d = %v, want its trigger, its start at the hand-over and its duration unknown", r)
	}
	if st := tr.Stats(); st.OwnRecords != 4 || st.ReportsAfterOwn != 1 || st.Invocations != 4 {
		t.Errorf("stats = %+v, want 4 own records, 1 report after them", st)
	}
}

// In classic mode the record still waits for the next INVOKE, whatever
// the answer: a report may come until then.
func TestOwnRecordsWaitForTheNextInvokeInClassicMode(t *testing.T) {
	tr, s, now := ownTracker()
	tr.ObserveInvoke("r1", "")
	tr.ObserveEvent("r1", *now, Response{Trigger: "direct"})
	tr.ObserveEnd("r1", *now, now.Add(time.Millisecond), false, "")
	if len(s.invocations) != 0 {
		t.Fatalf("%d records at the answer in classic mode, want 0", len(s.invocations))
	}
	tr.ObserveInvoke("r2", "")
	if len(s.invocations) != 1 {
		t.Fatalf("%d records at the next INVOKE, want 1", len(s.invocations))
	}
}
