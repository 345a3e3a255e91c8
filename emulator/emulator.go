package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// InvokeResult is what an invocation returned.
type InvokeResult struct {
	RequestID string
	// Payload is the function's response, or the error document when
	// FunctionError is set.
	Payload []byte
	// FunctionError is "" or "Unhandled".
	FunctionError string
	// ColdStart is true when the invocation created its environment.
	ColdStart bool
	// Duration runs from the start of the invocation to the runtime's
	// response.
	Duration time.Duration
}

// NotifyStats counts what a topic or a rule did: messages or events
// Received, and the invocations of its subscribers or targets Delivered
// (the function answered, error or not, as an asynchronous invocation
// is done) or Failed (not invoked: the emulator was shutting down).
type NotifyStats struct {
	Received, Delivered, Failed int
}

// Emulator runs functions in execution environments and serves the Lambda
// Invoke API.
type Emulator struct {
	cfg Config
	log *slog.Logger
	// runtimeDir holds the managed runtimes' files (Lambda's /var/runtime
	// of each), written at Start and removed at Shutdown.
	runtimeDir string
	functions  map[string]*function
	queues     map[string]*queue
	topics     map[string]*topic
	rules      []*rule
	// running counts invocations from Invoke to their answer; flushQueues
	// ends the queues' batching windows, stopPolls their event source
	// mappings.
	running     atomic.Int64
	flushQueues chan struct{}
	stopPolls   chan struct{}

	outMu sync.Mutex

	mu      sync.Mutex
	started bool
	closed  bool
	srv     *http.Server
	url     string

	busy sync.WaitGroup // invocations, from acquire to the end of INVOKE
	wg   sync.WaitGroup // the Invoke API server and asynchronous invocations

	shutdownOnce sync.Once
	shutdownErr  error

	reportsMu sync.Mutex
	reports   map[string]Report
}

// Report is what the emulator reported in one invocation's platform.report.
type Report struct {
	RequestID, Function, Status, ErrorType string
	DurationMs                             float64
	BilledDurationMs                       uint64
	InitDurationMs                         float64
	MemorySizeMB, MaxMemoryUsedMB          int
	ColdStart                              bool
}

func (e *Emulator) recordReport(r Report) {
	e.reportsMu.Lock()
	defer e.reportsMu.Unlock()
	if e.reports == nil {
		e.reports = map[string]Report{}
	}
	e.reports[r.RequestID] = r
}

// Reports returns every platform.report emitted so far, by request ID, so
// tests can compare what reached storage with what the platform said.
func (e *Emulator) Reports() map[string]Report {
	e.reportsMu.Lock()
	defer e.reportsMu.Unlock()
	return maps.Clone(e.reports)
}

// function is one configured function and its pool of environments.
type function struct {
	em  *Emulator
	cfg FunctionConfig
	arn string

	mu          sync.Mutex
	timeout     time.Duration // the configured timeout, or what SetTimeout set
	killRuntime int           // invocations whose runtime is to be killed
	dropDone    int           // invocations whose platform.runtimeDone is not sent
	idle        []*environment
	all         map[*environment]struct{}
	finishing   int           // environments past the response, not yet idle
	released    chan struct{} // closed and replaced when finishing, resetting or running drops
	running     int           // invocations from Invoke to their end, a reset's SHUTDOWN included
	peak        int           // the most environments f has had at once

	// The /tmp of reset environments, kept for the next environments
	// (resettmp.go): resetting counts resets whose SHUTDOWN is not over,
	// keptTmp their directories once it is, oldest first; tmpClosed is
	// set when the emulator stops.
	resetting int
	keptTmp   []string
	tmpClosed bool
	tmpStats  TmpStats
}

// handoffWait is how long an invocation waits for an environment that has
// answered its previous invocation and is finishing (extensions at work)
// before it creates a new one. Lambda's own front end hides this gap; the
// emulator waits so that back-to-back invocations are warm as they would
// be on AWS.
const handoffWait = 100 * time.Millisecond

// shutdownParallelism is how many environments Shutdown spins down at
// once.
const shutdownParallelism = 2

