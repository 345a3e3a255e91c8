package agent

import (
	"cmp"
	"strings"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// Inferred spans of invocations that never answered.
//
// The invocation's record names the inferred span as its parent, and the
// platform's spans (lambda.invoke, ...) hang under it, from the moment
// the runtime takes the event (Invoked): an invocation that never
// answers (it timed out, its runtime crashed, the environment shut down)
// still needs its inferred span, or the caller's trace has a hole where
// the invocation people debug should be. Its span is made once its end
// is known otherwise:
//
//   - the platform says it ended (platform.runtimeDone, else
//     platform.report) with the status "timeout" or "failure", which no
//     answer can follow; any other status is kept for when the span is
//     made, since the answer (an /error) may still be on its way;
//   - the next INVOKE event (classic mode, one invocation at a time)
//     comes, once the answer was waited for (bounded, answerWait) when
//     the platform said nothing of it;
//   - SHUTDOWN: every invocation still without an answer.
//
// The span has no response (no size, no HTTP status, nothing invented):
// lambdascope.unanswered.ended_by says what told its end ("platform",
// "next_invoke", "shutdown"); its status is ERROR with error.type the
// platform's status ("timeout", "failure", "error"), else the SHUTDOWN's
// reason ("timeout", "failure") for the invocation invoked last, else
// "unanswered", and the platform's error type as the status message. A
// platform that says "success" (an answer that did not pass the proxy)
// leaves the status unset. The end is the platform's (the event's time)
// when it said one, else the time the invocation was found unanswered,
// marked lambdascope.end_time.estimated; a batch's or a message's hop ends
// at the event's arrival, as always.
//
// The invocation's record is left as the tracker builds it (from the
// platform's report, or from the extension's own view with the
// SHUTDOWN's reason): nothing of this goes on it. An answer that comes
// after the span was made is counted (lateAnswers) and logged, and an
// answer whose event was never seen, still waiting at SHUTDOWN, is
// counted with the invocations forgotten (lost).

// setShutdownReason gives the SHUTDOWN's reason, before endAllUnanswered.
func (o *eventObserver) setShutdownReason(reason string) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.shutdownReason = strings.ToLower(strings.TrimSpace(reason))
}

// openLocked says whether p is an invocation the runtime took whose answer
// was not seen and whose inferred span was not made.
func openLocked(p *pendingInvocation) bool {
	return p != nil && p.invoked && p.end == nil && !p.emitted
}

// platformEnded reads what the platform says of the end of invocations
// whose answer was not seen (platform.runtimeDone, platform.report): a
// timeout or a failure makes the inferred span now; any other status is
// kept for when it is made.
func (o *eventObserver) platformEnded(evs []telemetry.Event) {
	if o == nil {
		return
	}
	var done []heldSpan
	for i := range evs {
		ev := &evs[i]
		if ev.Kind != telemetry.KindPlatform || (ev.Type != telemetry.TypeRuntimeDone && ev.Type != telemetry.TypeReport) ||
			ev.Platform == nil || ev.Platform.RequestID == "" {
			continue
		}
		id := ev.Platform.RequestID
		o.mu.Lock()
		if p := o.pending[id]; openLocked(p) {
			if p.platform == nil {
				status := strings.ToLower(strings.TrimSpace(ev.Platform.Status))
				if status == "" {
					status = "success"
				}
				p.platform = &platformEnd{status: status, errType: ev.Platform.ErrorType, at: ev.Time}
			}
			if s := p.platform.status; s == "timeout" || s == "failure" {
				done = append(done, o.unansweredLocked(id, p, endedByPlatform, time.Now(), ""))
			}
		}
		o.mu.Unlock()
	}
	o.sendUnanswered(done)
}

