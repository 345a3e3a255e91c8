package emulator

import "time"

// emit records a telemetry event and queues it for every subscriber that
// wants its category.
func (e *environment) emit(eventType string, record any) {
	raw := encodeEvent(time.Now(), eventType, record)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.emitLocked(categoryOf(eventType), raw)
}

func (e *environment) emitLocked(category string, raw []byte) {
	e.emitAtLocked(category, raw, time.Now())
}

func (e *environment) emitAtLocked(category string, raw []byte, at time.Time) {
	if !e.initDone {
		e.backlog = append(e.backlog, raw)
	}
	for _, s := range e.subs {
		if s.wants(category) {
			s.enqueueAt(raw, at)
		}
	}
}

// holdReport keeps a platform.report until the environment next wakes, as
// Lambda delivers an invocation's report in the next window or at
// SHUTDOWN.
func (e *environment) holdReport(record any) {
	now := time.Now()
	raw := encodeEvent(now, "platform.report", record)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pendingReports = append(e.pendingReports, heldEvent{raw: raw, at: now})
}

// heldEvent is a telemetry event held while the environment is frozen.
type heldEvent struct {
	raw []byte
	at  time.Time
}

// releaseReports queues the held reports for the subscribers. They have
// been in the platform's buffer since they were emitted, so a buffering
// timeout that ran out while the environment was frozen sends them at once.
func (e *environment) releaseReports() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, h := range e.pendingReports {
		e.emitAtLocked(categoryPlatform, h.raw, h.at)
	}
	e.pendingReports = nil
}