// New validates cfg and returns an emulator ready to Start.
func New(cfg Config) (*Emulator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("emulator config: %w", err)
	}
	e := &Emulator{cfg: cfg, log: cfg.Logger, functions: map[string]*function{}, queues: map[string]*queue{},
		flushQueues: make(chan struct{}), stopPolls: make(chan struct{})}
	e.topics = map[string]*topic{}
	for _, tc := range cfg.Topics {
		t := &topic{cfg: tc, arn: e.TopicARN(tc.Name)}
		for range tc.Subscribers {
			t.subs = append(t.subs, newUUID())
		}
		e.topics[tc.Name] = t
	}
	for _, rc := range cfg.Rules {
		e.rules = append(e.rules, &rule{cfg: rc})
	}
	for _, qc := range cfg.Queues {
		e.queues[qc.Name] = &queue{cfg: qc, more: make(chan struct{}, 1),
			arn: fmt.Sprintf("arn:aws:sqs:%s:%s:%s", cfg.Region, cfg.AccountID, qc.Name)}
	}
	for _, fc := range cfg.Functions {
		e.functions[fc.Name] = &function{
			em:       e,
			cfg:      fc,
			timeout:  fc.Timeout,
			arn:      fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", cfg.Region, cfg.AccountID, fc.Name),
			all:      map[*environment]struct{}{},
			released: make(chan struct{}),
		}
	}
	return e, nil
}

// Start serves the Invoke API. Environments are created by invocations.
func (e *Emulator) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("start emulator: already started")
	}
	if e.closed {
		return fmt.Errorf("start emulator: %w", ErrShutdown)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", e.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen for Invoke API: %w", err)
	}
	if e.runtimeDir, err = writeRuntimes(e.cfg.Functions); err != nil {
		_ = ln.Close()
		return fmt.Errorf("start emulator: %w", err)
	}
	e.url = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", e.handleInvoke)
	mux.HandleFunc("POST /{$}", e.handleService)
	mux.HandleFunc("POST /{account}/{queue}", e.handleSQS)
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	e.wg.Go(func() {
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("Invoke API server stopped", "err", err)
		}
	})
	for _, q := range e.queues {
		if q.cfg.Consumer != "" {
			e.wg.Go(func() { e.poll(q, e.flushQueues, e.stopPolls) })
		}
	}
	e.started = true
	e.log.Info("emulator started", "invoke_url", e.url, "functions", len(e.functions))
	return nil
}

// InvokeURL is the base URL of the Invoke API, e.g. http://127.0.0.1:PORT;
// empty before Start.
func (e *Emulator) InvokeURL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.url
}

// Invoke runs one synchronous invocation of function. It returns as soon as
// the runtime has answered; the invocation itself (extensions finishing,
// platform.report) goes on in the background. A function error or timeout
// is a result with FunctionError set, not an error.
func (e *Emulator) Invoke(ctx context.Context, function string, payload []byte) (*InvokeResult, error) {
	return e.invoke(ctx, function, payload, nil)
}

// invoke is Invoke; the invocation continues the caller's X-Ray trace
// when trace is set, as Lambda does for a service that passes one (SNS,
// EventBridge), else it starts one.
func (e *Emulator) invoke(ctx context.Context, function string, payload []byte, trace *xrayTrace) (*InvokeResult, error) {
	fn, ok := e.functions[function]
	if !ok {
		return nil, fmt.Errorf("invoke %s: %w", function, ErrFunctionNotFound)
	}
	if len(payload) > maxPayloadBytes {
		return nil, fmt.Errorf("invoke %s: payload of %d bytes exceeds %d", function, len(payload), maxPayloadBytes)
	}
	e.mu.Lock()
	switch {
	case !e.started:
		e.mu.Unlock()
		return nil, fmt.Errorf("invoke %s: %w", function, ErrNotStarted)
	case e.closed:
		e.mu.Unlock()
		return nil, fmt.Errorf("invoke %s: %w", function, ErrShutdown)
	}
	e.busy.Add(1)
	e.running.Add(1)
	e.mu.Unlock()
	fn.mu.Lock()
	fn.running++
	fn.mu.Unlock()
	out := make(chan invokeOutcome, 1)
	go func() {
		defer e.busy.Done()
		fn.invoke(payload, trace, out)
		fn.mu.Lock()
		fn.running--
		close(fn.released)
		fn.released = make(chan struct{})
		fn.mu.Unlock()
	}()
	defer e.running.Add(-1)
	select {
	case o := <-out:
		if o.err != nil {
			return nil, fmt.Errorf("invoke %s: %w", function, o.err)
		}
		return o.res, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s: %w", function, ctx.Err())
	}
}

