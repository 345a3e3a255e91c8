// Package launch is the extension's launcher: the small program Lambda
// starts from /opt/extensions/lambdascope. It does everything Lambda waits
// for before it ends the init phase — bind the Telemetry API listener, the
// OTLP ports and the Runtime API proxy's port (announced for the exec
// wrapper before register, since Lambda starts the runtime once every
// extension has registered), register, subscribe, send the first
// /event/next — in a process that links little more than package net,
// then starts the agent as its child (Spawn), which inherits the listeners
// and the connection the first event arrives on (package handoff). The
// agent's own start, most of it Go package initialisation of gRPC and
// protobuf, then runs beside the function's init instead of before it.
//
// The launcher stays, parked, to watch the agent (Child.Wait): when the
// agent ends without saying it stops — a crash, the OOM killer — the
// launcher takes over (TakeOver, Takeover.Events): it relays the Runtime
// API proxy's port to the real Runtime API, answers the OTLP ports and the
// telemetry listener, counting what it drops, and follows the events
// until SHUTDOWN, so that the function runs on; then it starts the agent
// once more to ship the counts (Takeover.Report). When the agent cannot be
// started at all the launcher stays registered and relays the proxy's
// port too (RelayProxy, Idle).
package launch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/extension"
	"github.com/lambdascope/lambdascope/extension/internal/extapi/apiwire"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
)

// SandboxHost is the name the Telemetry API reaches extensions at.
const SandboxHost = "sandbox.localdomain"

// Options say what the launcher binds and registers.
type Options struct {
	// RuntimeAPI is AWS_LAMBDA_RUNTIME_API (host:port).
	RuntimeAPI string
	// Name is the extension's name (the file name under /opt/extensions).
	Name string
	// Managed is true on Lambda Managed Instances: only SHUTDOWN is
	// registered and the Telemetry API takes schema 2025-01-29 only.
	Managed bool
	// OTLPHTTPAddr and OTLPGRPCAddr are bound for the agent; "" binds
	// nothing.
	OTLPHTTPAddr, OTLPGRPCAddr string
	// ListenHost is where the telemetry listener binds; "" means
	// sandbox.localdomain when it resolves, otherwise 127.0.0.1.
	ListenHost string
	// HostsFile is where host names are looked up first; "" means
	// /etc/hosts.
	HostsFile string
	// RuntimeProxy binds the Runtime API proxy's port (a loopback port)
	// and announces it in AnnounceFile for the exec wrapper, before
	// registering: Lambda starts the runtime once every extension has
	// registered, and the wrapper looks for the proxy only then.
	RuntimeProxy bool
	// AnnounceFile is where the proxy is announced
	// ($TMPDIR/lambdascope-runtime-api); without it the proxy's port is
	// not bound.
	AnnounceFile string
	// Started is when the process started.
	Started time.Time
}

// Launch is a started extension, waiting for its first event.
type Launch struct {
	State handoff.State
	// listeners are the bound descriptors, open until exec or Close.
	listeners []int
	api       *conn
	// announced is the file announcing the proxy; "" when none was
	// written.
	announced string
	// relay is the proxy's port as RelayProxy serves it; relayedEvents
	// counts the invocations it handed the runtime.
	relay         net.Listener
	relayedEvents atomic.Int64
	// drains are the ports a takeover answers (see TakeOver).
	drains []net.Listener
	// early answers the function's first exports until the agent serves
	// them, from the moment the extension is registered (see early.go);
	// earlyR is the read end of its pipe, for the agent. Both are nil
	// when there is no OTLP port.
	early  *early
	earlyR *os.File
	// invokes is true when the extension is registered for INVOKE.
	invokes bool
}

// ErrNotRegistered wraps an error that happened before the extension was
// registered: nothing is owed to Lambda yet, so the agent can be started
// the slow way and report the problem itself.
var ErrNotRegistered = errors.New("extension not registered")

