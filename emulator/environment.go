package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/internal/freeport"
)

const (
	initTimeout      = 10 * time.Second
	shutdownDeadline = 2000 * time.Millisecond
	runtimeSIGTERM   = 300 * time.Millisecond
	maxPayloadBytes  = 6 * 1024 * 1024

	runtimeVersion    = "provided:al2023.v1"
	runtimeVersionArn = "arn:aws:lambda:%s::runtime:lambdascope-emulator"
	executionEnv      = "AWS_Lambda_provided.al2023"
)

// Shutdown reasons of the SHUTDOWN event.
const (
	reasonSpindown = "spindown"
	reasonTimeout  = "timeout"
	reasonFailure  = "failure"
)

var (
	errTimedOut = errors.New("timed out")
	errClosing  = errors.New("environment is shutting down")
)

// extension is one registration with the Extensions API.
type extension struct {
	id      string
	name    string
	events  map[string]bool
	waiting bool // blocked in (or about to call) event/next
	ready   bool // has called event/next at least once
	eventCh chan []byte
	proc    *process
}

// invocation is one request to the function. Fields below mu are written
// by the Runtime API handlers under environment.mu.
type invocation struct {
	id       string
	payload  []byte
	trace    xrayTrace
	spanID   string
	start    time.Time
	timeout  time.Duration
	deadline time.Time
	// killRuntime makes the runtime die by SIGKILL once it has the event.
	killRuntime bool
	// dropDone leaves platform.runtimeDone out of the telemetry.
	dropDone bool

	responded bool
	respStart time.Time
	respEnd   time.Time
	response  []byte
	errorType string
	isError   bool
}

// environment is one execution environment: an API server, a runtime
// process and extension processes.
type environment struct {
	em  *Emulator
	fn  *function
	id  string
	log *slog.Logger

	srv       *http.Server
	apiAddr   string
	otlpGRPC  string
	otlpHTTP  string
	tmpDir    string // stands in for the sandbox's own /tmp
	transport *http.Transport
	client    *http.Client
	logStream string

	closing     chan struct{}
	runtimeNext chan *invocation
	goroutines  sync.WaitGroup

	// postGate is held shared by telemetry posts and exclusively by freeze,
	// so no post is in flight when the processes stop.
	postGate sync.RWMutex

	mu             sync.Mutex
	changed        chan struct{}
	apiClosed      bool
	handlers       sync.WaitGroup
	runtime        *process
	runtimeReady   bool
	runtimeWaiting bool
	runtimeNextAt  time.Time // when the runtime last called next
	extProcs       []*process
	extensions     []*extension
	extByID        map[string]*extension
	subs           map[string]*subscription
	backlog        [][]byte
	pendingReports []heldEvent // platform.report events held while frozen
	initDone       bool
	initDuration   time.Duration
	failure        error
	failureType    string
	inflight       map[string]*invocation // by request ID
	shuttingDown   bool
	frozen         bool
	thawed         chan struct{}

	// slots counts the invocations assigned to the environment, running
	// or waiting for INIT; guarded by fn.mu. initialized is closed when
	// INIT has ended, with initErr its outcome.
	slots       int
	initialized chan struct{}
	initErr     error

	shutdownOnce sync.Once
	shutdownErr  error
}