func (f *function) invoke(payload []byte, trace *xrayTrace, out chan<- invokeOutcome) {
	acquire := f.acquire
	if f.cfg.ManagedInstances {
		acquire = f.acquireShared
	}
	env, cold, err := acquire()
	if err != nil {
		var ie *initError
		if errors.As(err, &ie) {
			out <- invokeOutcome{res: &InvokeResult{
				RequestID:     newUUID(),
				FunctionError: "Unhandled",
				ColdStart:     true,
				Payload:       errorPayload(ie.errorType, ie.Error()),
			}}
			return
		}
		out <- invokeOutcome{err: err}
		return
	}
	now := time.Now()
	f.mu.Lock()
	timeout := f.timeout
	kill := f.killRuntime > 0
	if kill {
		f.killRuntime--
	}
	dropDone := f.dropDone > 0
	if dropDone {
		f.dropDone--
	}
	f.mu.Unlock()
	if trace == nil {
		t := newXRayTrace(now)
		trace = &t
	}
	inv := &invocation{
		id:          newUUID(),
		payload:     payload,
		trace:       *trace,
		spanID:      randomHex(8),
		start:       now,
		timeout:     timeout,
		deadline:    now.Add(timeout),
		killRuntime: kill,
		dropDone:    dropDone,
	}
	counted := false
	reset := env.run(inv, cold, func() {
		f.mu.Lock()
		f.finishing++
		counted = true
		f.mu.Unlock()
	}, out)
	defer func() {
		f.mu.Lock()
		if counted {
			f.finishing--
		}
		if f.cfg.ManagedInstances {
			env.slots--
		}
		close(f.released)
		f.released = make(chan struct{})
		f.mu.Unlock()
	}()
	env.mu.Lock()
	closing := env.shuttingDown
	env.mu.Unlock()
	if reset != "" || closing {
		f.remove(env)
		if reset == "" {
			if err := env.shutdown(context.Background(), reasonSpindown); err != nil {
				f.em.log.Warn("environment shut down", "function", f.cfg.Name, "err", err)
			}
			return
		}
		f.beginReset(env)
		if err := env.reset(context.Background(), reset); err != nil {
			f.em.log.Warn("environment reset", "function", f.cfg.Name, "reason", reset, "err", err)
		}
		return
	}
	if f.cfg.ManagedInstances {
		// The environment stays in f.all, where acquireShared finds it.
		return
	}
	if f.freezes() {
		env.freeze()
	}
	f.mu.Lock()
	f.idle = append(f.idle, env)
	f.mu.Unlock()
}

// freezes reports whether idle environments of f are frozen.
func (f *function) freezes() bool {
	return !f.em.cfg.DisableFreeze && !f.cfg.ManagedInstances
}

// SetTimeout changes the timeout of function for invocations that start
// from now on, as UpdateFunctionConfiguration would; running environments
// are kept. It fails for an unknown function or a timeout Lambda would
// refuse.
func (e *Emulator) SetTimeout(function string, timeout time.Duration) error {
	fn, ok := e.functions[function]
	if !ok {
		return fmt.Errorf("set timeout of %s: %w", function, ErrFunctionNotFound)
	}
	if timeout <= 0 || timeout > maxTimeout {
		return fmt.Errorf("set timeout of %s: timeout must be positive and at most %s", function, maxTimeout)
	}
	fn.mu.Lock()
	fn.timeout = timeout
	fn.mu.Unlock()
	return nil
}

// KillRuntimeDuringNextInvoke makes the runtime of the next invocation of
// function die by SIGKILL right after it has received the event, as a
// crash or an out-of-memory kill would. Each call arms one invocation.
func (e *Emulator) KillRuntimeDuringNextInvoke(function string) error {
	fn, ok := e.functions[function]
	if !ok {
		return fmt.Errorf("arm runtime kill of %s: %w", function, ErrFunctionNotFound)
	}
	fn.mu.Lock()
	fn.killRuntime++
	fn.mu.Unlock()
	return nil
}

// DropRuntimeDoneOfNextInvoke makes the next invocation of function send
// no platform.runtimeDone to telemetry subscribers, as a late or lost
// event looks to an extension; the invocation runs as usual otherwise.
// Each call arms one invocation.
func (e *Emulator) DropRuntimeDoneOfNextInvoke(function string) error {
	fn, ok := e.functions[function]
	if !ok {
		return fmt.Errorf("arm runtimeDone drop of %s: %w", function, ErrFunctionNotFound)
	}
	fn.mu.Lock()
	fn.dropDone++
	fn.mu.Unlock()
	return nil
}