// endPrevious makes the inferred span of invocation id, the one the
// previous INVOKE event named, if it is still without an answer: in
// classic mode the next INVOKE says it is over. When the platform said
// nothing of its end, its answer is waited for first, at most bound.
func (o *eventObserver) endPrevious(id string, bound time.Duration) {
	if o == nil || id == "" {
		return
	}
	o.mu.Lock()
	p := o.pending[id]
	open, told := openLocked(p), p != nil && p.platform != nil
	o.mu.Unlock()
	if !open {
		return
	}
	if !told && bound > 0 {
		t := time.NewTimer(bound)
		select {
		case <-o.endedChan(id):
		case <-t.C:
		}
		t.Stop()
	}
	o.mu.Lock()
	var done []heldSpan
	if p := o.pending[id]; openLocked(p) {
		done = append(done, o.unansweredLocked(id, p, endedByNextInvoke, time.Now(), ""))
	}
	o.mu.Unlock()
	o.sendUnanswered(done)
}

// endAllUnanswered makes, at SHUTDOWN, the inferred spans of every
// invocation still without an answer, the last event the runtime took
// taking the SHUTDOWN's reason when it is "timeout" or "failure" (an
// earlier one did not run into it); the answers whose
// event was never seen are counted as lost and logged.
func (o *eventObserver) endAllUnanswered() {
	if o == nil {
		return
	}
	now := time.Now()
	o.mu.Lock()
	orphans := 0
	for id, p := range o.pending {
		if !p.invoked {
			// An answer whose event was never read.
			orphans++
			delete(o.pending, id)
		}
	}
	reason := ""
	if o.shutdownReason == "timeout" || o.shutdownReason == "failure" {
		reason = o.shutdownReason
	}
	var done []heldSpan
	for id, p := range o.pending {
		if !openLocked(p) {
			continue
		}
		r := ""
		if p.seq == o.invoked {
			// The last event the runtime took.
			r = reason
		}
		done = append(done, o.unansweredLocked(id, p, endedByShutdown, now, r))
	}
	o.mu.Unlock()
	if orphans > 0 {
		n := o.lost.Add(uint64(orphans))
		o.log.Warn("forgetting invocations whose answer never came; their inferred spans are not made",
			"count", orphans, "why", "the answer came, the event was never seen", "total", n)
	}
	o.sendUnanswered(done)
}

// unansweredLocked ends p, invocation id, without an answer: by says what
// told its end, reason (when set) is the SHUTDOWN's. The platform's word,
// when it came, wins. p is forgotten; the caller sends it
// (sendUnanswered).
func (o *eventObserver) unansweredLocked(id string, p *pendingInvocation, by string, now time.Time, reason string) heldSpan {
	out := &outcome{endedBy: by, at: now, atFound: true, errType: cmp.Or(reason, unansweredType)}
	if pe := p.platform; pe != nil {
		out.endedBy, out.errType = endedByPlatform, ""
		if !pe.at.IsZero() {
			out.at, out.atFound = pe.at, false
		}
		if pe.status != "success" {
			out.errType = invocation.CutText(pe.status, maxErrorType)
			out.errMsg = invocation.CutText(o.redact.String(pe.errType), maxErrorMessage)
		}
	}
	p.end, p.emitted = out, true
	delete(o.pending, id)
	o.unansweredIDs.Add(id)
	if p.trig.Kind != trigger.Direct {
		o.rememberLocked(id, p)
	}
	return heldSpan{id: id, p: p}
}

// sendUnanswered sends the inferred spans of invocations ended without an
// answer (unansweredLocked) and lets their records, when they waited
// (DeferReport), be built.
func (o *eventObserver) sendUnanswered(spans []heldSpan) {
	if len(spans) == 0 {
		return
	}
	buf, tracker, res := o.wait()
	sent := 0
	for _, h := range spans {
		if h.p.trig.Kind != trigger.Direct && buf != nil {
			o.send(buf, res, h.id, h.p)
			sent++
		}
		if h.p.deferred && tracker != nil {
			tracker.ReleaseReport(h.id)
		}
	}
	if sent == 0 {
		return
	}
	n := o.unansweredSpans.Add(uint64(sent))
	o.log.Info("inferred spans made for invocations that never answered", "count", sent,
		"ended_by", spans[0].p.end.endedBy, "error_type", spans[0].p.end.errType, "request_id", spans[0].id, "total", n)
}