func newEnvironment(fn *function) (*environment, error) {
	em := fn.em
	id := randomHex(16)
	e := &environment{
		em:          em,
		fn:          fn,
		id:          id,
		log:         em.log.With("function", fn.cfg.Name, "environment", id[:8]),
		closing:     make(chan struct{}),
		runtimeNext: make(chan *invocation, fn.cfg.MaxConcurrency),
		inflight:    map[string]*invocation{},
		initialized: make(chan struct{}),
		changed:     make(chan struct{}),
		extByID:     map[string]*extension{},
		subs:        map[string]*subscription{},
		thawed:      make(chan struct{}),
		logStream:   time.Now().UTC().Format("2006/01/02") + "/[" + fn.cfg.Version + "]" + id,
	}
	close(e.thawed)
	e.transport = &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	e.client = &http.Client{Transport: e.transport}
	ports, err := freeport.Ports(2)
	if err != nil {
		return nil, err
	}
	e.otlpGRPC = "127.0.0.1:" + strconv.Itoa(ports[0])
	e.otlpHTTP = "127.0.0.1:" + strconv.Itoa(ports[1])
	if e.tmpDir, err = os.MkdirTemp("", "lambda-sandbox-tmp-"); err != nil {
		return nil, fmt.Errorf("create the sandbox's /tmp: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = os.RemoveAll(e.tmpDir)
		return nil, fmt.Errorf("listen for Lambda APIs: %w", err)
	}
	e.apiAddr = ln.Addr().String()
	e.srv = &http.Server{Handler: e.routes(), ReadHeaderTimeout: 10 * time.Second}
	e.goroutines.Go(func() {
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("Lambda API server stopped", "err", err)
		}
	})
	return e, nil
}

// notifyLocked wakes everyone waiting for a state change; e.mu must be held.
func (e *environment) notifyLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// waitFor blocks until pred (called with e.mu held) is true, the timer
// fires, or the environment failed or is shutting down.
func (e *environment) waitFor(timer <-chan time.Time, pred func() bool) error {
	for {
		e.mu.Lock()
		if pred() {
			e.mu.Unlock()
			return nil
		}
		if e.failure != nil {
			err := e.failure
			e.mu.Unlock()
			return err
		}
		if e.shuttingDown {
			e.mu.Unlock()
			return errClosing
		}
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ch:
		case <-timer:
			return errTimedOut
		}
	}
}

// fail records the first reason the environment cannot go on.
func (e *environment) fail(errorType string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failure == nil && !e.shuttingDown {
		e.failure, e.failureType = err, errorType
		e.log.Warn("environment failed", "error_type", errorType, "err", err)
	}
	e.notifyLocked()
}

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