// Start binds the listeners, registers, subscribes to the Telemetry API and
// sends the first /event/next. A listener or subscription that fails is
// recorded in the State for the agent to report; an error is returned only
// when the extension could not register (wrapping ErrNotRegistered) or the
// first /event/next could not be sent.
func Start(o Options) (*Launch, error) {
	l := &Launch{State: handoff.State{
		NextFD: handoff.NoFD, TelemetryFD: handoff.NoFD,
		OTLPHTTPFD: handoff.NoFD, OTLPGRPCFD: handoff.NoFD, ProxyFD: handoff.NoFD,
		WatchFD: handoff.NoFD, EarlyFD: handoff.NoFD, Started: o.Started,
	}}
	ok := false
	defer func() {
		if !ok {
			l.unannounce()
			l.Close()
		}
	}()
	hostsPath := o.HostsFile
	if hostsPath == "" {
		hostsPath = HostsPath
	}
	n := &names{path: hostsPath}
	api, err := dialAPI(n, o.RuntimeAPI)
	if err != nil {
		return nil, fmt.Errorf("%w: connect to the Extensions API at %s: %w", ErrNotRegistered, o.RuntimeAPI, err)
	}
	l.api = api
	// Bound before registering, so neither Lambda nor the function ever
	// finds a closed port; a failure is left to the agent, which binds
	// again and says so.
	l.State.OTLPHTTPFD, _, _ = l.listen(n, o.OTLPHTTPAddr)
	l.State.OTLPGRPCFD, _, _ = l.listen(n, o.OTLPGRPCAddr)
	if o.RuntimeProxy && o.AnnounceFile != "" {
		l.bindProxy(n, o.AnnounceFile)
	}

	events := []string{"INVOKE", "SHUTDOWN"}
	schema := apiwire.SchemaV1
	if o.Managed {
		events, schema = []string{"SHUTDOWN"}, apiwire.SchemaV2
	}
	if err := l.api.send("POST", apiwire.PathRegister, apiwire.RegisterBody(events...),
		apiwire.HeaderName, o.Name,
		apiwire.HeaderAcceptFeature, apiwire.AcceptFeatures,
		"Content-Type", "application/json"); err != nil {
		return nil, fmt.Errorf("%w: register extension: %w", ErrNotRegistered, err)
	}
	// While Lambda answers: the telemetry listener, bound where
	// sandbox.localdomain points (the hosts file names it in Lambda;
	// elsewhere DNS may).
	at, found := n.listenHost(o.ListenHost)
	if !found {
		at = lookupSandbox()
	}
	telemetryFD, telemetryPort, listenErr := l.listen(n, net.JoinHostPort(at.bind, "0"))
	// And what answers the function's first exports, ready to serve once
	// registered: made after the first /event/next, it would be in the way
	// of an export sent at once.
	l.prepareEarly()

	resp, err := l.api.read()
	if err != nil {
		return nil, fmt.Errorf("%w: register extension: %w", ErrNotRegistered, err)
	}
	if resp.status/100 != 2 {
		return nil, fmt.Errorf("%w: %w", ErrNotRegistered, statusError("register extension", resp))
	}
	id := resp.get(apiwire.HeaderIdentifier)
	if id == "" {
		return nil, fmt.Errorf("%w: register extension: response has no %s", ErrNotRegistered, apiwire.HeaderIdentifier)
	}
	l.State.ExtensionID, l.State.Registration = id, resp.body
	l.invokes = slices.Contains(events, "INVOKE")

	if listenErr == nil {
		l.State.TelemetryFD = telemetryFD
		l.State.TelemetryURI = "http://" + net.JoinHostPort(at.uri, strconv.Itoa(telemetryPort))
	} else {
		l.State.ListenError = "start telemetry listener: " + listenErr.Error()
	}
	if err := l.subscribeAndNext(id, schema, apiwire.BufferingFor(o.Managed)); err != nil {
		return nil, fmt.Errorf("send the first /event/next: %w", err)
	}
	l.serveEarly() // when subscribeAndNext did not
	l.State.NextSent = time.Now()
	l.State.NextFD = int(l.api.c)
	if n := l.api.r.Buffered(); n > 0 {
		// Read with the subscription's answer: the start of the first
		// event's, which the agent must see before the rest.
		ahead, _ := l.api.r.Peek(n)
		l.State.NextRead = slices.Clone(ahead)
	}
	ok = true
	return l, nil
}

