package invocation

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Records from the extension's own view.
//
// Without the Telemetry API (its subscription refused or failed, or not
// supported, as under AWS's emulator in classic mode) no platform event
// comes, yet the extension still sees every invocation: the INVOKE event
// (request ID, X-Ray header), and, when the runtime talks to the Runtime
// API proxy, the event and the answer. From SetOwnRecords on, the tracker
// builds each invocation's record from that view:
//
//   - start: when the INVOKE event was received;
//   - end: the answer seen by the proxy, which gives the duration (INVOKE
//     to answer, measured by the extension), the status ("success" or
//     "error") and the error type; without it the duration is unknown and
//     the status is empty (unknown), except for the invocation in flight
//     at a SHUTDOWN whose reason is "timeout" or "failure", which takes
//     the reason;
//   - the billed duration, the memory size and the memory used are never
//     known: they are marked in unknown_figures (the collector estimates
//     the billed duration from a known duration and fills the memory size
//     from the function's identity), and the record is marked incomplete.
//
// A record is built when the next INVOKE event comes or at SHUTDOWN
// (FinishIncomplete), not at the answer: the platform's report, should
// the Telemetry API deliver after all (a subscription that failed on the
// extension's side only, a stream that starts late), has until then to
// come, and it wins. The first platform event ends the own records for
// good: the invocations not yet recorded wait for their reports (and get
// a record of their own at SHUTDOWN only if none came). A report for an
// invocation whose record was built from the own view already is left
// out and counted (Stats.ReportsAfterOwn), so that no request has two
// records.

// maxOwnErrorType bounds the error type taken from the answer, in bytes.
const maxOwnErrorType = 256

// answer is what the Runtime API proxy saw of an invocation's end.
type answer struct {
	// received is when the proxy handed the event to the runtime (zero
	// when not known), at when it saw the answer.
	received, at time.Time
	failed       bool
	errorType    string
}

// SetOwnRecords makes the tracker build invocation records from the
// extension's own view (see above): the Telemetry API does not deliver.
// Call it before the first event.
func (t *Tracker) SetOwnRecords() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.own = true
}

// SetShutdownReason gives the reason of the SHUTDOWN event: an invocation
// left without an answer at a "timeout" or "failure" takes it as its
// status (FinishIncomplete).
func (t *Tracker) SetShutdownReason(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shutdownReason = strings.ToLower(strings.TrimSpace(reason))
}

// ObserveEnd records the runtime's answer to an invocation as the Runtime
// API proxy saw it: when the proxy handed the event to the runtime
// (received; zero when not known), when it saw the answer (at), whether
// that went to /error, and the error type. A record built from the
// extension's own view takes its end, status and error type from it, and
// its start from received when that is before the INVOKE event as the
// agent saw it (the first one, read once the agent had started, can come
// after the answer); a record built from the platform's report does not
// need it.
func (t *Tracker) ObserveEnd(requestID string, received, at time.Time, failed bool, errorType string) {
	if requestID == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reportedLocked(requestID) {
		return
	}
	t.stateLocked(requestID).end = &answer{received: received, at: at, failed: failed, errorType: CutText(errorType, maxOwnErrorType)}
}

// reportedLocked says whether the record of id was built, or its report
// came and waits (DeferReport): what comes of the invocation after that
// makes no second record.
func (t *Tracker) reportedLocked(id string) bool {
	_, done := t.built[id]
	return done || t.deferred[id] != nil
}

// platformSeenLocked notes that the Telemetry API delivers: the records
// come from the platform's reports from now on.
func (t *Tracker) platformSeenLocked() {
	if !t.own {
		return
	}
	t.own = false
	t.log.Info("the Telemetry API delivers platform events after all; invocation records come from the platform's reports from now on",
		"records_from_own_view", t.stats.OwnRecords)
}

// ownBuiltLocked says whether the record of id was built from the own
// view, the last maxBuilt of them: the platform's events of that
// invocation are left out.
func (t *Tracker) ownBuiltLocked(id string) bool {
	_, ok := t.ownBuilt[id]
	return ok
}

// reportAfterOwnLocked counts a platform report that came for an
// invocation whose record was built from the own view, and says so.
func (t *Tracker) reportAfterOwnLocked(id string) {
	t.stats.ReportsAfterOwn++
	t.log.Warn("a platform report came after the invocation's record was built from the extension's own view; the report is left out",
		"request_id", id, "total", t.stats.ReportsAfterOwn)
}