// acquire takes an idle environment or creates one (a cold start). With
// none idle it waits a moment for one that is finishing its invocation,
// and for one that is being reset until its SHUTDOWN is over (at most
// the shutdown deadline and a second), so that the new environment
// starts in the reset one's /tmp, as Lambda initializes a reset
// environment again for the next invocation.
func (f *function) acquire() (*environment, bool, error) {
	handoff := time.NewTimer(handoffWait)
	defer handoff.Stop()
	resetWait := time.NewTimer(f.em.cfg.ShutdownDeadline + resetWaitGrace)
	defer resetWait.Stop()
wait:
	for {
		f.mu.Lock()
		if n := len(f.idle); n > 0 {
			env := f.idle[n-1]
			f.idle = f.idle[:n-1]
			f.mu.Unlock()
			return env, false, nil
		}
		finishing, resetting, released := f.finishing, f.resetting, f.released
		f.mu.Unlock()
		var timer <-chan time.Time
		switch {
		case resetting > 0:
			timer = resetWait.C
		case finishing > 0:
			timer = handoff.C
		default:
			break wait
		}
		select {
		case <-released:
		case <-timer:
			break wait
		}
	}

	em := f.em
	em.mu.Lock()
	if em.closed {
		em.mu.Unlock()
		return nil, false, ErrShutdown
	}
	env, err := newEnvironment(f)
	if err != nil {
		em.mu.Unlock()
		return nil, false, err
	}
	f.add(env)
	em.mu.Unlock()
	return f.initEnvironment(env)
}

// initEnvironment runs the INIT phase of a new environment and discards
// the environment when it fails.
func (f *function) initEnvironment(env *environment) (*environment, bool, error) {
	em := f.em
	env.initErr = env.init()
	close(env.initialized)
	if err := env.initErr; err != nil {
		f.remove(env)
		if serr := env.shutdown(context.Background(), reasonFailure); serr != nil {
			em.log.Warn("shut down environment after failed init", "function", f.cfg.Name, "err", serr)
		}
		return nil, true, err
	}
	return env, true, nil
}

// acquireShared takes a slot in an environment that runs fewer than
// MaxConcurrency invocations, waiting for its INIT if it is still starting,
// or creates an environment (a cold start), as Lambda Managed Instances
// route requests to environments with spare concurrency.
func (f *function) acquireShared() (*environment, bool, error) {
	em := f.em
	em.mu.Lock()
	if em.closed {
		em.mu.Unlock()
		return nil, false, ErrShutdown
	}
	f.mu.Lock()
	for env := range f.all {
		if env.slots >= f.cfg.MaxConcurrency {
			continue
		}
		env.slots++
		f.mu.Unlock()
		em.mu.Unlock()
		<-env.initialized
		if env.initErr != nil {
			f.mu.Lock()
			env.slots--
			f.mu.Unlock()
			return nil, false, env.initErr
		}
		return env, false, nil
	}
	f.mu.Unlock()
	env, err := newEnvironment(f)
	if err != nil {
		em.mu.Unlock()
		return nil, false, err
	}
	env.slots = 1
	f.add(env)
	em.mu.Unlock()
	return f.initEnvironment(env)
}

// add counts env among f's environments.
func (f *function) add(env *environment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all[env] = struct{}{}
	f.peak = max(f.peak, len(f.all))
}

func (f *function) remove(env *environment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.all, env)
	for i, x := range f.idle {
		if x == env {
			f.idle = append(f.idle[:i], f.idle[i+1:]...)
			break
		}
	}
}

func (e *Emulator) writeOutput(prefix, line string) {
	if e.cfg.Output == nil {
		return
	}
	e.outMu.Lock()
	defer e.outMu.Unlock()
	_, _ = fmt.Fprintf(e.cfg.Output, "[%s] %s\n", prefix, line)
}

// Shutdown waits for running invocations (until ctx ends), then shuts down
// every environment, two at a time: pending telemetry flushed, SIGTERM to
// the runtime, SHUTDOWN to the extensions, SIGKILL at the 2000 ms
// deadline. The environments' /tmp directories are removed, and those
// that reset environments left for a next environment. It returns the
// joined errors of processes that misbehaved. It is safe to call more than
// once and before Start.
func (e *Emulator) Shutdown(ctx context.Context) error {
	e.shutdownOnce.Do(func() { e.shutdownErr = e.doShutdown(ctx) })
	return e.shutdownErr
}