// subscribeAndNext subscribes the telemetry listener, when there is one,
// and sends the first /event/next. The two requests go out together
// (HTTP/1.1 pipelining): the API answers them in order, so the
// subscription is done before the next event is asked for, and the
// launcher saves a round trip. A failed subscription is recorded in the
// State; the error is about the /event/next.
func (l *Launch) subscribeAndNext(id, schema string, buf apiwire.Buffering) error {
	next := func() error {
		err := l.api.send("GET", apiwire.PathNext, nil, apiwire.HeaderIdentifier, id)
		if err == nil {
			l.serveEarly()
		}
		return err
	}
	if l.State.TelemetryFD == handoff.NoFD {
		return next()
	}
	body := apiwire.SubscriptionBody(l.State.TelemetryURI, schema, apiwire.TelemetryTypes, buf)
	err := l.api.queue("PUT", apiwire.PathTelemetry, body, apiwire.HeaderIdentifier, id, "Content-Type", "application/json")
	if err == nil {
		err = l.api.queue("GET", apiwire.PathNext, nil, apiwire.HeaderIdentifier, id)
	}
	if err == nil {
		err = l.api.flush()
	}
	if err != nil {
		l.State.SubscribeError = "subscribe to telemetry: " + err.Error()
		l.api.closing = true
		return next()
	}
	// The function's first exports are answered from here on (made ready
	// while Lambda answered register): none of it comes before the first
	// /event/next, which ends Lambda's wait for the init, and the runtime,
	// started once every extension registered, is still starting.
	l.serveEarly()
	resp, err := l.api.read()
	switch {
	case err != nil:
		l.State.SubscribeError = "subscribe to telemetry: " + err.Error()
		// The connection broke: the /event/next sent on it is lost too.
		l.api.closing = true
	default:
		// A 2xx answer with an errorType is a refusal too: AWS's emulator
		// answers 202 with Telemetry.NotSupported.
		errType := apiwire.ErrorType(resp.body)
		if resp.status/100 == 2 && errType == "" {
			l.State.Subscribed = true
			break
		}
		l.State.SubscribeError = statusError("subscribe to telemetry", resp).Error()
		l.State.TelemetryUnavailable = errType == apiwire.ErrorTypeTelemetryNotSupported
	}
	if l.api.closing {
		// The server closed the connection after its answer to the
		// subscription, leaving the /event/next behind it unread: ask
		// again on a new connection.
		return next()
	}
	return nil
}