// deliverDue sends every subscriber what its buffering says is due, before
// the window's event is handed out; it gives up at deadline.
func (e *environment) deliverDue(deadline time.Time) {
	e.mu.Lock()
	subs := make([]*subscription, 0, len(e.subs))
	for _, s := range e.subs {
		subs = append(subs, s)
	}
	e.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for _, s := range subs {
		s.deliverDue(ctx)
	}
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

// output copies a line to Config.Output with a prefix.
func (e *environment) output(prefix, line string) {
	e.em.writeOutput(prefix, line)
}

func (e *environment) functionARN() string { return e.fn.arn }

// platformEnv holds the variables Lambda sets for the runtime and the
// extensions alike.
func (e *environment) platformEnv() map[string]string {
	cfg, fc := e.em.cfg, e.fn.cfg
	return map[string]string{
		"AWS_REGION":                      cfg.Region,
		"AWS_DEFAULT_REGION":              cfg.Region,
		"AWS_LAMBDA_FUNCTION_NAME":        fc.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     fc.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fc.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + fc.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      e.logStream,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  e.initType(),
		"AWS_LAMBDA_RUNTIME_API":          e.apiAddr,
		"TZ":                              ":UTC",
	}
}

// unreservedEnv holds defaults the function's own variables may override.
func (e *environment) unreservedEnv() map[string]string {
	return map[string]string{
		"LANG":                        "en_US.UTF-8",
		"PATH":                        "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH":             "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
		"AWS_ENDPOINT_URL_LAMBDA":     e.em.InvokeURL(),
		"AWS_ENDPOINT_URL_SQS":        e.em.InvokeURL(),
		"LAMBDASCOPE_OTLP_GRPC_ADDR":  e.otlpGRPC,
		"LAMBDASCOPE_OTLP_HTTP_ADDR":  e.otlpHTTP,
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + e.otlpHTTP,
		"TMPDIR":                      e.tmpDir,
		"LAMBDASCOPE_SPOOL_DIR":       filepath.Join(e.tmpDir, "lambdascope-spool"),
	}
}

// initType is the initialization type Lambda reports for the function.
func (e *environment) initType() string {
	if e.fn.cfg.ManagedInstances {
		return "lambda-managed-instances"
	}
	return "on-demand"
}

func (e *environment) handlerName() string {
	if e.fn.cfg.managed() {
		return e.fn.cfg.Handler
	}
	return filepath.Base(e.fn.cfg.Handler)
}

// runtimePath is the program started as the runtime: a custom runtime's
// bootstrap, or a managed runtime's.
func (e *environment) runtimePath() string {
	if e.fn.cfg.managed() {
		return filepath.Join(e.runtimeDir(), "bootstrap")
	}
	return e.fn.cfg.Handler
}

// runtimeDir stands in for /var/runtime.
func (e *environment) runtimeDir() string {
	if e.fn.cfg.managed() {
		return filepath.Join(e.em.runtimeDir, managedRuntimes[e.fn.cfg.Runtime])
	}
	return "/var/runtime"
}

// runtimeVersion is what platform.initStart names the runtime.
func (e *environment) runtimeVersion() string {
	if r := e.fn.cfg.Runtime; r != "" {
		return strings.ReplaceAll(strings.TrimSuffix(r, ".x"), "nodejs", "nodejs:") + ".v1"
	}
	return runtimeVersion
}

func (e *environment) runtimeEnv() []string {
	env := e.unreservedEnv()
	for k, v := range e.fn.cfg.Env {
		env[k] = v
	}
	for k, v := range e.platformEnv() {
		env[k] = v
	}
	env["_HANDLER"] = e.handlerName()
	env["AWS_EXECUTION_ENV"] = executionEnv
	env["LAMBDA_TASK_ROOT"] = filepath.Dir(e.fn.cfg.Handler)
	if fc := e.fn.cfg; fc.managed() {
		env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + fc.Runtime
		env["LAMBDA_TASK_ROOT"] = fc.CodeDir
	}
	env["LAMBDA_RUNTIME_DIR"] = e.runtimeDir()
	if e.fn.cfg.ManagedInstances {
		env["AWS_LAMBDA_MAX_CONCURRENCY"] = strconv.Itoa(e.fn.cfg.MaxConcurrency)
	}
	return envList(env)
}

func (e *environment) extensionEnv() []string {
	env := e.unreservedEnv()
	for k, v := range e.fn.cfg.Env {
		env[k] = v
	}
	for k, v := range e.platformEnv() {
		env[k] = v
	}
	for k := range env {
		if k == "" || k[0] == '_' {
			delete(env, k)
		}
	}
	return envList(env)
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

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
	timer := time.NewTimer(initTimeout)
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

// idleLocked reports whether the runtime and every extension wait on next.
func (e *environment) idleLocked() bool {
	if !e.runtimeWaiting {
		return false
	}
	for _, x := range e.extensions {
		if !x.waiting {
			return false
		}
	}
	return true
}

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
	fc := e.fn.cfg
	shared := fc.ManagedInstances
	e.thaw()
	e.releaseReports()
	if !shared {
		e.deliverDue(inv.deadline)
	}
	tracing := map[string]any{"spanId": inv.spanID, "type": "X-Amzn-Trace-Id", "value": inv.trace.header()}
	e.mu.Lock()
	e.inflight[inv.id] = inv
	e.mu.Unlock()
	e.emit("platform.start", map[string]any{"requestId": inv.id, "version": fc.Version, "tracing": tracing})
	e.output(fc.Name, fmt.Sprintf("START RequestId: %s Version: %s", inv.id, fc.Version))

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

	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	err := e.waitFor(timer.C, func() bool { return inv.responded })

	res := &InvokeResult{RequestID: inv.id, ColdStart: cold}
	status, errType := "success", ""
	e.mu.Lock()
	switch {
	case err == nil:
		res.Payload = inv.response
		res.Duration = inv.respEnd.Sub(inv.start)
		if inv.isError {
			status, errType = "error", inv.errorType
			res.FunctionError = "Unhandled"
		}
	case errors.Is(err, errTimedOut):
		status, errType, reset = "timeout", "Sandbox.Timedout", reasonTimeout
		res.FunctionError = "Unhandled"
		res.Duration = time.Since(inv.start)
		res.Payload = errorPayload(errType, fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, inv.timeout.Seconds()))
	default:
		status, errType, reset = "error", e.failureTypeLocked(), reasonFailure
		res.FunctionError = "Unhandled"
		res.Duration = time.Since(inv.start)
		res.Payload = errorPayload(errType, fmt.Sprintf("RequestId: %s Error: %v", inv.id, err))
	}
	respStart, respEnd := inv.respStart, inv.respEnd
	e.mu.Unlock()
	if reset == "" {
		responded()
	}
	out <- invokeOutcome{res: res}

	// The runtime is done when it calls next again; what it did between
	// its response and that call is the runtime overhead.
	runtimeEnd := time.Now()
	if shared && reset == "" {
		runtimeEnd = respEnd
	}
	if reset == "" && !shared {
		switch err := e.waitFor(timer.C, func() bool { return e.runtimeWaiting }); {
		case err == nil:
			e.mu.Lock()
			runtimeEnd = e.runtimeNextAt
			e.mu.Unlock()
		case errors.Is(err, errTimedOut):
			status, errType, reset = "timeout", "Sandbox.Timedout", reasonTimeout
			runtimeEnd = time.Now()
		default:
			e.mu.Lock()
			status, errType, reset = "error", e.failureTypeLocked(), reasonFailure
			e.mu.Unlock()
			runtimeEnd = time.Now()
		}
	}
	done := map[string]any{
		"requestId": inv.id,
		"status":    status,
		"metrics": map[string]any{
			"durationMs":    durationMs(runtimeEnd.Sub(inv.start)),
			"producedBytes": len(res.Payload),
		},
		"tracing": tracing,
	}
	if err == nil {
		spans := []map[string]any{
			{"name": "responseLatency", "start": telemetryTime(inv.start), "durationMs": durationMs(respStart.Sub(inv.start))},
			{"name": "responseDuration", "start": telemetryTime(respStart), "durationMs": durationMs(respEnd.Sub(respStart))},
		}
		if runtimeEnd.After(respEnd) {
			spans = append(spans, map[string]any{"name": "runtimeOverhead", "start": telemetryTime(respEnd), "durationMs": durationMs(runtimeEnd.Sub(respEnd))})
		}
		done["spans"] = spans
	}
	if errType != "" {
		done["errorType"] = errType
	}
	if !inv.dropDone {
		e.emit("platform.runtimeDone", done)
	}

	if reset == "" && !shared {
		// The invocation lasts until the runtime and every extension are
		// back on next, within the function's timeout.
		switch err := e.waitFor(timer.C, e.idleLocked); {
		case err == nil:
		case errors.Is(err, errTimedOut):
			status, errType, reset = "timeout", "Sandbox.Timedout", reasonTimeout
		default:
			e.mu.Lock()
			status, errType, reset = "error", e.failureTypeLocked(), reasonFailure
			e.mu.Unlock()
		}
	}
	end := time.Since(inv.start)
	if shared && reset == "" {
		end = runtimeEnd.Sub(inv.start)
	}
	// Reported to the microsecond; billed from the same figure, so that
	// billedDurationMs is always durationMs rounded up.
	end = end.Truncate(time.Microsecond)

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
	billed := billedDurationMs(end, initDur, fc.ManagedInstances)
	metrics := map[string]any{
		"durationMs":       durationMs(end),
		"billedDurationMs": billed,
		"memorySizeMB":     fc.MemoryMB,
		"maxMemoryUsedMB":  (maxKB + 1023) / 1024,
	}
	if cold {
		metrics["initDurationMs"] = durationMs(initDur)
	}
	report := map[string]any{"requestId": inv.id, "status": status, "metrics": metrics, "tracing": tracing}
	if errType != "" {
		report["errorType"] = errType
	}
	if e.fn.freezes() && reset == "" {
		e.holdReport(report)
	} else {
		e.emit("platform.report", report)
	}
	e.em.recordReport(Report{
		RequestID: inv.id, Function: fc.Name, Status: status, ErrorType: errType,
		DurationMs: durationMs(end), BilledDurationMs: uint64(billed), InitDurationMs: durationMs(initDur),
		MemorySizeMB: fc.MemoryMB, MaxMemoryUsedMB: int((maxKB + 1023) / 1024), ColdStart: cold,
	})
	e.output(fc.Name, "END RequestId: "+inv.id)
	line := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB",
		inv.id, durationMs(end), billed, fc.MemoryMB, (maxKB+1023)/1024)
	if cold {
		line += fmt.Sprintf("\tInit Duration: %.2f ms", durationMs(initDur))
	}
	if status != "success" {
		line += "\tStatus: " + status
	}
	if errType != "" {
		line += "\tError Type: " + errType
	}
	e.output(fc.Name, line)
	return reset
}

