package invocation

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

const (
	unknownDuration = uint32(ingestv1.Figure_FIGURE_DURATION)
	unknownBilled   = uint32(ingestv1.Figure_FIGURE_BILLED_DURATION)
	unknownMemory   = uint32(ingestv1.Figure_FIGURE_MEMORY_SIZE)
	unknownUsed     = uint32(ingestv1.Figure_FIGURE_MAX_MEMORY_USED)
)

// ownTracker is a tracker building records from the extension's own
// view, on a clock the test moves.
func ownTracker() (*Tracker, *sink, *time.Time) {
	s := &sink{}
	tr := New(s, nil, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tr.now = func() time.Time { return now }
	tr.SetOwnRecords()
	return tr, s, &now
}

// byRequest indexes records by request ID and fails on a request with
// two.
func byRequest(t *testing.T, invs []*ingestv1.Invocation) map[string]*ingestv1.Invocation {
	t.Helper()
	out := map[string]*ingestv1.Invocation{}
	for _, inv := range invs {
		if _, dup := out[inv.GetRequestId()]; dup {
			t.Errorf("request %s has two records", inv.GetRequestId())
		}
		out[inv.GetRequestId()] = inv
	}
	return out
}

// Without the Telemetry API, with the Runtime API proxy: each invocation
// gets one record from what the extension saw, built when the next INVOKE
// (or SHUTDOWN) comes: start at the INVOKE, end and outcome from the
// answer, the trigger fields, the trace of the X-Ray header, the cold
// start on the first; the figures only the platform knows are unknown
// (the billed duration to be estimated from the duration) and the record
// is incomplete.
func TestOwnRecordsWithTheProxy(t *testing.T) {
	tr, s, now := ownTracker()
	tr.SetExtensionInit(30 * time.Millisecond)
	const xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	start1 := *now
	tr.ObserveInvoke("r1", xray)
	tr.ObserveResponse("r1", Response{Trigger: "sqs", TriggerSource: "orders", TraceContextSource: "lambda", Size: 12})
	tr.ObserveEnd("r1", time.Time{}, start1.Add(12500*time.Microsecond), false, "")
	if len(s.invocations) != 0 {
		t.Fatalf("%d records before the invocation's end was settled, want 0", len(s.invocations))
	}

	*now = start1.Add(time.Second)
	start2 := *now
	tr.ObserveInvoke("r2", "")
	tr.ObserveResponse("r2", Response{Trigger: "direct", ErrorMessage: "boom"})
	tr.ObserveEnd("r2", time.Time{}, start2.Add(3*time.Millisecond), true, "CallFailed")
	if len(s.invocations) != 1 {
		t.Fatalf("%d records once the next INVOKE came, want 1", len(s.invocations))
	}
	tr.SetShutdownReason("spindown")
	if n := tr.FinishIncomplete(); n != 1 {
		t.Errorf("FinishIncomplete wrote %d records, want 1", n)
	}
	recs := byRequest(t, s.invocations)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	const unknown = unknownBilled | unknownMemory | unknownUsed
	r1 := recs["r1"]
	if r1.GetStartTimeUnixNano() != uint64(start1.UnixNano()) || r1.GetDurationMs() != 12.5 || r1.GetUnknownFigures() != unknown ||
		!r1.GetIncomplete() || !r1.GetColdStart() || r1.GetExtensionInitMs() != 30 || r1.GetStatus() != "success" || r1.GetErrorType() != "" {
		t.Errorf("r1 = %v", r1)
	}
	if r1.GetTrigger() != "sqs" || r1.GetTriggerSource() != "orders" || r1.GetTraceContextSource() != "lambda" || r1.GetResponseSize() != 12 {
		t.Errorf("r1 lost what the proxy saw: %v", r1)
	}
	if r1.GetXrayTraceHeader() != xray || fmt.Sprintf("%x", r1.GetTraceId()) != "5759e988bd862e3fe1be46a994272793" {
		t.Errorf("r1 trace: header %q, ID %x", r1.GetXrayTraceHeader(), r1.GetTraceId())
	}
	r2 := recs["r2"]
	if r2.GetStartTimeUnixNano() != uint64(start2.UnixNano()) || r2.GetDurationMs() != 3 || r2.GetUnknownFigures() != unknown ||
		!r2.GetIncomplete() || r2.GetColdStart() || r2.GetStatus() != "error" || r2.GetErrorType() != "CallFailed" || r2.GetErrorMessage() != "boom" {
		t.Errorf("r2 = %v", r2)
	}
	if st := tr.Stats(); st.OwnRecords != 2 || st.Invocations != 2 || st.Unrecorded != 0 {
		t.Errorf("stats = %+v, want 2 records from the own view", st)
	}
}

// Without the proxy nothing tells an invocation's end: its record, built
// at the next INVOKE, has no duration and no status (empty: unknown); the
// one in flight at a SHUTDOWN for a timeout takes the reason.
func TestOwnRecordsWithoutTheProxy(t *testing.T) {
	for _, tt := range []struct{ reason, want string }{{"timeout", "timeout"}, {"failure", "failure"}, {"spindown", ""}} {
		t.Run(tt.reason, func(t *testing.T) {
			tr, s, now := ownTracker()
			tr.ObserveInvoke("r1", "")
			*now = now.Add(time.Second)
			tr.ObserveInvoke("r2", "")
			tr.SetShutdownReason(tt.reason)
			tr.FinishIncomplete()
			recs := byRequest(t, s.invocations)
			const unknown = unknownDuration | unknownBilled | unknownMemory | unknownUsed
			for id, status := range map[string]string{"r1": "", "r2": tt.want} {
				r, ok := recs[id]
				if !ok {
					t.Errorf("no record for %s", id)
					continue
				}
				if r.GetDurationMs() != 0 || r.GetUnknownFigures() != unknown || !r.GetIncomplete() || r.GetStatus() != status {
					t.Errorf("%s = %v, want every figure unknown and status %q", id, r, status)
				}
			}
			if !recs["r1"].GetColdStart() || recs["r2"].GetColdStart() {
				t.Errorf("cold starts: r1 %v, r2 %v; want r1 only", recs["r1"].GetColdStart(), recs["r2"].GetColdStart())
			}
		})
	}
}

// The Telemetry API delivers after all (its subscription failed on the
// extension's side only, or it starts late): the platform's record wins.
// An invocation whose report comes before its own record is settled has
// the platform's record alone; from the first platform event on, no
// record is built from the own view at the next INVOKE; a report for an
// invocation recorded from the own view already is left out and counted;
// one the platform never spoke of still gets its record at SHUTDOWN.
func TestOwnRecordsPlatformWins(t *testing.T) {
	tr, s, now := ownTracker()
	// r0 is over and recorded before any platform event.
	tr.ObserveInvoke("r0", "")
	tr.ObserveEnd("r0", time.Time{}, now.Add(time.Millisecond), false, "")
	*now = now.Add(time.Second)
	tr.ObserveInvoke("r1", "")
	if len(s.invocations) != 1 || s.invocations[0].GetRequestId() != "r0" {
		t.Fatalf("records = %v, want r0's", s.invocations)
	}
	tr.ObserveEnd("r1", time.Time{}, now.Add(5*time.Millisecond), false, "")
	// The stream starts: r0's events, late, then r1's.
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2026-12-07T10:00:00.000Z", "type": "platform.start", "record": {"requestId": "r0"}},
		{"time": "2026-12-07T10:00:00.001Z", "type": "platform.runtimeDone", "record": {"requestId": "r0", "status": "success"}},
		{"time": "2026-12-07T10:00:00.002Z", "type": "platform.report", "record": {"requestId": "r0", "status": "success",
			"metrics": {"durationMs": 2, "billedDurationMs": 2, "memorySizeMB": 128, "maxMemoryUsedMB": 40}}},
		{"time": "2026-12-07T10:00:01.000Z", "type": "platform.start", "record": {"requestId": "r1"}},
		{"time": "2026-12-07T10:00:01.006Z", "type": "platform.report", "record": {"requestId": "r1", "status": "success",
			"metrics": {"durationMs": 6, "billedDurationMs": 6, "memorySizeMB": 128, "maxMemoryUsedMB": 41}}}]`))
	// r2 runs; the stream has shown it delivers, so r2's record waits for
	// its report rather than being built at r3's INVOKE.
	*now = now.Add(time.Second)
	tr.ObserveInvoke("r2", "")
	tr.ObserveEnd("r2", time.Time{}, now.Add(time.Millisecond), false, "")
	*now = now.Add(time.Second)
	tr.ObserveInvoke("r3", "")
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2026-12-07T10:00:02.000Z", "type": "platform.start", "record": {"requestId": "r2"}},
		{"time": "2026-12-07T10:00:02.004Z", "type": "platform.report", "record": {"requestId": "r2", "status": "success",
			"metrics": {"durationMs": 4, "billedDurationMs": 4, "memorySizeMB": 128, "maxMemoryUsedMB": 42}}}]`))
	// Nothing of r3 comes from the platform.
	tr.SetShutdownReason("spindown")
	tr.FinishIncomplete()

	recs := byRequest(t, s.invocations)
	if len(recs) != 4 {
		t.Fatalf("%d records, want one for each of r0..r3", len(recs))
	}
	if r := recs["r0"]; !r.GetIncomplete() || r.GetDurationMs() != 1 {
		t.Errorf("r0 = %v, want the record from the own view (built before the stream started)", r)
	}
	for id, ms := range map[string]float64{"r1": 6, "r2": 4} {
		if r := recs[id]; r.GetIncomplete() || r.GetDurationMs() != ms || r.GetMaxMemoryUsedMb() == 0 || r.GetUnknownFigures() != 0 {
			t.Errorf("%s = %v, want the platform's record", id, r)
		}
	}
	if r := recs["r3"]; !r.GetIncomplete() || r.GetUnknownFigures()&unknownDuration == 0 {
		t.Errorf("r3 = %v, want a record from the own view, its duration unknown", r)
	}
	if st := tr.Stats(); st.ReportsAfterOwn != 1 || st.OwnRecords != 2 || st.Invocations != 4 {
		t.Errorf("stats = %+v, want 1 report after its own record, 2 own records, 4 in all", st)
	}
}

