// Package agent wires the extension's parts together and runs its life:
// register, subscribe to telemetry, serve OTLP, follow the INVOKE/SHUTDOWN
// event loop, and flush without ever delaying the function's response.
package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/extension"
	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/otlpreceiver"
	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
	"github.com/lambdascope/lambdascope/extension/internal/redact"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/sampling"
	"github.com/lambdascope/lambdascope/extension/internal/selfmetrics"
	"github.com/lambdascope/lambdascope/extension/internal/shipper"
	"github.com/lambdascope/lambdascope/extension/internal/spool"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// ExtensionName is the name the extension registers under; it must match
// the file name in /opt/extensions.
const ExtensionName = "lambdascope"

// SandboxHost is the name the Telemetry API reaches extensions at.
const SandboxHost = "sandbox.localdomain"

// Options configure an Agent.
type Options struct {
	Config config.Config
	// RuntimeAPI is AWS_LAMBDA_RUNTIME_API (host:port).
	RuntimeAPI string
	// Env looks up the Lambda environment (os.LookupEnv in main).
	Env func(string) (string, bool)
	// Version is the extension's version, sent in the function identity.
	Version string
	Log     *slog.Logger
	// ListenHost is the host the telemetry listener binds to; empty means
	// sandbox.localdomain when it resolves, otherwise 127.0.0.1.
	ListenHost string
	// FlushBudget bounds a flush at the end of an invocation.
	FlushBudget time.Duration
	// ShutdownMargin is kept free before the SHUTDOWN deadline.
	ShutdownMargin time.Duration
	// RuntimeDoneMargin is added to the subscription's buffering window
	// (timeoutMs) to bound the wait for an invocation's
	// platform.runtimeDone: once the telemetry stream has been quiet that
	// long, the extension stops waiting and calls /event/next.
	RuntimeDoneMargin time.Duration
	// StartedAt is when the process started; the time to the first
	// /event/next is logged at debug level.
	StartedAt time.Time
	// ConfigError is what config.FromEnv reported. With Config.Strict it
	// is sent to the Extensions API's init-error endpoint and Run returns
	// it; otherwise the extension runs degraded (main has logged it).
	ConfigError error
	// SelfMetricsInterval is how often the extension's own counters are
	// added to the outgoing data (and once more at shutdown).
	SelfMetricsInterval time.Duration
	// Inherited is what the launcher did before it became this process
	// (nil when the agent was started directly): Run then neither binds,
	// registers nor subscribes, and reads its first event from the
	// launcher's pending /event/next.
	Inherited *Inherited

	// beforeTelemetry, when set (by tests), is called with each push
	// before it is handled: a stand-in for a starved machine.
	beforeTelemetry func([]telemetry.Event)
}

// Inherited is the launcher's work handed to the agent (package handoff):
// the registration, the bound listeners and the first /event/next, sent.
type Inherited struct {
	State handoff.State
	// Next is the connection the first event arrives on.
	Next net.Conn
	// Telemetry, OTLPHTTP and OTLPGRPC are the bound listeners; nil when
	// the launcher could not bind one.
	Telemetry, OTLPHTTP, OTLPGRPC net.Listener
	// Proxy is the Runtime API proxy's listener, already announced to the
	// exec wrapper; nil when the launcher did not bind it.
	Proxy net.Listener
	// Watch is the pipe to the launcher that started the agent as its
	// child and takes over when it ends without saying it stops (see
	// Stopping); nil when the launcher became the agent.
	Watch *os.File
	// Early is the pipe on which the launcher passes the OTLP exports it
	// answered while the agent started (handoff.EarlyExport; a gRPC one
	// as the OTLP/HTTP export of the same message); nil when there is
	// none.
	Early *os.File
}

// Serving tells the launcher watching the agent, if any, that the agent
// serves the function's exports, so that the launcher stops answering
// them.
func (h *Inherited) Serving() {
	if h == nil || h.Watch == nil {
		return
	}
	_, _ = h.Watch.Write([]byte{handoff.ServingNote})
}

// Stopping tells the launcher watching the agent, if any, that the agent
// ends on purpose (SHUTDOWN, a signal), so that it does not take over.
func (h *Inherited) Stopping() {
	if h == nil || h.Watch == nil {
		return
	}
	_, _ = h.Watch.Write([]byte{handoff.ShutdownNote})
}

// Inherit turns the descriptors of a handoff.State into connections and
// listeners. Descriptors it cannot use are closed and reported.
func Inherit(st handoff.State) (*Inherited, error) {
	h := &Inherited{State: st}
	var errs []error
	listener := func(fd int, what string) net.Listener {
		if fd == handoff.NoFD {
			return nil
		}
		f := os.NewFile(uintptr(fd), what)
		defer f.Close()
		ln, err := net.FileListener(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("inherit the %s: %w", what, err))
			return nil
		}
		return ln
	}
	h.Telemetry = listener(st.TelemetryFD, "telemetry listener")
	h.OTLPHTTP = listener(st.OTLPHTTPFD, "OTLP/HTTP listener")
	h.OTLPGRPC = listener(st.OTLPGRPCFD, "OTLP/gRPC listener")
	h.Proxy = listener(st.ProxyFD, "runtime API proxy listener")
	if st.WatchFD > 2 {
		// Never a standard descriptor: a State built without one has 0.
		syscall.CloseOnExec(st.WatchFD)
		h.Watch = os.NewFile(uintptr(st.WatchFD), "launcher watch pipe")
	}
	if st.EarlyFD > 2 {
		syscall.CloseOnExec(st.EarlyFD)
		h.Early = os.NewFile(uintptr(st.EarlyFD), "launcher early exports pipe")
	}
	f := os.NewFile(uintptr(st.NextFD), "/event/next connection")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		errs = append(errs, fmt.Errorf("inherit the /event/next connection: %w", err))
	} else if len(st.NextRead) > 0 {
		c = &readAheadConn{Conn: c, ahead: bytes.NewReader(st.NextRead)}
	}
	h.Next = c
	if err := errors.Join(errs...); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// readAheadConn is a connection whose first bytes the launcher had
// already read.
type readAheadConn struct {
	net.Conn
	ahead *bytes.Reader
}

func (c *readAheadConn) Read(p []byte) (int, error) {
	if c.ahead.Len() > 0 {
		return c.ahead.Read(p)
	}
	return c.Conn.Read(p)
}