// failureTypeLocked is the error type of the environment's failure;
// e.mu must be held.
func (e *environment) failureTypeLocked() string {
	if e.failureType == "" {
		return "Runtime.Unknown"
	}
	return e.failureType
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

// freeze stops every process of an idle environment.
func (e *environment) freeze() {
	e.postGate.Lock()
	defer e.postGate.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.frozen || e.shuttingDown {
		return
	}
	e.frozen = true
	e.thawed = make(chan struct{})
	for _, p := range e.processesLocked() {
		p.signal(syscall.SIGSTOP)
	}
}

// thaw resumes a frozen environment.
func (e *environment) thaw() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.frozen {
		return
	}
	for _, p := range e.processesLocked() {
		p.signal(syscall.SIGCONT)
	}
	e.frozen = false
	close(e.thawed)
}

func (e *environment) processesLocked() []*process {
	ps := append([]*process(nil), e.extProcs...)
	if e.runtime != nil {
		ps = append(ps, e.runtime)
	}
	return ps
}

// awake waits until the environment is not frozen and returns holding the
// post gate; the caller must call the returned release.
func (e *environment) awake(ctx context.Context) (func(), error) {
	for {
		e.postGate.RLock()
		e.mu.Lock()
		frozen, ch := e.frozen, e.thawed
		e.mu.Unlock()
		if !frozen {
			return e.postGate.RUnlock, nil
		}
		e.postGate.RUnlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for thaw: %w", ctx.Err())
		}
	}
}