// With the Telemetry API working, an INVOKE builds no record; an
// invocation it never reported gets one from the own view at SHUTDOWN,
// and an INVOKE handled after the invocation's report (a busy extension)
// does not make a second one.
func TestOwnRecordsOnlyForWhatThePlatformLeftOut(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, slog.New(slog.DiscardHandler))
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2026-12-07T10:00:00.000Z", "type": "platform.start", "record": {"requestId": "r1"}},
		{"time": "2026-12-07T10:00:00.002Z", "type": "platform.report", "record": {"requestId": "r1", "status": "success",
			"metrics": {"durationMs": 2, "billedDurationMs": 2, "memorySizeMB": 128, "maxMemoryUsedMB": 40}}}]`))
	tr.ObserveInvoke("r1", "")
	tr.ObserveEnd("r1", time.Time{}, time.Now(), false, "")
	tr.ObserveInvoke("r2", "")
	tr.ObserveInvoke("r3", "")
	if len(s.invocations) != 1 {
		t.Fatalf("%d records before shutdown, want r1's", len(s.invocations))
	}
	tr.FinishIncomplete()
	recs := byRequest(t, s.invocations)
	if len(recs) != 3 || recs["r1"].GetIncomplete() || !recs["r2"].GetIncomplete() || !recs["r3"].GetIncomplete() {
		t.Errorf("records = %v, want r1's report and r2, r3 from the own view", recs)
	}
}

// An invocation forgotten beyond the bound of those waiting for their
// record is counted, never dropped silently.
func TestUnrecordedInvocationsAreCounted(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, slog.New(slog.DiscardHandler))
	for i := range maxTracked + 3 {
		tr.ObserveInvoke(fmt.Sprintf("r%d", i), "")
	}
	if st := tr.Stats(); st.Unrecorded != 3 {
		t.Errorf("unrecorded = %d, want 3", st.Unrecorded)
	}
	tr.FinishIncomplete()
	if st := tr.Stats(); st.Unrecorded != 3 || st.Invocations != maxTracked {
		t.Errorf("stats = %+v, want 3 unrecorded and %d records", st, maxTracked)
	}
	// A platform.start alone at shutdown: counted too.
	tr = New(s, nil, slog.New(slog.DiscardHandler))
	tr.HandleTelemetry(parseEvents(t, `[{"time": "2026-12-07T10:00:00.000Z", "type": "platform.start", "record": {"requestId": "x"}}]`))
	if n := tr.FinishIncomplete(); n != 0 || tr.Stats().Unrecorded != 1 {
		t.Errorf("FinishIncomplete wrote %d, stats %+v; want 0 and 1 unrecorded", n, tr.Stats())
	}
}

// A record that waits (DeferReport) with its report come is built once:
// what the proxy reports of the invocation afterwards, its answer
// included, makes no record from the own view.
func TestOwnRecordsNotForAReportThatWaits(t *testing.T) {
	for _, own := range []bool{false, true} {
		t.Run(fmt.Sprint("own=", own), func(t *testing.T) {
			s := &sink{}
			tr := New(s, nil, slog.New(slog.DiscardHandler))
			tr.ObserveInvoke("r1", "")
			if !tr.DeferReport("r1") {
				t.Fatal("DeferReport refused")
			}
			tr.HandleTelemetry(parseEvents(t, `[
				{"time": "2026-12-07T10:00:00.000Z", "type": "platform.start", "record": {"requestId": "r1"}},
				{"time": "2026-12-07T10:00:00.002Z", "type": "platform.report", "record": {"requestId": "r1", "status": "success",
					"metrics": {"durationMs": 2, "billedDurationMs": 2, "memorySizeMB": 128, "maxMemoryUsedMB": 40}}}]`))
			if own {
				tr.SetOwnRecords()
			}
			// The proxy's view of r1 comes late.
			tr.ObserveResponse("r1", Response{Trigger: "sqs"})
			tr.ObserveEnd("r1", time.Time{}, time.Now(), false, "")
			tr.ObserveInvoke("r2", "")
			tr.ReleaseReport("r1")
			tr.FinishIncomplete()
			recs := byRequest(t, s.invocations)
			if r := recs["r1"]; r == nil || r.GetIncomplete() || r.GetDurationMs() != 2 {
				t.Errorf("r1 = %v, want the platform's record alone", r)
			}
		})
	}
}

// Only the answer seen (no INVOKE event, as on Managed Instances): the
// record starts at the answer, its duration unknown, never a 0 taken
// for a figure.
func TestOwnRecordOfAnAnswerAlone(t *testing.T) {
	tr, s, now := ownTracker()
	tr.ObserveEnd("r1", time.Time{}, *now, true, "Boom")
	tr.SetShutdownReason("SPINDOWN")
	tr.FinishIncomplete()
	if len(s.invocations) != 1 {
		t.Fatalf("%d records, want 1", len(s.invocations))
	}
	r := s.invocations[0]
	if r.GetStartTimeUnixNano() != uint64(now.UnixNano()) || r.GetUnknownFigures()&unknownDuration == 0 || r.GetStatus() != "error" || r.GetErrorType() != "Boom" {
		t.Errorf("record = %v, want it to start at the answer, its duration unknown, status error", r)
	}
}

// The first INVOKE reaches the tracker once the agent has started, which
// can be after the runtime answered: the record then starts when the
// proxy handed the event to the runtime, and its duration is the time to
// the answer. When the INVOKE came first, it stays the start.
func TestOwnRecordStartsWhenTheRuntimeGotTheEvent(t *testing.T) {
	tr, s, now := ownTracker()
	received := *now
	*now = received.Add(20 * time.Millisecond)
	tr.ObserveInvoke("r1", "")
	tr.ObserveEnd("r1", received, received.Add(5*time.Millisecond), false, "")

	*now = received.Add(time.Second)
	invoked := *now
	tr.ObserveInvoke("r2", "")
	tr.ObserveEnd("r2", invoked.Add(time.Millisecond), invoked.Add(4*time.Millisecond), false, "")
	tr.SetShutdownReason("spindown")
	tr.FinishIncomplete()

	recs := byRequest(t, s.invocations)
	if r := recs["r1"]; r.GetStartTimeUnixNano() != uint64(received.UnixNano()) || r.GetDurationMs() != 5 {
		t.Errorf("r1: start %d, duration %v ms; want %d and 5 ms (from the proxy's hand-over)", r.GetStartTimeUnixNano(), r.GetDurationMs(), received.UnixNano())
	}
	if r := recs["r2"]; r.GetStartTimeUnixNano() != uint64(invoked.UnixNano()) || r.GetDurationMs() != 4 {
		t.Errorf("r2: start %d, duration %v ms; want %d and 4 ms (from the INVOKE)", r.GetStartTimeUnixNano(), r.GetDurationMs(), invoked.UnixNano())
	}
}

// A SHUTDOWN for a timeout or a failure concerns the invocation of the
// last INVOKE event alone: when that one is recorded already (its report
// came, before or after its INVOKE), an earlier invocation the platform
// said nothing of keeps an unknown status rather than taking the reason;
// when the last one has no record, it takes it.
func TestShutdownReasonOnlyForTheLastInvoke(t *testing.T) {
	const (
		start2  = `{"time": "2026-12-07T10:00:01.000Z", "type": "platform.start", "record": {"requestId": "r2"}}`
		done2   = `{"time": "2026-12-07T10:00:01.002Z", "type": "platform.runtimeDone", "record": {"requestId": "r2", "status": "success"}}`
		report2 = `{"time": "2026-12-07T10:00:01.003Z", "type": "platform.report", "record": {"requestId": "r2", "status": "success",
			"metrics": {"durationMs": 2, "billedDurationMs": 2, "memorySizeMB": 128, "maxMemoryUsedMB": 40}}}`
	)
	for _, tt := range []struct {
		name     string
		run      func(t *testing.T, tr *Tracker)
		want     map[string]string // status by request ID
		complete string            // the record from the platform's report
	}{
		{"last reported after its INVOKE", func(t *testing.T, tr *Tracker) {
			tr.ObserveInvoke("r1", "")
			tr.ObserveInvoke("r2", "")
			tr.HandleTelemetry(parseEvents(t, "["+start2+","+done2+","+report2+"]"))
		}, map[string]string{"r1": "", "r2": "success"}, "r2"},
		{"last reported before its INVOKE", func(t *testing.T, tr *Tracker) {
			tr.ObserveInvoke("r1", "")
			tr.HandleTelemetry(parseEvents(t, "["+start2+","+done2+","+report2+"]"))
			tr.ObserveInvoke("r2", "")
		}, map[string]string{"r1": "", "r2": "success"}, "r2"},
		{"last without a record", func(t *testing.T, tr *Tracker) {
			tr.ObserveInvoke("r1", "")
			tr.ObserveInvoke("r2", "")
		}, map[string]string{"r1": "", "r2": "timeout"}, ""},
		{"last answered", func(t *testing.T, tr *Tracker) {
			tr.ObserveInvoke("r1", "")
			tr.ObserveInvoke("r2", "")
			tr.ObserveEnd("r2", time.Time{}, time.Date(2026, 12, 7, 10, 0, 1, 0, time.UTC), false, "")
		}, map[string]string{"r1": "", "r2": "success"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{}
			tr := New(s, nil, slog.New(slog.DiscardHandler))
			tt.run(t, tr)
			tr.SetShutdownReason("timeout")
			tr.FinishIncomplete()
			recs := byRequest(t, s.invocations)
			if len(recs) != len(tt.want) {
				t.Fatalf("%d records, want %d: %v", len(recs), len(tt.want), recs)
			}
			for id, status := range tt.want {
				r := recs[id]
				if r.GetStatus() != status {
					t.Errorf("%s: status %q, want %q", id, r.GetStatus(), status)
				}
				if r.GetIncomplete() != (id != tt.complete) {
					t.Errorf("%s: incomplete %v, want %v", id, r.GetIncomplete(), id != tt.complete)
				}
			}
		})
	}
}