// Close closes whatever was inherited and not yet taken over.
func (h *Inherited) Close() {
	for _, c := range []io.Closer{h.Next, h.Telemetry, h.OTLPHTTP, h.OTLPGRPC, h.Proxy} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// ManagedInstances is the AWS_LAMBDA_INITIALIZATION_TYPE of Lambda Managed
// Instances: only SHUTDOWN may be registered, several invocations run at
// once, and the Telemetry API requires schema 2025-01-29.
const ManagedInstances = "lambda-managed-instances"

// DefaultOptions returns options with the timing defaults filled in.
func DefaultOptions() Options {
	return Options{
		Config:              config.DefaultConfig(),
		FlushBudget:         150 * time.Millisecond,
		ShutdownMargin:      250 * time.Millisecond,
		RuntimeDoneMargin:   25 * time.Millisecond,
		SelfMetricsInterval: time.Minute,
	}
}

// Validate checks the options.
func (o Options) Validate() error {
	var errs []error
	if o.RuntimeAPI == "" {
		errs = append(errs, errors.New("AWS_LAMBDA_RUNTIME_API is not set"))
	}
	if o.FlushBudget <= 0 {
		errs = append(errs, errors.New("flush_budget must be positive"))
	}
	if o.ShutdownMargin < 0 {
		errs = append(errs, errors.New("shutdown_margin must not be negative"))
	}
	if o.RuntimeDoneMargin <= 0 {
		errs = append(errs, errors.New("runtime_done_margin must be positive"))
	}
	if o.SelfMetricsInterval <= 0 {
		errs = append(errs, errors.New("self_metrics_interval must be positive"))
	}
	return errors.Join(o.Config.Validate(), errors.Join(errs...))
}

// Agent is one run of the extension.
type Agent struct {
	opts Options
	log  *slog.Logger

	client  *extapi.Client
	buf     *buffer.Buffer
	tracker *invocation.Tracker
	// led gives the records their telemetry counts; sink holds the
	// environment's last record for the final ones (recordSink).
	led      *ledger
	sink     *recordSink
	ship     *shipper.Shipper
	listener *telemetry.Listener
	receiver *otlpreceiver.Receiver
	spool    *spool.Spool
	resource *resourcepb.Resource
	// proxy is the Runtime API proxy; nil when it is off or not started.
	// unannounce removes the file that tells the exec wrapper about it.
	proxy      *rtproxy.Proxy
	unannounce func()
	events     *eventObserver

	// ready is closed when setUp has finished; telemetry pushes wait for it.
	ready     chan struct{}
	listenURI string
	// stopSelf stops the self-metrics loop of Managed Instances.
	stopSelf func()

	managed     bool
	startedAt   time.Time
	lastSelf    time.Time
	telemetryOK bool
	invokes     int
	lastInvoke  time.Time
	// lastRequestID is the request of the latest INVOKE event.
	lastRequestID string
	avgGap        time.Duration

	// runtimeDoneLate counts the waits for runtimeDone that the bound
	// ended; lateLogged is when that was last logged.
	runtimeDoneLate atomic.Uint64
	lateLogged      time.Time

	redactOnce sync.Once
	red        *redact.Redactor

	// earlyDone is closed once the exports the launcher answered while the
	// agent started are read (see takeEarly); nil when there are none.
	earlyDone chan struct{}
}

// New validates the options and prepares an agent; nothing is started.
func New(opts Options) (*Agent, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("configure extension: %w", err)
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Env == nil {
		opts.Env = func(string) (string, bool) { return "", false }
	}
	a := &Agent{opts: opts, log: opts.Log, client: extapi.New(opts.RuntimeAPI, ExtensionName), startedAt: time.Now()}
	if v, _ := opts.Env(config.EnvInitializationType); strings.EqualFold(strings.TrimSpace(v), ManagedInstances) {
		a.managed = true
	}
	return a, nil
}

// Run registers the extension and follows the event loop until SHUTDOWN (or
// until ctx is cancelled, which is handled like a SHUTDOWN with a short
// deadline). It returns nil after a clean shutdown.
//
// Only what Lambda needs before the first /event/next is on that path: the
// Telemetry API listener (and the OTLP ports) bound, register, and the
// subscription (Lambda accepts it only during init). The buffer, spool,
// shipper and OTLP servers are set up once the first /event/next is sent,
// and are ready before the first event is handled.
func (a *Agent) Run(ctx context.Context) error {
	events := []extapi.EventType{extapi.Invoke, extapi.Shutdown}
	if a.managed {
		events = []extapi.EventType{extapi.Shutdown}
	}
	a.ready = make(chan struct{})
	defer a.client.CloseIdle()
	reg, err := a.start(ctx, events)
	if err != nil {
		close(a.ready)
		a.tearDown(context.Background())
		return err
	}
	// The rest of the set-up starts once the first /event/next is on the
	// wire, so that on a function with a fraction of a vCPU it does not
	// compete with the calls Lambda waits for.
	setUp := make(chan error, 1)
	startSetUp := sync.OnceFunc(func() {
		go func() {
			defer close(a.ready)
			setUp <- a.setUp(ctx, reg)
		}()
	})
	// initTook is how long the extension took from its process start to
	// its first /event/next; the first invocation record carries it.
	var initTook atomic.Int64
	firstNext := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) {
			if !a.opts.StartedAt.IsZero() {
				initTook.CompareAndSwap(0, int64(time.Since(a.opts.StartedAt)))
			}
			startSetUp()
		},
	})
	if a.managed {
		// Managed Instances send no INVOKE events and environments live
		// long, so the extension's own counters go out on a timer.
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go a.selfMetricsLoop(sctx, done)
		a.stopSelf = sync.OnceFunc(func() {
			cancel()
			<-done
		})
		defer a.stopSelf()
	}

	switch h := a.opts.Inherited; {
	case h != nil:
		a.log.Debug("the launcher called /event/next for the first time", "since_start", h.State.NextSent.Sub(h.State.Started),
			"agent_ready_since_start", time.Since(h.State.Started))
	case !a.opts.StartedAt.IsZero():
		a.log.Debug("calling /event/next for the first time", "since_start", time.Since(a.opts.StartedAt))
	}
	for first := true; ; first = false {
		waitStarted := time.Now()
		var ev extapi.Event
		var err error
		if !first && !a.managed {
			// A record built while the extension waits is held: the
			// environment's last one, built when SHUTDOWN wakes it, then
			// carries the final counts.
			a.sink.hold()
		}
		switch h := a.opts.Inherited; {
		case first && h != nil:
			waitStarted = h.State.NextSent
			startSetUp()
			ev, err = a.client.NextOn(ctx, h.Next)
		case first:
			ev, err = a.client.Next(firstNext)
		default:
			ev, err = a.client.Next(ctx)
		}
		if first {
			startSetUp() // in case the request never made it out
			if h := a.opts.Inherited; h != nil && !h.State.Started.IsZero() {
				initTook.Store(int64(h.State.NextSent.Sub(h.State.Started)))
			}
			if serr := <-setUp; serr != nil {
				// Init is over (the first /event/next was called), so the
				// failure goes to the exit-error endpoint.
				_ = a.client.ExitError(context.Background(), "Extension.InitFailed", serr)
				a.tearDown(context.Background())
				return serr
			}
			if d := time.Duration(initTook.Load()); d > 0 {
				a.tracker.SetExtensionInit(d)
			}
			a.log.Debug("extension ready", "function", reg.FunctionName, "flush", a.opts.Config.Flush,
				"endpoint", a.opts.Config.Endpoint, "telemetry", a.telemetryOK)
		}
		// The environment may have been frozen while the extension waited.
		a.ship.Resumed(waitStarted)
		if err != nil {
			if ctx.Err() != nil {
				a.log.Info("stopping on signal")
				a.opts.Inherited.Stopping()
				return a.shutdown(time.Now().Add(time.Second))
			}
			a.log.Error("event loop failed", "err", err)
			_ = a.client.ExitError(context.Background(), "Extension.EventLoopFailed", err)
			_ = a.shutdown(time.Now().Add(time.Second))
			return err
		}
		switch ev.EventType {
		case extapi.Invoke:
			a.onInvoke(ctx, ev)
		case extapi.Shutdown:
			a.log.Debug("shutdown event", "reason", ev.ShutdownReason)
			a.opts.Inherited.Stopping()
			if a.tracker != nil {
				// The invocation left without an answer takes a timeout's
				// or a failure's reason as its status.
				a.tracker.SetShutdownReason(string(ev.ShutdownReason))
			}
			a.events.setShutdownReason(string(ev.ShutdownReason))
			deadline := ev.Deadline()
			if ev.DeadlineMs == 0 {
				deadline = time.Now().Add(2 * time.Second)
			}
			return a.shutdown(deadline)
		default:
			a.log.Warn("ignoring unknown lifecycle event", "type", ev.EventType)
		}
	}
}