// shutdown runs the SHUTDOWN phase once and releases everything the
// environment owns.
func (e *environment) shutdown(ctx context.Context, reason string) error {
	e.shutdownOnce.Do(func() { e.shutdownErr = e.doShutdown(ctx, reason) })
	return e.shutdownErr
}

func (e *environment) doShutdown(ctx context.Context, reason string) error {
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

	deadline := time.Now().Add(shutdownDeadline)
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

	// The runtime goes first: SIGTERM, then SIGKILL after its share of
	// the deadline; the extensions get SHUTDOWN and the rest of it.
	e.mu.Lock()
	runtime, extProcs := e.runtime, append([]*process(nil), e.extProcs...)
	e.mu.Unlock()
	if runtime != nil {
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
			errs = append(errs, fmt.Errorf("extension %s did not exit within the %d ms shutdown deadline: killed", name, shutdownDeadline.Milliseconds()))
		}
	}
	for _, p := range append(extProcs, runtime) {
		if p == nil {
			continue
		}
		p.kill()
		<-p.exited
		<-p.output
	}

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
	// The sandbox's /tmp goes with it.
	if err := os.RemoveAll(e.tmpDir); err != nil {
		errs = append(errs, fmt.Errorf("remove the sandbox's /tmp: %w", err))
	}
	return errors.Join(errs...)
}
