package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// invokeOutcome is what Invoke hands back to its caller.
type invokeOutcome struct {
	res *InvokeResult
	err error
}

func durationMs(d time.Duration) float64 {
	return math.Round(float64(d.Microseconds())) / 1000
}

// run carries out one invocation. The result goes to out as soon as the
// runtime answers; run returns when the invocation has ended.
//
// On Managed Instances several runs share the environment: the runtime
// takes each invocation from next (concurrently, or one after another),
// extensions get no INVOKE, and an invocation ends when its response is
// posted, since the runtime's next calls belong to no single invocation.
func (e *environment) run(inv *invocation, cold bool, responded func(), out chan<- invokeOutcome) (reset string) {
	shared := e.fn.cfg.ManagedInstances
	e.wake()
	e.start(inv)
	e.handOut(inv, shared)

	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	res, end, err := e.awaitResponse(inv, cold, timer.C)
	if end.reset == "" {
		responded()
	} else {
		// Counted before the caller has its answer, so that its next
		// invocation waits for this environment's /tmp.
		e.fn.beginReset(e)
	}
	out <- invokeOutcome{res: res}

	runtimeEnd := e.awaitRuntimeDone(inv, &end, shared, timer.C)
	if !inv.dropDone {
		e.emit("platform.runtimeDone", e.runtimeDone(inv, end, err == nil, len(res.Payload), runtimeEnd))
	}
	if end.reset == "" && !shared {
		// The invocation lasts until the runtime and every extension are
		// back on next, within the function's timeout.
		if err := e.waitFor(timer.C, e.idleLocked); err != nil {
			e.cutShort(&end, err)
		}
	}
	duration := time.Since(inv.start)
	if shared && end.reset == "" {
		duration = runtimeEnd.Sub(inv.start)
	}
	// Reported to the microsecond; billed from the same figure, so that
	// billedDurationMs is always durationMs rounded up.
	e.report(inv, cold, end, duration.Truncate(time.Microsecond))
	return end.reset
}

// invokeEnd is how an invocation went: the status and error type its
// telemetry reports, and the reason to discard the environment when the
// invocation timed out or the environment failed.
type invokeEnd struct {
	status, errType, reset string
}

// cutShortLocked records that the invocation ended on err: its timeout,
// or the environment's failure. e.mu must be held.
func (e *environment) cutShortLocked(end *invokeEnd, err error) {
	if errors.Is(err, errTimedOut) {
		end.status, end.errType, end.reset = "timeout", "Sandbox.Timedout", reasonTimeout
		return
	}
	end.status, end.errType, end.reset = "error", e.failureTypeLocked(), reasonFailure
}

func (e *environment) cutShort(end *invokeEnd, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cutShortLocked(end, err)
}

// wake readies the environment for the invocation: it thaws, and the
// reports held while it was frozen are queued. What the subscriptions'
// buffering says is due goes out at once, beside the event: as in AWS's
// Telemetry API code (the Runtime Interface Emulator's telemetry
// subscriber sends each batch from a goroutine of its own), the event is
// handed out without waiting for a subscriber's answer.
func (e *environment) wake() {
	e.thaw()
	e.releaseReports()
}

// tracing is the tracing object of the invocation's platform events.
func (inv *invocation) tracing() map[string]any {
	return map[string]any{"spanId": inv.spanID, "type": "X-Amzn-Trace-Id", "value": inv.trace.header()}
}

// start records the invocation as in flight and announces it:
// platform.start and the START line.
func (e *environment) start(inv *invocation) {
	fc := e.fn.cfg
	e.mu.Lock()
	e.inflight[inv.id] = inv
	e.mu.Unlock()
	e.emit("platform.start", map[string]any{"requestId": inv.id, "version": fc.Version, "tracing": inv.tracing()})
	e.output(fc.Name, fmt.Sprintf("START RequestId: %s Version: %s", inv.id, fc.Version))
}

// handOut gives the INVOKE event to the extensions registered for it and
// the invocation to the runtime's next.
func (e *environment) handOut(inv *invocation, shared bool) {
	ev, _ := json.Marshal(map[string]any{
		"eventType":          "INVOKE",
		"deadlineMs":         inv.deadline.UnixMilli(),
		"requestId":          inv.id,
		"invokedFunctionArn": e.functionARN(),
		"tracing":            map[string]string{"type": "X-Amzn-Trace-Id", "value": inv.trace.header()},
	})
	e.mu.Lock()
	for _, x := range e.extensions {
		if x.events["INVOKE"] {
			x.waiting = false
			select {
			case x.eventCh <- ev:
			default:
				e.log.Warn("extension has an undelivered event", "extension", x.name)
			}
		}
	}
	if !shared {
		e.runtimeWaiting = false
	}
	e.mu.Unlock()
	select {
	case e.runtimeNext <- inv:
	default:
		e.log.Warn("runtime has an undelivered invocation")
	}
}