// start does what Lambda waits for before the first /event/next, or takes
// it over from the launcher: the listeners bound, the extension registered
// (the strict configuration check reported), the Telemetry API subscribed.
// It returns the registration; an error ends the run.
func (a *Agent) start(ctx context.Context, events []extapi.EventType) (extapi.Registration, error) {
	// The proxy is bound first: Lambda starts the runtime once every
	// extension has registered, and the exec wrapper uses the proxy only if
	// it is up by then. (The launcher binds it before registering; the
	// agent serves it as soon as it runs.)
	a.startProxy()
	if h := a.opts.Inherited; h != nil {
		reg, err := a.client.AdoptRegistration(h.State.ExtensionID, h.State.Registration)
		if err != nil {
			h.Close()
			return extapi.Registration{}, err
		}
		a.adoptListeners(h)
		return reg, nil
	}
	// Sequential on purpose: a small function has a fraction of a vCPU,
	// and goroutines started now would only add scheduler work to the path.
	lerr := a.startListener(ctx)
	reg, err := a.client.Register(ctx, events...)
	if err != nil {
		return extapi.Registration{}, err
	}
	if a.opts.ConfigError != nil && a.opts.Config.Strict {
		err := fmt.Errorf("invalid configuration (%s=true): %w", config.EnvStrict, a.opts.ConfigError)
		if rerr := a.client.InitError(ctx, "Extension.ConfigInvalid", err); rerr != nil {
			a.log.Error("could not report the configuration error", "err", rerr)
		}
		return extapi.Registration{}, err
	}
	a.subscribe(ctx, lerr)
	return reg, nil
}

// adoptListeners serves on the listeners the launcher bound and reports
// what the launcher could not do, as startListener and subscribe would.
func (a *Agent) adoptListeners(h *Inherited) {
	rcfg := otlpreceiver.DefaultConfig()
	rcfg.HTTPAddr, rcfg.GRPCAddr = a.opts.Config.OTLPHTTPAddr, a.opts.Config.OTLPGRPCAddr
	recv, err := otlpreceiver.New(rcfg, nil, a.log)
	if err != nil {
		a.log.Error("OTLP receiver not started", "err", err)
		for _, ln := range []net.Listener{h.OTLPHTTP, h.OTLPGRPC} {
			if ln != nil {
				_ = ln.Close()
			}
		}
	} else {
		a.receiver = recv
		recv.Adopt(h.OTLPHTTP, h.OTLPGRPC)
		if err := recv.Listen(); err != nil {
			a.log.Error("OTLP receiver only partly started; functions exporting there will fail", "err", err)
		}
	}
	h.OTLPHTTP, h.OTLPGRPC = nil, nil
	if h.Telemetry == nil {
		a.log.Error("telemetry listener not started; invocation reports and function logs will be missing", "err", h.State.ListenError)
		return
	}
	l := telemetry.NewListener(a.handleTelemetry, a.log)
	if err := l.Serve(h.Telemetry); err != nil {
		_ = h.Telemetry.Close()
		a.log.Error("telemetry listener not started; invocation reports and function logs will be missing", "err", err)
		return
	}
	h.Telemetry = nil
	a.listener, a.listenURI = l, h.State.TelemetryURI
	if !h.State.Subscribed {
		if h.State.TelemetryUnavailable {
			a.logTelemetryUnavailable(h.State.SubscribeError)
			return
		}
		a.log.Error("telemetry subscription failed; invocation reports and function logs will be missing "+
			"(invocation records are built from the extension's own view)", "err", h.State.SubscribeError)
		return
	}
	a.telemetryOK = true
}

// startProxy serves the Runtime API proxy: on the listener the launcher
// bound and announced before it registered, or else on a loopback port
// bound and announced now. A failure is logged; the runtime then talks to
// the Runtime API directly.
func (a *Agent) startProxy() {
	var ln net.Listener
	if h := a.opts.Inherited; h != nil && h.Proxy != nil {
		ln, h.Proxy = h.Proxy, nil
		// Announced by the launcher in this process's name.
		path := a.runtimeAPIFile()
		a.unannounce = func() { _ = os.Remove(path) }
	}
	if !a.opts.Config.RuntimeProxy {
		if ln != nil {
			a.stopProxy(0)
			_ = ln.Close()
		}
		return
	}
	if h := a.opts.Inherited; h != nil && ln == nil && h.State.ProxyError != "" {
		a.log.Warn("the launcher could not serve the runtime API proxy; binding it now, too late for a runtime that started already",
			"err", h.State.ProxyError)
	}
	var order []trigger.Source
	for _, s := range a.opts.Config.TraceContext {
		order = append(order, trigger.Source(s))
	}
	a.events = newEventObserver(a.ready, order, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return a.buf, a.tracker, a.resource
	}, a.log)
	a.events.detect = trigger.Options{Headers: a.opts.Config.CaptureHeaders}
	a.events.coldSDK = sdkConfigured(a.opts.Env)
	a.events.redact = a.redactor()
	fail := func(err error) {
		a.log.Warn("runtime API proxy not started; no event or response data", "err", err)
		if ln != nil {
			// The runtime may be pointed at it already: its calls are
			// refused from now on.
			a.stopProxy(0)
			_ = ln.Close()
		}
	}
	p, err := rtproxy.New(a.opts.RuntimeAPI, a.events, a.log)
	if err != nil {
		fail(err)
		return
	}
	// What the event observer reads of a body: a larger one is only
	// sniffed (its first bytes), so the rest is neither copied nor held.
	p.SetCaptureLimit(trigger.MaxDecode + 1)
	// Of a body known to be larger, only what is sniffed.
	p.SetSniffLimit(trigger.SniffLen)
	a.events.waitInvoked = p.WaitInvoked
	if ln != nil {
		p.Serve(ln)
		a.proxy = p
		return
	}
	if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		fail(err)
		return
	}
	p.Serve(ln)
	a.proxy = p
	remove, err := rtproxy.Announce(a.runtimeAPIFile(), ln.Addr().String(), os.Getpid())
	if err != nil {
		// The wrapper will not find it: the runtime talks to Lambda directly.
		a.log.Warn("runtime API proxy not announced; the runtime will not use it", "err", err)
		return
	}
	a.unannounce = remove
}