func (e *Emulator) doShutdown(ctx context.Context) error {
	e.mu.Lock()
	started := e.started
	e.mu.Unlock()
	if started {
		// What was sent to a queue reaches its consumer first.
		e.drainQueues(ctx)
	}
	e.mu.Lock()
	e.closed = true
	srv := e.srv
	e.mu.Unlock()
	close(e.stopPolls)

	idle := make(chan struct{})
	go func() {
		e.busy.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
	}

	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, shutdownParallelism)
	)
	for _, fn := range e.functions {
		fn.mu.Lock()
		envs := make([]*environment, 0, len(fn.all))
		for env := range fn.all {
			envs = append(envs, env)
		}
		fn.mu.Unlock()
		for _, env := range envs {
			wg.Go(func() {
				// Lambda spins idle environments down one by one over
				// time, not all in the same instant; a few at a time keeps
				// each extension's 2,000 ms from being spent waiting for
				// the host.
				sem <- struct{}{}
				defer func() { <-sem }()
				err := env.shutdown(ctx, reasonSpindown)
				fn.remove(env)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("function %s: %w", fn.cfg.Name, err))
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	<-idle
	// The /tmp of reset environments no new environment took goes too.
	for _, fn := range e.functions {
		if err := fn.closeTmp(); err != nil {
			errs = append(errs, fmt.Errorf("function %s: %w", fn.cfg.Name, err))
		}
	}

	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	}
	e.wg.Wait()
	if e.runtimeDir != "" {
		if err := os.RemoveAll(e.runtimeDir); err != nil {
			errs = append(errs, fmt.Errorf("remove runtime directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// handleInvoke serves POST /2015-03-31/functions/{name}/invocations.
func (e *Emulator) handleInvoke(w http.ResponseWriter, r *http.Request) {
	name := functionName(r.PathValue("name"))
	fn, ok := e.functions[name]
	if !ok {
		arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", e.cfg.Region, e.cfg.AccountID, name)
		writeInvokeError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+arn)
		return
	}
	payload, tooLarge, err := readPayload(r)
	if err != nil {
		writeInvokeError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	if tooLarge {
		writeInvokeError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", maxPayloadBytes))
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	switch r.Header.Get("X-Amz-Invocation-Type") {
	case "", "RequestResponse":
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		if !e.invokeAsync(name, payload, nil, func(_ *InvokeResult, err error) {
			if err != nil {
				e.log.Warn("asynchronous invocation failed", "function", name, "err", err)
			}
		}) {
			writeInvokeError(w, http.StatusServiceUnavailable, "ServiceException", ErrShutdown.Error())
			return
		}
		w.Header().Set("x-amzn-RequestId", newUUID())
		w.WriteHeader(http.StatusAccepted)
		return
	default:
		writeInvokeError(w, http.StatusBadRequest, "InvalidParameterValueException", "unknown X-Amz-Invocation-Type")
		return
	}
	res, err := e.Invoke(r.Context(), name, payload)
	if err != nil {
		writeInvokeError(w, http.StatusServiceUnavailable, "ServiceException", err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("x-amzn-RequestId", res.RequestID)
	h.Set("X-Amz-Executed-Version", fn.cfg.Version)
	if res.FunctionError != "" {
		h.Set("X-Amz-Function-Error", res.FunctionError)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload)
}

// invokeAsync invokes function in the background, as Lambda's
// asynchronous invocation does, and hands the outcome to done; it
// reports false, invoking nothing, once Shutdown has begun.
func (e *Emulator) invokeAsync(function string, payload []byte, trace *xrayTrace, done func(*InvokeResult, error)) bool {
	e.mu.Lock()
	closed := e.closed
	if !closed {
		e.wg.Add(1)
	}
	e.mu.Unlock()
	if closed {
		return false
	}
	go func() {
		defer e.wg.Done()
		done(e.invoke(context.Background(), function, payload, trace))
	}()
	return true
}

// handleService serves the AWS services at the endpoint's root, told
// apart as the AWS SDKs address them: SQS and EventBridge by the target
// of their JSON protocols, SNS by its query protocol's form.
func (e *Emulator) handleService(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, "AWSEvents."):
		e.handleEventBridge(w, r)
	case target == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		e.handleSNS(w, r)
	default:
		e.handleSQS(w, r)
	}
}

// functionName accepts a name, a name with a qualifier, or an ARN.
func functionName(s string) string {
	if rest, ok := strings.CutPrefix(s, "arn:"); ok {
		parts := strings.Split(rest, ":")
		// aws:lambda:region:account:function:name[:qualifier]
		if len(parts) >= 6 {
			return parts[5]
		}
		return s
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

func writeInvokeError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("x-amzn-ErrorType", errType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
