package agent

import "time"

// answerWait bounds the wait for the proxy's observation of an answer
// (awaitAnswer): the observer runs behind the relay by a goroutine's
// turn, a few milliseconds at most on a loaded machine. At SHUTDOWN,
// whose deadline the flush needs, the wait is shorter: an invocation the
// environment shuts down in the middle of has no answer to wait for.
const (
	answerWait         = 250 * time.Millisecond
	answerWaitShutdown = 100 * time.Millisecond
)

// awaitAnswer waits, while the Telemetry API does not deliver, until what
// the Runtime API proxy saw of the answer to invocation id is with the
// tracker: the record built from the extension's own
// view (when the next INVOKE or SHUTDOWN comes) takes its end, status and
// error type from it, and one built without it could not be mended. It
// waits at most bound, and not at all when the runtime does not talk to
// the proxy.
func (a *Agent) awaitAnswer(id string, bound time.Duration) {
	if id == "" {
		return
	}
	a.awaitAnswers([]string{id}, bound)
}

// awaitAnswers is awaitAnswer for several invocations at once (on Managed
// Instances, at SHUTDOWN, those the runtime took and had not answered),
// the wait for all of them bounded by bound.
func (a *Agent) awaitAnswers(ids []string, bound time.Duration) {
	if a.telemetryOK || a.events == nil || a.proxy == nil || len(ids) == 0 || a.proxy.Stats().Calls == 0 {
		return
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	for i, id := range ids {
		select {
		case <-a.events.endedChan(id):
		case <-t.C:
			a.log.Debug("no answer seen for an invocation the runtime took; its record has no end",
				"request_id", id, "without_answer", len(ids)-i, "waited", bound)
			return
		}
	}
}