// runtimeAPIFile is where the proxy is announced to the exec wrapper:
// $TMPDIR (/tmp in Lambda)/lambdascope-runtime-api.
func (a *Agent) runtimeAPIFile() string {
	dir, ok := a.opts.Env("TMPDIR")
	if !ok || dir == "" {
		dir = "/tmp"
	}
	return filepath.Join(dir, extension.RuntimeAPIFile)
}

// stopProxy stops the Runtime API proxy, letting calls in flight finish
// within the bound.
func (a *Agent) stopProxy(bound time.Duration) {
	if a.unannounce != nil {
		a.unannounce()
		a.unannounce = nil
	}
	if a.proxy == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := a.proxy.Shutdown(ctx); err != nil {
		a.log.Debug("runtime API proxy shutdown", "err", err)
	}
}

// logTelemetryUnavailable says, once, that the Telemetry API answered
// Telemetry.NotSupported (AWS's emulator does): the extension then runs
// without it and waits for no platform event.
func (a *Agent) logTelemetryUnavailable(answer any) {
	a.log.Warn("the Telemetry API is not supported here; running without it: no function logs, no platform figures "+
		"(invocation records are built from the extension's own view), and no waiting for platform events", "answer", answer)
}

// handleTelemetry hands pushed events to the tracker once set-up is done.
func (a *Agent) handleTelemetry(evs []telemetry.Event) {
	if a.opts.beforeTelemetry != nil {
		a.opts.beforeTelemetry(evs)
	}
	<-a.ready
	a.waitEarly()
	if a.tracker != nil {
		a.tracker.HandleTelemetry(evs)
		// An invocation the platform says timed out or failed, without an
		// answer, gets its inferred span now.
		a.events.platformEnded(evs)
	}
}

// earlyWait bounds how long telemetry waits for the exports the launcher
// answered while the agent started (waitEarly): well within the Managed
// Instances buffering window, which AWS's emulator does not forgive.
const earlyWait = 250 * time.Millisecond

// waitEarly lets the exports the launcher answered while the agent
// started be read before the first telemetry is: the function's span,
// answered before its invocation ended, names the trace and the parent of
// the invocation's platform spans and record, which its report, waiting
// in the same start, would otherwise be built without. The launcher
// closes the pipe once the agent serves; the wait is bounded by
// earlyWait, after which telemetry goes first.
func (a *Agent) waitEarly() {
	if a.earlyDone == nil {
		return
	}
	select {
	case <-a.earlyDone:
		return
	default:
	}
	a.log.Debug("telemetry waits for the exports the launcher answered")
	t := time.NewTimer(earlyWait)
	defer t.Stop()
	select {
	case <-a.earlyDone:
	case <-t.C:
		a.log.Warn("telemetry handled before every export the launcher answered was read; the platform spans of their invocations may miss the function's span",
			"waited", earlyWait)
	}
}

// startListener binds the Telemetry API listener and the OTLP receiver's
// addresses, so neither Lambda nor the function finds a closed port; the
// receiver serves, and telemetry pushes are handled, once setUp is done.
func (a *Agent) startListener(ctx context.Context) error {
	rcfg := otlpreceiver.DefaultConfig()
	rcfg.HTTPAddr, rcfg.GRPCAddr = a.opts.Config.OTLPHTTPAddr, a.opts.Config.OTLPGRPCAddr
	recv, err := otlpreceiver.New(rcfg, nil, a.log)
	if err != nil {
		a.log.Error("OTLP receiver not started", "err", err)
	} else {
		a.receiver = recv
		if err := recv.Listen(); err != nil {
			a.log.Error("OTLP receiver only partly started; functions exporting there will fail", "err", err)
		}
	}
	l := telemetry.NewListener(a.handleTelemetry, a.log)
	host, uriHost := a.listenHost(ctx)
	if err := l.Start(ctx, net.JoinHostPort(host, "0")); err != nil {
		return err
	}
	a.listener = l
	a.listenURI = "http://" + net.JoinHostPort(uriHost, strconv.Itoa(l.Port()))
	return nil
}

// subscribe asks the Telemetry API to push to the listener. A failure is
// logged once; the extension then ships what it has without telemetry.
func (a *Agent) subscribe(ctx context.Context, listenErr error) {
	if listenErr != nil {
		a.log.Error("telemetry listener not started; invocation reports and function logs will be missing", "err", listenErr)
		return
	}
	schema, buffering := extapi.SchemaV1, extapi.DefaultBuffering
	if a.managed {
		schema, buffering = extapi.SchemaV2, extapi.ManagedBuffering
	}
	err := a.client.SubscribeTelemetry(ctx, a.listenURI, schema, []string{"platform", "function", "extension"}, buffering)
	if errors.Is(err, extapi.ErrTelemetryNotSupported) {
		a.logTelemetryUnavailable(err)
		return
	}
	if err != nil {
		a.log.Error("telemetry subscription failed; invocation reports and function logs will be missing "+
			"(invocation records are built from the extension's own view)", "err", err)
		return
	}
	a.telemetryOK = true
}

