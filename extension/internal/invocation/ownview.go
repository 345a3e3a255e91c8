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
//   - start: when the INVOKE event was received, or when the proxy
//     handed the event to the runtime if that was earlier (the first
//     INVOKE, read once the agent had started, can come after it) or
//     there is no INVOKE event (Managed Instances);
//   - the trigger, its source and where the trace context came from:
//     what the proxy read of the event when it handed it to the runtime
//     (ObserveEvent), so that an invocation that never answers (it timed
//     out, its runtime crashed) has them too;
//   - end: the answer seen by the proxy, which gives the duration (start
//     to answer, measured by the extension), the status ("success" or
//     "error") and the error type; without it the duration is unknown and
//     the status is empty (unknown), except for the invocation of the
//     last INVOKE event at a SHUTDOWN whose reason is "timeout" or
//     "failure", which takes the reason (an earlier one never does, even
//     when the last one is recorded already);
//   - the billed duration, the memory size and the memory used are never
//     known: they are marked in unknown_figures (the collector estimates
//     the billed duration from a known duration and fills the memory size
//     from the function's identity), and the record is marked incomplete.
//
// In classic mode a record is built when the next INVOKE event comes or
// at SHUTDOWN (FinishIncomplete), not at the answer: the platform's
// report, should the Telemetry API deliver after all (a subscription that
// failed on the extension's side only, a stream that starts late), has
// until then to come, and it wins. On Managed Instances
// (SetManagedInstances) no INVOKE event comes, and an environment lives
// for hours: a record is built as soon as its answer is seen (ObserveEnd;
// or when ReleaseReport ends the wait DeferReport began), with the same
// bounds and counters; an invocation left without an answer gets its
// record at SHUTDOWN. The first platform event ends the own records for
// good: the invocations not yet recorded wait for their reports (and get
// a record of their own at SHUTDOWN only if none came). A report for an
// invocation whose record was built from the own view already is left
// out and counted (Stats.ReportsAfterOwn), so that no request has two
// records.

// maxOwnErrorType bounds the error type taken from the answer, in bytes.
const maxOwnErrorType = 256

// answer is what the Runtime API proxy saw of an invocation's end.
type answer struct {
	// at is when the proxy saw the answer.
	at        time.Time
	failed    bool
	errorType string
}

// SetOwnRecords makes the tracker build invocation records from the
// extension's own view (see above): the Telemetry API does not deliver.
// Call it before the first event.
func (t *Tracker) SetOwnRecords() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.own = true
}

// SetShutdownReason gives the reason of the SHUTDOWN event: at a
// "timeout" or "failure", the invocation of the last INVOKE event, when
// it is left without an answer and a record, takes it as its status
// (FinishIncomplete); no other does.
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
//
// On Managed Instances the record is built and handed to the sink now
// (see above), unless it waits for ReleaseReport.
func (t *Tracker) ObserveEnd(requestID string, received, at time.Time, failed bool, errorType string) {
	if requestID == "" {
		return
	}
	t.mu.Lock()
	if t.reportedLocked(requestID) {
		t.mu.Unlock()
		return
	}
	st := t.stateLocked(requestID)
	if st.handedAt.IsZero() {
		st.handedAt = received
	}
	st.end = &answer{at: at, failed: failed, errorType: CutText(errorType, maxOwnErrorType)}
	inv := t.atAnswerLocked(st)
	t.mu.Unlock()
	if inv != nil {
		t.addInvocations([]*ingestv1.Invocation{inv})
	}
}

// atAnswerLocked builds the record of st from the own view when it is
// built at the answer (Managed Instances, see above) and its answer was
// seen, unless it waits for ReleaseReport; else it returns nil.
func (t *Tracker) atAnswerLocked(st *state) *ingestv1.Invocation {
	if !t.own || !t.namedOnly || st.end == nil {
		return nil
	}
	if _, waits := t.deferred[st.requestID]; waits {
		return nil
	}
	inv := t.ownLocked(st, "")
	t.notifyLocked()
	return inv
}

// reportedLocked says whether the record of id was built, or its report
// came and waits (DeferReport): what comes of the invocation after that
// makes no second record.
func (t *Tracker) reportedLocked(id string) bool {
	return t.built.Has(id) || t.deferred[id] != nil
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
	return t.ownBuilt.Has(id)
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
// INVOKE event, its platform.start, its event handed to the runtime, or
// its answer.
func (st *state) hasOwnView() bool {
	return !st.invokedAt.IsZero() || !st.start.IsZero() || !st.handedAt.IsZero() || st.end != nil
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
	if h := st.handedAt; st.start.IsZero() && !h.IsZero() && (start.IsZero() || h.Before(start)) {
		start = h
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
	t.ownBuilt.Add(id)
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
// invocation of the last INVOKE event when it is among pending with
// neither an answer nor a platform.runtimeDone: "timeout" or "failure",
// else none. No other invocation takes it: when the last one was
// recorded already (its report came), the SHUTDOWN interrupted none,
// and an earlier one still without a record did not run into it.
func (t *Tracker) shutdownStatus(pending []*state) (*state, string) {
	if (t.shutdownReason != "timeout" && t.shutdownReason != "failure") || t.lastInvoke == "" {
		return nil, ""
	}
	for _, st := range pending {
		if st.requestID == t.lastInvoke && st.runtimeDone == nil && st.end == nil {
			return st, t.shutdownReason
		}
	}
	return nil, ""
}