// listen binds addr and returns the descriptor to hand over and the bound
// port, or NoFD and why it could not.
func (l *Launch) listen(n *names, addr string) (fd, port int, err error) {
	if addr == "" {
		return handoff.NoFD, 0, nil
	}
	ap, err := n.addrPortOf(addr)
	if err != nil {
		return handoff.NoFD, 0, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if fd, port, err = listenFD(ap); err != nil {
		return handoff.NoFD, 0, err
	}
	l.listeners = append(l.listeners, fd)
	return fd, port, nil
}

// listenAt is where the telemetry listener binds and the host name put in
// the subscription URI.
type listenAt struct{ bind, uri string }

// listenHost picks where the telemetry listener binds: host when set,
// otherwise sandbox.localdomain's address in the hosts file. found is
// false when only a lookup can tell (see lookupSandbox).
func (n *names) listenHost(host string) (at listenAt, found bool) {
	if host != "" {
		return listenAt{host, host}, true
	}
	if a, ok := n.file().lookup(SandboxHost); ok {
		return listenAt{a.String(), SandboxHost}, true
	}
	return listenAt{}, false
}

// lookupSandbox asks the resolver for sandbox.localdomain; where it has no
// answer, the listener binds the loopback address.
func lookupSandbox() listenAt {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	if addrs, err := net.DefaultResolver.LookupHost(ctx, SandboxHost); err == nil && len(addrs) > 0 {
		return listenAt{addrs[0], SandboxHost}
	}
	return listenAt{"127.0.0.1", "127.0.0.1"}
}

// withoutHandoff drops a handoff variable inherited from elsewhere.
func withoutHandoff(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, handoff.Env+"=") && !strings.HasPrefix(kv, handoff.ReportEnv+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// Idle keeps the registered extension alive without the agent, so that a
// missing or broken agent never fails the function: it closes the
// listeners (a function's export is then refused at once instead of
// waiting for an agent that never comes; call RelayProxy first for the
// Runtime API proxy's port), answers every event with the next
// /event/next and returns at SHUTDOWN (or when the API connection fails).
func (l *Launch) Idle() error {
	l.closeListeners()
	for {
		resp, err := l.api.read()
		if err != nil {
			return fmt.Errorf("wait for the next event: %w", err)
		}
		if resp.status/100 != 2 {
			return statusError("wait for the next event", resp)
		}
		if strings.Contains(strings.ToUpper(string(resp.body)), `"SHUTDOWN"`) {
			return nil
		}
		if err := l.api.send("GET", apiwire.PathNext, nil, apiwire.HeaderIdentifier, l.State.ExtensionID); err != nil {
			return fmt.Errorf("ask for the next event: %w", err)
		}
	}
}

// prepareEarly makes the pipe that passes the function's early exports on
// to the agent and the listeners that will take them (see early.go).
// Without a pipe nothing is answered early: the exports wait for the
// agent.
func (l *Launch) prepareEarly() {
	if l.early != nil || (l.State.OTLPHTTPFD == handoff.NoFD && l.State.OTLPGRPCFD == handoff.NoFD) {
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	e, err := prepareEarly(l.State.OTLPHTTPFD, l.State.OTLPGRPCFD, w)
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return
	}
	l.early, l.earlyR = e, r
	l.State.EarlyFD = int(r.Fd())
}

// serveEarly starts answering the function's OTLP exports (see early.go),
// preparing it first when that was not done.
func (l *Launch) serveEarly() {
	l.prepareEarly()
	if l.early != nil && !l.early.started {
		l.early.start()
	}
}

// StopEarly stops answering exports early when no agent will take them
// (it could not be started) and returns what was answered and lost, for
// the log.
func (l *Launch) StopEarly() (lost, lostBytes int64) {
	if l.early == nil {
		return 0, 0
	}
	if l.earlyR != nil {
		// No reader: what is left to pass on fails at once, and counts.
		_ = l.earlyR.Close()
		l.earlyR, l.State.EarlyFD = nil, handoff.NoFD
	}
	l.early.stop()
	l.early.wg.Wait()
	return l.early.lost.Load(), l.early.lostBytes.Load()
}

// Close releases the descriptors, the relay of the proxy's port and the
// API connection.
func (l *Launch) Close() {
	if l.early != nil {
		if l.earlyR != nil {
			_ = l.earlyR.Close()
			l.earlyR, l.State.EarlyFD = nil, handoff.NoFD
		}
		l.early.stop()
	}
	l.closeListeners()
	if l.relay != nil {
		_ = l.relay.Close()
	}
	for _, ln := range l.drains {
		_ = ln.Close()
	}
	l.drains = nil
	if l.api != nil {
		_ = l.api.c.Close()
	}
}

// closeListeners closes the bound descriptors.
func (l *Launch) closeListeners() {
	for _, fd := range l.listeners {
		_ = syscall.Close(fd)
	}
	l.listeners = nil
}

// FindAgent returns the agent's path for a launcher at exe
// (/opt/extensions/lambdascope → /opt/lambdascope/lambdascope-extension),
// or an error naming the path when it is not an executable file.
func FindAgent(exe string) (string, error) {
	path := filepath.Join(filepath.Dir(filepath.Dir(exe)), filepath.FromSlash(extension.AgentPath))
	info, err := os.Stat(path)
	if err != nil {
		return path, fmt.Errorf("find the agent: %w", err)
	}
	if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return path, fmt.Errorf("find the agent: %s is not an executable file", path)
	}
	return path, nil
}