// setUp creates and starts the buffer, tracker, spool, shipper and OTLP
// receivers. Only a failure that leaves nothing useful is returned;
// degraded parts are logged.
func (a *Agent) setUp(ctx context.Context, reg extapi.Registration) error {
	cfg := a.opts.Config
	identity := Identity(a.opts.Env, reg, cfg, a.opts.Version)

	threshold := 512 << 10
	interval := cfg.FlushInterval
	switch cfg.Flush {
	case config.FlushEnd:
		threshold, interval = cfg.BufferBytes/2, 0
	case config.FlushPeriodic:
		threshold = cfg.BufferBytes / 2
	}
	buf := buffer.New(cfg.BufferBytes, min(threshold, cfg.BufferBytes/2), a.log)
	if s := sampling.New(cfg.SampleRate); !s.All() {
		buf.SetSampler(s.Keep)
	}
	if r := a.redactor(); r != nil {
		buf.SetLogFilter(r.Logs)
	}
	a.resource = Resource(identity, cfg)
	// The records go through the sink, which holds the environment's last
	// one for the final counts (recordSink).
	sink := &recordSink{Buffer: buf, bound: max(cfg.FlushInterval, minRecordHold)}
	tracker := invocation.New(sink, a.resource, a.log)
	if a.managed {
		tracker.SetManagedInstances()
	}
	if !a.telemetryOK {
		// No platform event will come: the records are built from what
		// the extension sees itself (INVOKE events, the proxy's answers).
		tracker.SetOwnRecords()
	}

	var sp *spool.Spool
	if cfg.SpoolDir != "" && cfg.Endpoint != "" {
		var err error
		if sp, err = spool.Open(spool.Config{Dir: cfg.SpoolDir, MaxBytes: cfg.SpoolBytes}, a.log); err != nil {
			a.log.Warn("spool unavailable; what the collector cannot take will be dropped", "err", err)
			sp = nil
		}
	}
	a.spool = sp
	a.buf, a.tracker = buf, tracker
	led := &ledger{buf: buf, spool: a.spool, tracker: tracker}
	tracker.SetTally(led.next, led.carry)
	sink.led = led
	a.led, a.sink = led, sink

	// The function's exports are served from here on, before the shipper
	// is made: a cold invocation of an instrumented function waits for its
	// first export to be answered, and the shipper's set-up (the system's
	// certificates with a CA file, the gRPC client) need not come first.
	// Until the shipper runs, the buffer keeps what arrives.
	if a.receiver != nil {
		a.receiver.SetConsumer(pipeline{buf: a.buf, tracker: a.tracker, events: a.events})
		if err := a.receiver.Start(ctx); err != nil {
			a.log.Error("OTLP receiver only partly started; functions exporting there will fail", "err", err)
		}
		if !a.opts.StartedAt.IsZero() {
			a.log.Debug("serving the function's exports", "since_start", time.Since(a.opts.StartedAt))
		}
	}
	a.takeEarly(ctx)

	scfg := shipper.DefaultConfig()
	scfg.Endpoint, scfg.TLS, scfg.APIKey = cfg.Endpoint, cfg.TLS, cfg.APIKey
	scfg.TLSCAFile, scfg.TLSServerName = cfg.TLSCAFile, cfg.TLSServerName
	scfg.Identity = identity
	scfg.Interval = interval
	if sp != nil {
		scfg.Spool = sp
	}
	ship, err := shipper.New(scfg, buf, a.log)
	if err != nil {
		return err
	}
	a.ship = ship
	if cfg.Endpoint == "" {
		a.log.Warn("LAMBDASCOPE_ENDPOINT is not set; telemetry is received but nothing will be shipped")
	}
	return a.ship.Start(ctx)
}

// takeEarly reads the OTLP/HTTP exports the launcher answered while the
// agent started into the receiver, as if they had come to it, and tells
// the launcher that the agent serves from now on. Without a receiver the
// launcher's pipe is closed: what it passes on is lost, and it counts it.
func (a *Agent) takeEarly(ctx context.Context) {
	h := a.opts.Inherited
	if h == nil || h.Early == nil {
		h.Serving()
		return
	}
	r := h.Early
	h.Early = nil
	if a.receiver == nil {
		_ = r.Close()
		h.Serving()
		return
	}
	handler := a.receiver.HTTPHandler()
	a.earlyDone = make(chan struct{})
	go func() {
		defer close(a.earlyDone)
		defer r.Close()
		n := 0
		for {
			x, err := handoff.ReadEarly(r)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					a.log.Warn("the exports the launcher answered were cut short; the rest are lost", "err", err)
				}
				break
			}
			n++
			req := &http.Request{
				Method: http.MethodPost, URL: &url.URL{Path: x.Path}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(x.Body)), ContentLength: int64(len(x.Body)),
				Host: "localhost", RemoteAddr: "launcher",
			}
			req.Header.Set("Content-Type", x.ContentType)
			if x.ContentEncoding != "" {
				req.Header.Set("Content-Encoding", x.ContentEncoding)
			}
			w := &earlyAnswer{header: http.Header{}}
			handler.ServeHTTP(w, req.WithContext(ctx))
			if w.status >= 400 {
				// The receiver has counted it (malformed, refused); the
				// function was told it was taken.
				a.log.Warn("an export the launcher answered was refused", "path", x.Path, "status", w.status)
			}
		}
		if n > 0 {
			a.log.Debug("exports answered by the launcher while the agent started", "count", n)
		}
	}()
	h.Serving()
}

// earlyAnswer is the receiver's answer to an export the launcher already
// answered: only its status is looked at.
type earlyAnswer struct {
	header http.Header
	status int
}

func (w *earlyAnswer) Header() http.Header { return w.header }