// settleLocked builds the records, from the own view, of the invocations
// started before the one whose INVOKE event just came (current): in
// classic mode they are over. Nothing is built once the Telemetry API was
// seen delivering.
func (t *Tracker) settleLocked(current string) []*ingestv1.Invocation {
	if !t.own {
		return nil
	}
	var due []*state
	for id, st := range t.requests {
		if id != current && !st.invokedAt.IsZero() && st.runtimeDone == nil && st.start.IsZero() && !t.reportedLocked(id) {
			due = append(due, st)
		}
	}
	slices.SortFunc(due, func(a, b *state) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]*ingestv1.Invocation, 0, len(due))
	for _, st := range due {
		out = append(out, t.ownLocked(st, ""))
	}
	return out
}

// hasOwnView says whether the extension saw st's invocation run: its
// INVOKE event, its platform.start, or its answer.
func (st *state) hasOwnView() bool {
	return !st.invokedAt.IsZero() || !st.start.IsZero() || st.end != nil
}

// ownRecordDue says whether st, without platform.runtimeDone at
// shutdown, gets a record from the own view: the extension saw it run, and
// the platform said nothing of it or the proxy saw its answer.
func (st *state) ownRecordDue() bool {
	return st.hasOwnView() && (st.start.IsZero() || st.end != nil)
}

// ownLocked builds the record of st from the extension's own view and
// forgets st. status, when not empty, is the status of an invocation left
// without an answer (the SHUTDOWN's reason).
func (t *Tracker) ownLocked(st *state, status string) *ingestv1.Invocation {
	id := st.requestID
	start := cmp.Or(st.start, st.invokedAt)
	if a := st.end; a != nil && st.start.IsZero() && !a.received.IsZero() && (start.IsZero() || a.received.Before(start)) {
		start = a.received
	}
	p := &telemetry.PlatformRecord{RequestID: id}
	end := start
	if a := st.end; a != nil {
		switch {
		case start.IsZero():
			// Only the answer was seen: no duration.
			start = a.at
		case a.at.Before(start):
			// The answer came before anything known of the start: no
			// duration rather than a 0 taken for one.
		default:
			p.Metrics.DurationMs = float64(a.at.Sub(start)) / float64(time.Millisecond)
			p.Metrics.Given = telemetry.FigureDuration
		}
		end = a.at
		status = "success"
		if a.failed {
			status, p.ErrorType = "error", a.errorType
		}
	}
	st.start = start
	inv := t.buildLocked(st, &telemetry.Event{Time: end, Type: telemetry.TypeReport, Kind: telemetry.KindPlatform, Platform: p})
	// Empty when unknown, not the "success" an absent status means in a
	// platform's report.
	inv.Status = status
	inv.Incomplete = true
	delete(t.requests, id)
	delete(t.inflight, id)
	delete(t.spans, id)
	delete(t.deferred, id)
	if _, ok := t.ownBuilt[id]; !ok {
		t.ownBuilt[id] = struct{}{}
		t.ownBuiltQ = append(t.ownBuiltQ, id)
		if len(t.ownBuiltQ) > maxBuilt {
			delete(t.ownBuilt, t.ownBuiltQ[0])
			t.ownBuiltQ = t.ownBuiltQ[1:]
		}
	}
	t.stats.Invocations++
	t.stats.OwnRecords++
	return inv
}

// unrecordedLocked counts an invocation the extension saw run but could
// not build a record of, and says so.
func (t *Tracker) unrecordedLocked(st *state, why string) {
	if !st.hasOwnView() && st.runtimeDone == nil {
		return
	}
	t.stats.Unrecorded++
	t.log.Warn("an invocation is left without a record", "request_id", st.requestID, "why", why, "total", t.stats.Unrecorded)
}

// shutdownStatus is the status, from the SHUTDOWN's reason, of the
// invocation among pending invoked last when it has neither an answer
// nor a platform.runtimeDone: "timeout" or "failure", else none.
func (t *Tracker) shutdownStatus(pending []*state) (*state, string) {
	if t.shutdownReason != "timeout" && t.shutdownReason != "failure" {
		return nil, ""
	}
	var last *state
	for _, st := range pending {
		if !st.invokedAt.IsZero() && (last == nil || st.seq > last.seq) {
			last = st
		}
	}
	if last == nil || last.runtimeDone != nil || last.end != nil {
		return nil, ""
	}
	return last, t.shutdownReason
}
