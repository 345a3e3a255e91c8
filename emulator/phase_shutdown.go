package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// shutdown runs the SHUTDOWN phase once and releases everything the
// environment owns, its /tmp included.
func (e *environment) shutdown(ctx context.Context, reason string) error {
	e.shutdownOnce.Do(func() { e.shutdownErr = e.doShutdown(ctx, reason, false) })
	return e.shutdownErr
}

// reset is what Lambda does to an environment whose invocation timed out
// or whose runtime failed: the SHUTDOWN phase, with reason, as shutdown
// runs it, except that the environment's /tmp is kept, with what the
// runtime and the extensions wrote there up to the end of SHUTDOWN, for
// the next environment of the function (Lambda initializes the reset
// environment again for a later invocation without clearing /tmp).
func (e *environment) reset(ctx context.Context, reason string) error {
	e.shutdownOnce.Do(func() { e.shutdownErr = e.doShutdown(ctx, reason, true) })
	return e.shutdownErr
}

func (e *environment) doShutdown(ctx context.Context, reason string, keepTmp bool) error {
	e.thaw()
	e.releaseReports()
	e.mu.Lock()
	e.shuttingDown = true
	e.notifyLocked()
	subs := make([]*subscription, 0, len(e.subs))
	for _, s := range e.subs {
		subs = append(subs, s)
	}
	e.mu.Unlock()

	deadline := time.Now().Add(e.em.cfg.ShutdownDeadline)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	// Pending telemetry (the last platform.report above all) reaches the
	// subscribers before SHUTDOWN; from now on events go out at once.
	for _, s := range subs {
		s.setUrgent()
	}
	for _, s := range subs {
		s.flush(dctx)
	}

	// The runtime goes first; the extensions get SHUTDOWN and the rest of
	// the deadline.
	e.mu.Lock()
	runtime, extProcs := e.runtime, append([]*process(nil), e.extProcs...)
	e.mu.Unlock()
	e.stopRuntime(runtime, deadline)
	errs := e.shutdownExtensions(dctx, reason, deadline, extProcs)
	for _, p := range append(extProcs, runtime) {
		if p == nil {
			continue
		}
		p.kill()
		<-p.exited
		<-p.output
	}
	// The sandbox's /tmp goes with it, unless this is a reset.
	if err := e.release(subs, keepTmp); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopRuntime ends the runtime first: SIGTERM, then SIGKILL after its
// share of the deadline.
func (e *environment) stopRuntime(runtime *process, deadline time.Time) {
	if runtime == nil {
		return
	}
	runtime.signal(syscall.SIGTERM)
	t := time.NewTimer(min(runtimeSIGTERM, time.Until(deadline)))
	select {
	case <-runtime.exited:
	case <-t.C:
		e.log.Info("runtime did not exit after SIGTERM; killing it")
	}
	t.Stop()
	runtime.kill()
}

// shutdownExtensions sends SHUTDOWN to the extensions registered for it
// and waits, until the deadline, for their processes to exit; the others
// are killed at once.
func (e *environment) shutdownExtensions(dctx context.Context, reason string, deadline time.Time, extProcs []*process) []error {
	ev, _ := json.Marshal(map[string]any{
		"eventType":      "SHUTDOWN",
		"shutdownReason": reason,
		"deadlineMs":     deadline.UnixMilli(),
	})
	e.mu.Lock()
	waitFor := map[*process]string{}
	for _, x := range e.extensions {
		if !x.events["SHUTDOWN"] {
			continue
		}
		x.waiting = false
		select {
		case x.eventCh <- ev:
		default:
		}
		if x.proc != nil {
			waitFor[x.proc] = x.name
		}
	}
	e.mu.Unlock()

	var errs []error
	for _, p := range extProcs {
		name, registered := waitFor[p]
		if !registered {
			p.kill()
			continue
		}
		select {
		case <-p.exited:
			if p.err != nil {
				errs = append(errs, fmt.Errorf("extension %s exited at shutdown: %w", name, p.err))
			}
		case <-dctx.Done():
			p.kill()
			errs = append(errs, fmt.Errorf("extension %s did not exit within the %d ms shutdown deadline: killed", name, e.em.cfg.ShutdownDeadline.Milliseconds()))
		}
	}
	return errs
}

// release closes the Lambda APIs, stops the subscriptions and the
// environment's goroutines, and removes the sandbox's /tmp, or, after a
// reset (keepTmp), offers it to the function's next environment.
func (e *environment) release(subs []*subscription, keepTmp bool) error {
	close(e.closing)
	e.mu.Lock()
	e.apiClosed = true
	e.mu.Unlock()
	_ = e.srv.Close()
	e.handlers.Wait()
	for _, s := range subs {
		s.stop()
	}
	e.goroutines.Wait()
	e.transport.CloseIdleConnections()
	return e.fn.releaseTmp(e, keepTmp)
}