func (w *earlyAnswer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func (w *earlyAnswer) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// listenHost picks where the telemetry listener binds and the host name put
// in the subscription URI.
func (a *Agent) listenHost(ctx context.Context) (bind, uri string) {
	if a.opts.ListenHost != "" {
		return a.opts.ListenHost, a.opts.ListenHost
	}
	lctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(lctx, SandboxHost)
	if err == nil && len(addrs) > 0 {
		return addrs[0], SandboxHost
	}
	return "127.0.0.1", "127.0.0.1"
}

// minRecordHold is the least a record built while the extension waits on
// /event/next is held (recordSink): when Lambda wakes the environment for
// SHUTDOWN, it pushes the last report, then gives the runtime up to
// 500 ms to stop before it sends SHUTDOWN.
const minRecordHold = time.Second

// onInvoke handles one INVOKE: shipping continues in the background; before
// the next /event/next the agent waits for this invocation's runtimeDone
// (the response is already sent then) and flushes if the mode asks for it.
func (a *Agent) onInvoke(ctx context.Context, ev extapi.Event) {
	// The records built while the extension waited are not the last.
	a.sink.release()
	now := time.Now()
	if a.invokes > 0 {
		gap := now.Sub(a.lastInvoke)
		if a.avgGap == 0 {
			a.avgGap = gap
		} else {
			a.avgGap = (3*a.avgGap + gap) / 4
		}
	}
	a.invokes++
	a.lastInvoke = now
	xray := ""
	if ev.Tracing != nil {
		xray = ev.Tracing.Value
	}
	// The previous invocation's record, when built from the extension's
	// own view, is built now, with its answer.
	a.awaitAnswer(a.lastRequestID, answerWait)
	// Still without an answer, it gets its inferred span now (awaitAnswer
	// waited for the answer when the Telemetry API does not deliver).
	bound := time.Duration(0)
	if a.telemetryOK {
		bound = answerWait
	}
	a.events.endPrevious(a.lastRequestID, bound)
	a.lastRequestID = ev.RequestID
	a.tracker.ObserveInvokeAt(ev.RequestID, xray, now)
	if now.Sub(a.lastSelf) >= a.opts.SelfMetricsInterval {
		a.addSelfMetrics(now)
	}
	if a.opts.Config.Flush != config.FlushPeriodic {
		// Ship what earlier invocations left (their reports) while awake.
		a.ship.Kick()
	}

	if !a.flushAtEnd() {
		// Nothing would wait too long: call /event/next right away and let
		// the background loop ship while the environment is awake.
		return
	}
	deadline := ev.Deadline().Add(-a.opts.ShutdownMargin)
	if ev.DeadlineMs == 0 {
		deadline = now.Add(time.Minute)
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if a.telemetryOK {
		quiet := a.runtimeDoneQuiet()
		switch a.waitEnd(wctx, ev.RequestID, quiet) {
		case endRuntimeDone:
		case endAnswered:
			a.log.Debug("the runtime's answer ended the wait for runtimeDone", "request_id", ev.RequestID)
		case endQuiet:
			a.onRuntimeDoneLate(ev.RequestID, quiet, now)
		default:
			a.log.Debug("runtimeDone not seen before the deadline", "request_id", ev.RequestID)
		}
	}
	fctx, fcancel := context.WithTimeout(wctx, a.opts.FlushBudget)
	defer fcancel()
	if err := a.ship.Flush(fctx); err != nil && !errors.Is(err, shipper.ErrDisabled) {
		a.log.Debug("end-of-invocation flush incomplete", "err", err)
	}
}

// endedBy says what ended the wait for an invocation's end.
type endedBy int

const (
	endRuntimeDone endedBy = iota // platform.runtimeDone came
	endAnswered                   // the runtime's answer passed the proxy
	endQuiet                      // the telemetry stream was quiet for the bound
	endDeadline                   // ctx ended
)

// waitEnd waits until the invocation id has ended: its runtimeDone came,
// or the runtime's answer passed the Runtime API proxy. While the proxy
// has not seen the runtime take the invocation (a runtime talking to
// Lambda directly), the wait also ends once the telemetry stream has been
// quiet for quiet (a late or lost runtimeDone). Once the runtime took it
// through the proxy, its answer will pass there: the quiet bound no
// longer applies, so that a function that works silently for longer than
// the bound still has its spans and outcome shipped before the freeze;
// runtimeDone, which follows the answer, and ctx's deadline still end it.
func (a *Agent) waitEnd(ctx context.Context, id string, quiet time.Duration) endedBy {
	if a.events == nil {
		if a.tracker.WaitRuntimeDone(ctx, id, quiet) {
			return endRuntimeDone
		}
		if ctx.Err() != nil {
			return endDeadline
		}
		return endQuiet
	}
	// The runtime's answer, seen by the proxy, ends the invocation as
	// well as runtimeDone does, and comes first.
	wait, answered, cancelWait := a.events.untilEnded(ctx, id)
	defer cancelWait()
	taken := a.events.takenChan(id)
	// Until the runtime is seen taking the invocation, the quiet bound
	// applies.
	first, cancelFirst := context.WithCancel(wait)
	defer cancelFirst()
	go func() {
		select {
		case <-taken:
			cancelFirst()
		case <-first.Done():
		}
	}()
	seen := a.tracker.WaitRuntimeDone(first, id, quiet)
	cancelFirst()
	isTaken := func() bool {
		select {
		case <-taken:
			return true
		default:
			return false
		}
	}
	if !seen && !answered() && ctx.Err() == nil && isTaken() {
		seen = a.tracker.WaitRuntimeDone(wait, id, 0)
	}
	switch {
	case seen:
		return endRuntimeDone
	case answered():
		return endAnswered
	case ctx.Err() != nil:
		return endDeadline
	}
	return endQuiet
}

// runtimeDoneQuiet bounds the wait for an invocation's runtimeDone: the
// subscription's buffering window plus a margin, counted from the
// telemetry stream's last platform or function event. runtimeDone follows
// that event within the window; a stream quiet for longer says it is late
// or lost, and waiting on would hold the invocation, billed, until its
// deadline.
func (a *Agent) runtimeDoneQuiet() time.Duration {
	return time.Duration(extapi.DefaultBuffering.TimeoutMs)*time.Millisecond + a.opts.RuntimeDoneMargin
}

// onRuntimeDoneLate counts a wait for runtimeDone that the bound ended and
// logs it, at most once a minute.
func (a *Agent) onRuntimeDoneLate(requestID string, quiet time.Duration, invoked time.Time) {
	n := a.runtimeDoneLate.Add(1)
	if now := time.Now(); a.lateLogged.IsZero() || now.Sub(a.lateLogged) >= time.Minute {
		a.lateLogged = now
		// Info, not a warning: a function that runs silently for longer
		// than the bound (waiting on a call) ends the wait the same way.
		a.log.Info("platform.runtimeDone did not come within "+quiet.String()+" of the telemetry stream's last event; "+
			"calling /event/next without it, the data of the invocation's rest ships with a later flush (logged at most once a minute)",
			"request_id", requestID, "waited", now.Sub(invoked).Round(time.Millisecond), "late_total", n)
	}
}

// flushAtEnd decides, when an invocation starts, whether to wait for its
// runtimeDone and flush before calling /event/next. The wait costs billed
// time (runtimeDone arrives within the subscription's 25 ms buffering), so
// the adaptive mode only pays it when the data would otherwise wait too
// long: the environment is invoked rarely (or this is its first
// invocation), the oldest buffered data is older than the flush interval,
// or the buffer is filling up. Otherwise the background loop ships while
// the next invocations run.
func (a *Agent) flushAtEnd() bool {
	cfg := a.opts.Config
	switch cfg.Flush {
	case config.FlushEnd:
		return true
	case config.FlushPeriodic:
		return false
	}
	return a.invokes == 1 ||
		a.avgGap > cfg.FlushInterval ||
		a.buf.OldestAge() > cfg.FlushInterval ||
		a.buf.Bytes() > cfg.BufferBytes/2
}

// shutdown waits for the reports still due, flushes everything, and logs
// what was sent and what could not be. It always returns nil: the
// extension exits 0 even when the collector was unreachable.
func (a *Agent) shutdown(deadline time.Time) error {
	// The latest record, held or built from now on, waits for the final
	// counts.
	a.sink.shutdown()
	if a.stopSelf != nil {
		a.stopSelf()
	}
	hard := deadline.Add(-a.opts.ShutdownMargin)
	if now := time.Now(); hard.Before(now.Add(50 * time.Millisecond)) {
		hard = now.Add(50 * time.Millisecond)
	}
	// Half of the time left for the telemetry still due, the rest for the
	// flush.
	telemetryBy := time.Now().Add(time.Until(hard) / 2)
	if a.telemetryOK {
		rctx, cancel := context.WithDeadline(context.Background(), telemetryBy)
		// The pushes answered before SHUTDOWN are handled first: the
		// platform's last batch (AWS's emulator sends it just before
		// SHUTDOWN) names invocations the tracker has not seen yet,
		// whose reports are then waited for too.
		if a.listener != nil {
			if err := a.listener.Handled(rctx); err != nil {
				a.log.Debug("telemetry pushes not all handled before the wait for reports", "err", err)
			}
		}
		if missing := a.tracker.WaitReports(rctx); len(missing) > 0 {
			a.log.Warn("shutting down without the platform report of some invocations", "count", len(missing))
		}
		cancel()
	}
	if a.earlyDone != nil {
		// The exports the launcher answered while the agent started.
		select {
		case <-a.earlyDone:
		case <-time.After(100 * time.Millisecond):
			a.log.Warn("shutting down before every export the launcher answered was read")
		}
	}
	// Stop taking new data so the final flush sees everything.
	stopCtx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if a.receiver != nil {
		if err := a.receiver.Shutdown(stopCtx); err != nil {
			a.log.Debug("OTLP receiver shutdown", "err", err)
		}
	}
	cancel()
	if a.listener != nil {
		// The pushes answered are handled before the flush, within the
		// telemetry's half of the time (100 ms at least); what is not
		// is counted and reported below.
		lctx, cancel := context.WithDeadline(context.Background(), later(telemetryBy, time.Now().Add(100*time.Millisecond)))
		if err := a.listener.Shutdown(lctx); err != nil {
			a.log.Debug("telemetry listener shutdown", "err", err)
		}
		cancel()
		if st := a.listener.Stats(); st.Unhandled > 0 {
			a.log.Error("telemetry pushes answered before shutdown were not handled in time; their invocation records, platform spans and log lines are lost",
				"pushes", st.Unhandled, "bytes", st.UnhandledBytes)
		}
	}
	// Inferred spans still waiting for the function's invocation span go
	// as they are, before the records that wait with them are built.
	a.events.sendAllHeld()
	// Invocations that ran but got no platform.report still get a record.
	if a.tracker != nil {
		if a.managed {
			// No INVOKE event names the last invocation: every one the
			// runtime took and has not answered yet.
			a.awaitAnswers(a.events.unanswered(), answerWaitShutdown)
		} else {
			a.awaitAnswer(a.lastRequestID, answerWaitShutdown)
		}
		// The invocations still without an answer get their inferred
		// spans, before the records that wait with them are built.
		a.events.endAllUnanswered()
		a.tracker.FinishIncomplete()
	}
	// The runtime was stopped before SHUTDOWN was sent.
	a.stopProxy(100 * time.Millisecond)

	// The extension's own counters go out with the last flush. A batch the
	// background loop has in flight keeps going; the rest goes beside it.
	a.addSelfMetrics(time.Now())
	var spooledBefore buffer.Counts
	if a.spool != nil {
		spooledBefore = a.spool.Stats().Spooled
	}
	// The environment's last record goes after everything else, with the
	// counts of all that went before it (finalCounts).
	last := a.sink.takeLast()
	fctx, fcancel := context.WithDeadline(context.Background(), hard)
	defer fcancel()
	flushErr := a.ship.Drain(fctx)
	if last != nil && flushErr == nil {
		// Everything else was taken: the last record goes on its own,
		// with the bytes of its own batch counted.
		a.led.close(last, true, a.buf.Bytes())
		if !a.buf.AddInvocation(last) {
			a.log.Warn("the environment's last invocation record did not fit the buffer; it is lost with its counts", "request_id", last.GetRequestId())
		}
		last = nil
		flushErr = a.ship.Flush(fctx)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer scancel()
	if err := a.ship.Shutdown(sctx); err != nil {
		a.log.Debug("shipper shutdown", "err", err)
	}
	// What the collector did not take goes to the spool for the next
	// start; the spool is on local disk, so this is quick.
	spooled, dropped, spoolErr := a.ship.SpoolRemaining(context.Background())
	if last != nil {
		// The collector did not take everything: the last record follows
		// it into the spool (or is dropped with it), counting what was
		// spooled and dropped; its own bytes are counted by whichever
		// start replays it.
		a.led.close(last, false, 0)
		if a.buf.AddInvocation(last) {
			s, d, err := a.ship.SpoolRemaining(context.Background())
			spooled.Add(s)
			dropped.Add(d)
			spoolErr = errors.Join(spoolErr, err)
		} else {
			a.log.Warn("the environment's last invocation record did not fit the buffer; it is lost with its counts", "request_id", last.GetRequestId())
		}
	}
	// What the counters did after the last record was built, when none
	// could take it: no record was built since the environment last
	// waited on /event/next, or the spooling of the last one moved them.
	var uncounted *ingestv1.TelemetryCounts
	if a.led != nil {
		uncounted = a.led.next()
	}
	if a.spool != nil {
		// Also what the last flush spooled itself, its retry budget spent.
		now := a.spool.Stats().Spooled
		for i := range now {
			spooled[i] = now[i] - spooledBefore[i]
		}
	}

	st := a.buf.Stats()
	attrs := []any{"received", st.Received, "sent", st.Sent, "dropped", st.Dropped,
		"received_bytes", st.ReceivedBytes, "sent_bytes", st.SentBytes}
	if !countsZero(uncounted) {
		attrs = append(attrs, "counted_on_no_record", uncounted.String())
	}
	if !st.SampledOut.IsZero() {
		attrs = append(attrs, "sampled_out", st.SampledOut)
	}
	if a.spool != nil {
		ss := a.spool.Stats()
		attrs = append(attrs, "spooled", ss.Spooled, "replayed", ss.Replayed, "spool_dropped", ss.Dropped,
			"spool_corrupt", ss.Corrupt, "spool_files", ss.Files, "spool_bytes", ss.Bytes)
	}
	if a.listener != nil {
		ts := a.listener.Stats()
		attrs = append(attrs, "telemetry_events", ts.Events, "telemetry_unknown", ts.Unknown, "telemetry_malformed", ts.Malformed)
		if ts.Unhandled > 0 {
			attrs = append(attrs, "telemetry_pushes_unhandled", ts.Unhandled)
		}
	}
	if a.receiver != nil {
		if n := a.receiver.Stats().Malformed; n > 0 {
			attrs = append(attrs, "otlp_malformed", n)
		}
	}
	if a.ship != nil {
		// Connections given up (a call timed out, outlived a freeze, or
		// found its connection dead after idling) tell of a network path
		// that drops idle flows or a collector that stalls.
		if cs := a.ship.ConnStats(); cs.Reconnects > 0 {
			attrs = append(attrs, "collector_connections", cs.Connections, "collector_reconnects", cs.Reconnects,
				"calls_stale", cs.Stale, "calls_timed_out", cs.Timeouts, "connections_dead_after_idle", cs.DeadAfterIdle)
		}
	}
	ts := a.tracker.Stats()
	if ts.LogsDropped > 0 {
		attrs = append(attrs, "lambda_logs_dropped", ts.LogsDropped)
	}
	if ts.LogsUnattributed > 0 {
		attrs = append(attrs, "logs_unattributed", ts.LogsUnattributed)
	}
	if ts.OwnRecords > 0 {
		attrs = append(attrs, "records_from_own_view", ts.OwnRecords)
	}
	if ts.ReportsAfterOwn > 0 {
		attrs = append(attrs, "reports_after_own_records", ts.ReportsAfterOwn)
	}
	if ts.Unrecorded > 0 {
		attrs = append(attrs, "invocations_unrecorded", ts.Unrecorded)
	}
	if n := a.runtimeDoneLate.Load(); n > 0 {
		attrs = append(attrs, "runtime_done_late", n)
	}
	if a.proxy != nil {
		ps := a.proxy.Stats()
		attrs = append(attrs, "runtime_api_calls", ps.Calls)
		if ps.UpstreamErrors > 0 {
			attrs = append(attrs, "runtime_api_unreachable", ps.UpstreamErrors)
		}
		if ps.ObserverPanics > 0 {
			attrs = append(attrs, "runtime_api_observer_failures", ps.ObserverPanics)
		}
		if ps.ObserverDropped > 0 {
			attrs = append(attrs, "runtime_api_calls_unobserved", ps.ObserverDropped)
		}
		if ps.BadRequests > 0 {
			attrs = append(attrs, "runtime_api_bad_requests", ps.BadRequests)
		}
		if n := a.events.lost.Load(); n > 0 {
			attrs = append(attrs, "inferred_spans_lost", n)
		}
		if n := a.events.apart.Load(); n > 0 {
			attrs = append(attrs, "sdk_traces_apart", n)
		}
		if n := a.events.heldInVain.Load(); n > 0 {
			attrs = append(attrs, "inferred_spans_held_in_vain", n)
		}
		if n := a.events.tooLate.Load(); n > 0 {
			attrs = append(attrs, "sdk_spans_too_late", n)
		}
		if n := a.events.errorTextsCut.Load(); n > 0 {
			attrs = append(attrs, "error_texts_cut", n)
		}
		if n := a.events.errorBodiesTooLarge.Load(); n > 0 {
			attrs = append(attrs, "error_bodies_too_large", n)
		}
		if n := a.events.unansweredSpans.Load(); n > 0 {
			attrs = append(attrs, "inferred_spans_unanswered", n)
		}
		if n := a.events.lateAnswers.Load(); n > 0 {
			attrs = append(attrs, "answers_after_inferred_span", n)
		}
	}
	a.log.Info("extension shut down", attrs...)
	waiting := ""
	if a.spool != nil {
		ss := a.spool.Stats()
		if ss.Files > 0 {
			waiting = fmt.Sprintf(" (%d batches, %d bytes waiting in %s for the next start)", ss.Files, ss.Bytes, a.spool.Dir())
		}
		if err := a.spool.Close(); err != nil {
			a.log.Debug("spool close", "err", err)
		}
	}
	switch {
	case !spooled.IsZero() || !dropped.IsZero() || waiting != "":
		a.log.Error("could not send to the collector before shutdown: spooled "+spooled.String()+waiting+
			"; dropped "+dropped.String(), "err", errors.Join(flushErr, spoolErr))
	case errors.Is(flushErr, shipper.ErrDisabled):
		a.log.Warn("nothing was shipped: no collector endpoint configured", "not_shipped", st.Dropped)
	}
	return nil
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// selfMetricsLoop adds the extension's counters every SelfMetricsInterval
// and asks the shipper to send them, until ctx ends.
func (a *Agent) selfMetricsLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	select {
	case <-a.ready:
	case <-ctx.Done():
		return
	}
	if a.ship == nil {
		return
	}
	t := time.NewTicker(a.opts.SelfMetricsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			a.addSelfMetrics(now)
			a.ship.Kick()
		}
	}
}

// addSelfMetrics queues the extension's counters as OTLP metrics.
func (a *Agent) addSelfMetrics(now time.Time) {
	if a.buf == nil || a.tracker == nil {
		return
	}
	a.lastSelf = now
	st, ts := a.buf.Stats(), a.tracker.Stats()
	snap := selfmetrics.Snapshot{
		Received: st.Received, Sent: st.Sent, Dropped: st.Dropped, SampledOut: st.SampledOut,
		BufferBytes:       int64(st.Bytes),
		LambdaLogsDropped: ts.LogsDropped,
		RuntimeDoneLate:   a.runtimeDoneLate.Load(),
		LogsUnattributed:  ts.LogsUnattributed,
		Redacted:          a.redactor().Count(),

		RecordsFromOwnView:     ts.OwnRecords,
		ReportsAfterOwnRecords: ts.ReportsAfterOwn,
		InvocationsUnrecorded:  ts.Unrecorded,
	}
	if a.events != nil {
		snap.ErrorTextsCut = a.events.errorTextsCut.Load()
		snap.ErrorBodiesTooLarge = a.events.errorBodiesTooLarge.Load()
		snap.InferredSpansLost = a.events.lost.Load()
		snap.InferredSpansUnanswered = a.events.unansweredSpans.Load()
		snap.AnswersAfterInferredSpan = a.events.lateAnswers.Load()
	}
	if a.spool != nil {
		ss := a.spool.Stats()
		snap.Spooled, snap.Replayed, snap.SpoolCorrupt, snap.SpoolBytes = ss.Spooled, ss.Replayed, ss.Corrupt, ss.Bytes
		snap.Dropped.Add(ss.Dropped)
	}
	if a.listener != nil {
		ts := a.listener.Stats()
		snap.TelemetryEvents, snap.TelemetryUnknown, snap.TelemetryMalformed = ts.Events, ts.Unknown, ts.Malformed
	}
	if a.receiver != nil {
		snap.OTLPMalformed = a.receiver.Stats().Malformed
	}
	a.buf.AddMetrics([]*metricspb.ResourceMetrics{selfmetrics.Build(a.resource, snap, a.startedAt, now)})
}

// redactor is the redaction rules of the configuration, nil for none. A
// rule the configuration could not take was reported with it and is left
// out.
func (a *Agent) redactor() *redact.Redactor {
	a.redactOnce.Do(func() {
		r, err := redact.New(a.opts.Config.RedactKeys, a.opts.Config.RedactPatterns)
		if err != nil {
			a.log.Error("redaction rules not usable; values are not redacted", "err", err)
		}
		a.red = r
	})
	return a.red
}

// tearDown stops whatever setUp started.
func (a *Agent) tearDown(ctx context.Context) {
	a.stopProxy(100 * time.Millisecond)
	if a.receiver != nil {
		_ = a.receiver.Shutdown(ctx)
	}
	if a.listener != nil {
		_ = a.listener.Shutdown(ctx)
	}
	if a.ship != nil {
		_ = a.ship.Shutdown(ctx)
	}
}

// pipeline is what the OTLP receiver feeds: spans are also shown to the
// tracker so invocation records get the function's trace ID.
type pipeline struct {
	buf     *buffer.Buffer
	tracker *invocation.Tracker
	// events, when the Runtime API proxy runs, makes the function's
	// invocation spans children of their inferred spans.
	events *eventObserver
}

func (p pipeline) ConsumeSpans(rss []*tracepb.ResourceSpans) int {
	p.events.adoptDecoded(rss)
	p.tracker.ObserveSpans(rss)
	return p.buf.AddSpans(rss)
}

// ConsumeRawSpans takes the function's spans still encoded: the tracker
// gets the invocation spans the receiver found, the buffer the encoded
// resource spans, which go to the collector as they are.
func (p pipeline) ConsumeRawSpans(t *otlpwire.Traces) int {
	p.events.adopt(t.Invocations, func(i int, parent [8]byte) bool {
		if err := t.SetParent(i, parent); err != nil {
			p.events.log.Warn("the function's invocation span is left without the inferred span as its parent", "err", err)
			return false
		}
		return true
	})
	p.tracker.ObserveInvocationSpans(t.Invocations)
	return p.buf.AddRawSpans(t.ResourceSpans)
}

func (p pipeline) ConsumeLogs(rls []*logspb.ResourceLogs) int { return p.buf.AddLogs(rls) }

func (p pipeline) ConsumeMetrics(rms []*metricspb.ResourceMetrics) int {
	return p.buf.AddMetrics(rms)
}

var (
	_ otlpreceiver.Consumer         = pipeline{}
	_ otlpreceiver.RawSpansConsumer = pipeline{}
)