// awaitResponse waits, until the function's timeout, for the runtime's
// response and builds the caller's result from it; err says why there
// was none.
func (e *environment) awaitResponse(inv *invocation, cold bool, timer <-chan time.Time) (res *InvokeResult, end invokeEnd, err error) {
	err = e.waitFor(timer, func() bool { return inv.responded })
	res = &InvokeResult{RequestID: inv.id, ColdStart: cold}
	end.status = "success"
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		res.Payload = inv.response
		res.Duration = inv.respEnd.Sub(inv.start)
		if inv.isError {
			end.status, end.errType = "error", inv.errorType
			res.FunctionError = "Unhandled"
		}
		return res, end, nil
	}
	e.cutShortLocked(&end, err)
	res.FunctionError = "Unhandled"
	res.Duration = time.Since(inv.start)
	msg := fmt.Sprintf("RequestId: %s Error: %v", inv.id, err)
	if errors.Is(err, errTimedOut) {
		msg = fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, inv.timeout.Seconds())
	}
	res.Payload = errorPayload(end.errType, msg)
	return res, end, err
}

// awaitRuntimeDone returns when the runtime was done with the
// invocation: when it called next again, as what it did between its
// response and that call is the runtime overhead. On Managed Instances
// the response ends it.
func (e *environment) awaitRuntimeDone(inv *invocation, end *invokeEnd, shared bool, timer <-chan time.Time) time.Time {
	if end.reset != "" {
		return time.Now()
	}
	if shared {
		e.mu.Lock()
		defer e.mu.Unlock()
		return inv.respEnd
	}
	if err := e.waitFor(timer, func() bool { return e.runtimeWaiting }); err != nil {
		e.cutShort(end, err)
		return time.Now()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runtimeNextAt
}

// runtimeDone is the platform.runtimeDone record, with the response's
// phase spans when the runtime answered.
func (e *environment) runtimeDone(inv *invocation, end invokeEnd, answered bool, produced int, runtimeEnd time.Time) map[string]any {
	done := map[string]any{
		"requestId": inv.id,
		"status":    end.status,
		"metrics": map[string]any{
			"durationMs":    durationMs(runtimeEnd.Sub(inv.start)),
			"producedBytes": produced,
		},
		"tracing": inv.tracing(),
	}
	if answered {
		e.mu.Lock()
		respStart, respEnd := inv.respStart, inv.respEnd
		e.mu.Unlock()
		spans := []map[string]any{
			{"name": "responseLatency", "start": telemetryTime(inv.start), "durationMs": durationMs(respStart.Sub(inv.start))},
			{"name": "responseDuration", "start": telemetryTime(respStart), "durationMs": durationMs(respEnd.Sub(respStart))},
		}
		if runtimeEnd.After(respEnd) {
			spans = append(spans, map[string]any{"name": "runtimeOverhead", "start": telemetryTime(respEnd), "durationMs": durationMs(runtimeEnd.Sub(respEnd))})
		}
		done["spans"] = spans
	}
	if end.errType != "" {
		done["errorType"] = end.errType
	}
	return done
}

// report ends the invocation: platform.report (held while the
// environment is frozen), the emulator's own record, and the END and
// REPORT lines.
func (e *environment) report(inv *invocation, cold bool, end invokeEnd, duration time.Duration) {
	fc := e.fn.cfg
	e.mu.Lock()
	delete(e.inflight, inv.id)
	initDur := time.Duration(0)
	if cold {
		initDur = e.initDuration
	}
	e.mu.Unlock()
	var maxKB int64
	if e.runtime != nil {
		maxKB = e.runtime.maxRSSKB()
	}
	maxMB := (maxKB + 1023) / 1024
	billed := billedDurationMs(duration, initDur, fc.ManagedInstances)
	metrics := map[string]any{
		"durationMs":       durationMs(duration),
		"billedDurationMs": billed,
		"memorySizeMB":     fc.MemoryMB,
		"maxMemoryUsedMB":  maxMB,
	}
	if cold {
		metrics["initDurationMs"] = durationMs(initDur)
	}
	report := map[string]any{"requestId": inv.id, "status": end.status, "metrics": metrics, "tracing": inv.tracing()}
	if end.errType != "" {
		report["errorType"] = end.errType
	}
	if e.fn.freezes() && end.reset == "" {
		e.holdReport(report)
	} else {
		e.emit("platform.report", report)
	}
	e.em.recordReport(Report{
		RequestID: inv.id, Function: fc.Name, Status: end.status, ErrorType: end.errType,
		DurationMs: durationMs(duration), BilledDurationMs: uint64(billed), InitDurationMs: durationMs(initDur),
		MemorySizeMB: fc.MemoryMB, MaxMemoryUsedMB: int(maxMB), ColdStart: cold,
	})
	e.output(fc.Name, "END RequestId: "+inv.id)
	line := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB",
		inv.id, durationMs(duration), billed, fc.MemoryMB, maxMB)
	if cold {
		line += fmt.Sprintf("\tInit Duration: %.2f ms", durationMs(initDur))
	}
	if end.status != "success" {
		line += "\tStatus: " + end.status
	}
	if end.errType != "" {
		line += "\tError Type: " + end.errType
	}
	e.output(fc.Name, line)
}

// billedDurationMs is what Lambda bills for an invocation: its duration
// rounded up to the next millisecond, plus the INIT phase for on-demand
// functions (billed since August 2025). On Managed Instances invocations
// are not billed by duration; the figure is the rounded duration alone.
func billedDurationMs(d, init time.Duration, managed bool) int64 {
	if !managed {
		d += init
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func errorPayload(errorType, msg string) []byte {
	b, _ := json.Marshal(map[string]string{"errorType": errorType, "errorMessage": msg})
	return b
}
