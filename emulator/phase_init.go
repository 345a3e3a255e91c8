package emulator

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// startWatched starts a process and records a failure when it exits while
// the environment is not shutting down.
func (e *environment) startWatched(path string, env []string, isRuntime bool) (*process, error) {
	name := filepath.Base(path)
	var p *process
	onLine := func(line string) {
		if isRuntime {
			e.emit("function", line)
			e.output(e.fn.cfg.Name, line)
			return
		}
		e.emit("extension", line)
		e.output(e.fn.cfg.Name+"/"+name, line)
	}
	p, err := startProcess(path, env, onLine)
	if err != nil {
		return nil, err
	}
	e.goroutines.Go(func() {
		<-p.exited
		kind, errType := "extension "+name, "Extension.Crash"
		if isRuntime {
			kind, errType = "runtime", "Runtime.ExitError"
		}
		reason := "exited"
		if p.err != nil {
			reason = "exited with error: " + p.err.Error()
		}
		e.fail(errType, fmt.Errorf("%s %s", kind, reason))
	})
	return p, nil
}

// init runs the INIT phase.
func (e *environment) init() error {
	start := time.Now()
	fc := e.fn.cfg
	e.emit("platform.initStart", map[string]any{
		"initializationType": e.initType(),
		"phase":              "init",
		"runtimeVersion":     e.runtimeVersion(),
		"runtimeVersionArn":  fmt.Sprintf(runtimeVersionArn, e.em.cfg.Region),
		"functionName":       fc.Name,
		"functionVersion":    fc.Version,
		"instanceId":         e.id,
		"instanceMaxMemory":  fc.MemoryMB * 1024 * 1024,
	})
	timer := time.NewTimer(e.em.cfg.InitTimeout)
	defer timer.Stop()
	err := e.initProcesses(timer.C)
	e.mu.Lock()
	e.initDone = true
	e.backlog = nil
	e.initDuration = time.Since(start)
	status, errType := "success", ""
	if err != nil {
		status, errType = "error", e.failureType
		if errors.Is(err, errTimedOut) {
			status, errType = "timeout", "Runtime.InitTimeout"
		} else if errType == "" {
			status, errType = "failure", "Runtime.Unknown"
		}
	}
	runtimeDoneMissing := err != nil && !e.runtimeReady
	e.runtimeReady = true
	d := e.initDuration
	e.mu.Unlock()
	if runtimeDoneMissing {
		e.emit("platform.initRuntimeDone", map[string]any{
			"initializationType": e.initType(), "phase": "init", "status": status, "errorType": errType,
		})
	}
	report := map[string]any{
		"initializationType": e.initType(),
		"phase":              "init",
		"status":             status,
		"metrics":            map[string]any{"durationMs": durationMs(d)},
	}
	if errType != "" {
		report["errorType"] = errType
	}
	e.emit("platform.initReport", report)
	if err != nil {
		return &initError{errorType: errType, err: err}
	}
	return nil
}

type initError struct {
	errorType string
	err       error
}

func (e *initError) Error() string { return "init: " + e.err.Error() }
func (e *initError) Unwrap() error { return e.err }

// testHookExtensionStarted, when set, runs right after an extension's
// process started (tests widen the window in which it registers).
var testHookExtensionStarted func()

func (e *environment) initProcesses(timer <-chan time.Time) error {
	extEnv := e.extensionEnv()
	for _, path := range e.fn.cfg.Extensions {
		// The process is in extProcs before its registration can be
		// handled: the Extensions API finds a registering extension's
		// process there, and SHUTDOWN waits only for processes it found.
		e.mu.Lock()
		p, err := e.startWatched(path, extEnv, false)
		if err == nil {
			if testHookExtensionStarted != nil {
				testHookExtensionStarted()
			}
			e.extProcs = append(e.extProcs, p)
		}
		e.mu.Unlock()
		if err != nil {
			e.fail("Extension.LaunchError", err)
			return err
		}
	}
	// Every extension registers before the runtime starts.
	if err := e.waitFor(timer, func() bool { return len(e.extensions) >= len(e.extProcs) }); err != nil {
		return err
	}
	p, err := e.startWatched(e.runtimePath(), e.runtimeEnv(), true)
	if err != nil {
		e.fail("Runtime.InvalidEntrypoint", err)
		return err
	}
	e.mu.Lock()
	e.runtime = p
	e.mu.Unlock()
	return e.waitFor(timer, e.idleLocked)
}
