package launch

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/extapi/apiwire"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
)

// The launcher starts the agent as its child rather than becoming it, and
// stays, parked in wait4, so that the agent cannot take the function down:
// when the agent ends without having said that it stops (a crash, a panic,
// the kernel's OOM killer), the launcher takes over what the function
// depends on. It still holds its copies of the listening sockets, so no
// port is ever closed: the Runtime API proxy's port is relayed to the real
// Runtime API (as when the agent cannot be started at all), the OTLP ports
// and the telemetry listener are answered with success and what they
// carried is counted as dropped, and the extension keeps following the
// Extensions API's events until SHUTDOWN, so that Lambda sees a healthy
// extension. Nothing is shipped after that: the agent's buffers died with
// it.

// Child is the agent, started as the launcher's child.
type Child struct {
	Pid int
	// early answers the function's first OTLP/HTTP exports while the
	// agent starts; nil when there is no OTLP/HTTP port.
	early *early
	// notes is closed when the watch pipe ends (the agent is gone);
	// stopping is then set when the agent wrote handoff.ShutdownNote.
	notes    chan struct{}
	stopping atomic.Bool
}

// Spawn starts the agent at path as a child process handing it the
// listeners, the pending /event/next, the write end of a watch pipe and
// the read end of the pipe of early exports, at the same descriptor
// numbers. The launcher keeps its copies of the listeners (for a takeover,
// see Watch), answers the function's OTLP/HTTP exports until the agent
// serves them (see early.go), and gives up its copy of the /event/next
// connection, which is the agent's now.
func (l *Launch) Spawn(path string, args, env []string) (*Child, error) {
	watchR, watchW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start the agent %s: watch pipe: %w", path, err)
	}
	defer watchW.Close()
	l.State.WatchFD = int(watchW.Fd())
	defer func() { l.State.WatchFD = handoff.NoFD }()
	pass := []int{l.State.NextFD, l.State.TelemetryFD, l.State.OTLPHTTPFD, l.State.OTLPGRPCFD, l.State.ProxyFD,
		l.State.WatchFD, l.State.EarlyFD}
	top := 2
	for _, fd := range pass {
		top = max(top, fd)
	}
	// The child gets standard input, output and error and the handed-over
	// descriptors at their own numbers; every other one is closed.
	files := make([]uintptr, top+1)
	for i := range files {
		files[i] = ^uintptr(0) // -1: closed in the child
	}
	files[0], files[1], files[2] = 0, 1, 2
	for _, fd := range pass {
		if fd != handoff.NoFD {
			files[fd] = uintptr(fd)
		}
	}
	env = append(withoutHandoff(env), handoff.Env+"="+l.State.Encode())
	c := &Child{notes: make(chan struct{}), early: l.early}
	pid, err := syscall.ForkExec(path, append([]string{path}, args...), &syscall.ProcAttr{
		Env:   env,
		Files: files,
		// When the launcher is killed the agent is told to stop (it
		// flushes within a second), rather than live on unwatched.
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM},
	})
	if err != nil {
		_ = watchR.Close()
		return nil, fmt.Errorf("start the agent %s: %w", path, err)
	}
	// The read end of the early exports' pipe is the agent's.
	if l.earlyR != nil {
		_ = l.earlyR.Close()
		l.earlyR, l.State.EarlyFD = nil, handoff.NoFD
	}
	// The /event/next connection is the agent's: the launcher's own calls,
	// if it takes over, go on a new one.
	_ = l.api.c.Close()
	l.api.c = -1
	l.api.closing = true
	c.Pid = pid
	go c.readNotes(watchR)
	return c, nil
}

// readNotes reads what the agent says on the watch pipe until it ends.
func (c *Child) readNotes(r *os.File) {
	defer close(c.notes)
	defer r.Close()
	buf := make([]byte, 16)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			switch b {
			case handoff.ShutdownNote:
				c.stopping.Store(true)
			case handoff.ServingNote:
				if c.early != nil {
					c.early.stop()
				}
				// From here on the launcher only waits.
				releasePages()
			}
		}
		if err != nil {
			return
		}
	}
}

// Outcome is how the agent ended.
type Outcome struct {
	// Status is the agent's wait status.
	Status syscall.WaitStatus
	// Stopping is true when the agent said it stops on purpose, or the
	// launcher passed it a signal to stop.
	Stopping bool
}

// ExitCode is the launcher's exit code for an agent that stopped: the
// agent's own, or 1 when a signal ended it.
func (o Outcome) ExitCode() int {
	if o.Status.Exited() {
		return o.Status.ExitStatus()
	}
	return 1
}

// String describes the end in a few words ("exit status 2", "killed by
// signal killed").
func (o Outcome) String() string {
	switch {
	case o.Status.Exited():
		return "exit status " + strconv.Itoa(o.Status.ExitStatus())
	case o.Status.Signaled():
		return "killed by signal " + o.Status.Signal().String()
	}
	return "wait status " + strconv.Itoa(int(o.Status))
}

// Wait waits for the agent to end, passing SIGTERM and SIGINT on to it, and
// says whether it stopped on purpose.
func (c *Child) Wait() Outcome {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	var signalled atomic.Bool
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case s := <-sigs:
				signalled.Store(true)
				_ = syscall.Kill(c.Pid, s.(syscall.Signal))
			case <-stop:
				return
			}
		}
	}()
	var o Outcome
	for {
		_, err := syscall.Wait4(c.Pid, &o.Status, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if c.early != nil {
		c.early.stop()
	}
	// The agent is gone, so is the pipe's write end: what it wrote is
	// read, then the end of file.
	select {
	case <-c.notes:
	case <-time.After(time.Second):
		// Only a process the agent started could hold the pipe open.
	}
	o.Stopping = signalled.Load() || c.stopping.Load()
	return o
}

// Takeover is what the launcher serves after the agent ended unexpectedly;
// its counters say what was dropped.
type Takeover struct {
	l     *Launch
	child *Child
	drops drops
	// invocations counts the invocations that ran without the agent: the
	// events the launcher received in its place, and the one the dead
	// agent's parked /event/next took (takenByDead).
	invocations int
	// takenByDead is 1 when the dead agent's parked call took an
	// invocation's event (see Events).
	takenByDead int
	// deadline is the SHUTDOWN event's deadline, once Events returned.
	deadline time.Time
}

// TakeOver serves the ports the function depends on in the agent's place:
// the Runtime API proxy's port relayed to the real Runtime API, the OTLP
// ports and the telemetry listener answered, their data counted as dropped.
// Then call Events. The errors are of the parts that could not be served;
// the rest are.
func (l *Launch) TakeOver(c *Child) (*Takeover, error) {
	t := &Takeover{l: l, child: c}
	var errs []error
	if err := l.RelayProxy(); err != nil {
		errs = append(errs, err)
	}
	for _, p := range []struct {
		fd    *int
		what  string
		serve func(net.Conn, *drops)
	}{
		{&l.State.OTLPHTTPFD, "OTLP/HTTP", drainHTTP(kindOTLP)},
		{&l.State.OTLPGRPCFD, "OTLP/gRPC", drainGRPC},
		{&l.State.TelemetryFD, "telemetry", drainHTTP(kindTelemetry)},
	} {
		if *p.fd == handoff.NoFD {
			continue
		}
		ln, err := l.netListener(*p.fd, p.what+" listener")
		*p.fd = handoff.NoFD
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.drains = append(l.drains, ln)
		go acceptLoop(ln, func(c net.Conn) { p.serve(c, &t.drops) })
	}
	return t, errors.Join(errs...)
}

// netListener turns a bound descriptor into a listener; the descriptor is
// closed (the listener holds a copy).
func (l *Launch) netListener(fd int, what string) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), what)
	ln, err := net.FileListener(f)
	_ = f.Close()
	l.forget(fd)
	if err != nil {
		return nil, fmt.Errorf("serve the %s: %w", what, err)
	}
	return ln, nil
}

// acceptLoop accepts connections until ln is closed, serving each in a
// goroutine of its own.
func acceptLoop(ln net.Listener, serve func(net.Conn)) {
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or memory: wait a little longer each
			// time instead of spinning, as net/http's server does.
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		go serve(c)
	}
}

// Events follows the Extensions API's events in the agent's place, on a new
// connection, until SHUTDOWN. An agent that died waiting for an event
// leaves its call parked in the API, which refuses another one (403)
// until that call has taken the next event: the launcher asks again,
// at growing intervals of at most maxNextRetry, so that the invocation
// that event starts ends as soon as the runtime has answered. That
// invocation runs (the runtime gets its event), but its event went to the
// dead call: the launcher counts it once SHUTDOWN comes to it, which shows
// that the event taken was an INVOKE. Should the parked call take
// SHUTDOWN, the launcher never learns of it, and Lambda ends it at the
// shutdown deadline.
func (t *Takeover) Events() error {
	l := t.l
	var pause time.Duration
	refused := false
	for {
		if err := l.api.send("GET", apiwire.PathNext, nil, apiwire.HeaderIdentifier, l.State.ExtensionID); err != nil {
			return fmt.Errorf("ask for the next event: %w", err)
		}
		resp, err := l.api.read()
		if err != nil {
			return fmt.Errorf("wait for the next event: %w", err)
		}
		if resp.status == 403 {
			refused = true
			pause = min(max(2*pause, time.Millisecond), maxNextRetry)
			time.Sleep(pause)
			continue
		}
		pause = 0
		if resp.status/100 != 2 {
			return statusError("wait for the next event", resp)
		}
		if strings.Contains(strings.ToUpper(string(resp.body)), `"SHUTDOWN"`) {
			t.deadline = deadlineOf(resp.body)
			if refused {
				// The refusals ended when the dead agent's parked call
				// took an event, and it was not SHUTDOWN, which came
				// here: an invocation ran that the launcher saw no event
				// of.
				t.takenByDead = 1
			}
			// The dead call may also have taken the event before the
			// launcher asked (no refusal then): the runtime's answers,
			// relayed, count every invocation it was handed.
			if relayed := int(l.relayedEvents.Load()); relayed > t.invocations+t.takenByDead {
				t.takenByDead = relayed - t.invocations
			}
			t.invocations += t.takenByDead
			return nil
		}
		t.invocations++
	}
}

// maxNextRetry bounds the wait between two calls to /event/next while the
// API refuses them (see Takeover.Events): the refusals may last until the
// next event, so the calls are kept to 20 a second, and the invocation
// that event starts ends at most this much later.
const maxNextRetry = 50 * time.Millisecond

// Counts returns what the takeover dropped, as key=value pairs for a log
// line.
func (t *Takeover) Counts() string {
	d := &t.drops
	var lost, lostBytes int64
	if t.child != nil && t.child.early != nil {
		lost, lostBytes = t.child.early.lost.Load(), t.child.early.lostBytes.Load()
	}
	return "invocations_without_agent=" + strconv.Itoa(t.invocations) +
		" invocations_to_dead_agent=" + strconv.Itoa(t.takenByDead) +
		" early_exports_lost=" + strconv.FormatInt(lost, 10) +
		" early_bytes_lost=" + strconv.FormatInt(lostBytes, 10) +
		" otlp_requests_dropped=" + strconv.FormatInt(d.otlpRequests.Load(), 10) +
		" otlp_bytes_dropped=" + strconv.FormatInt(d.otlpBytes.Load(), 10) +
		" telemetry_pushes_dropped=" + strconv.FormatInt(d.telemetryPushes.Load(), 10) +
		" telemetry_bytes_dropped=" + strconv.FormatInt(d.telemetryBytes.Load(), 10)
}

// deadlineOf reads the deadlineMs of a SHUTDOWN event without decoding
// JSON; a second from now when it has none.
func deadlineOf(body []byte) time.Time {
	_, rest, ok := strings.Cut(string(body), `"deadlineMs"`)
	if ok {
		rest = strings.TrimLeft(rest, " \t\r\n:")
		end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			end = len(rest)
		}
		if ms, err := strconv.ParseInt(rest[:end], 10, 64); err == nil && ms > 0 {
			return time.UnixMilli(ms)
		}
	}
	return time.Now().Add(time.Second)
}

// takeover returns what the takeover counted.
func (t *Takeover) takeover(agentEnd string) handoff.Takeover {
	d := &t.drops
	r := handoff.Takeover{
		Registration: t.l.State.Registration, Started: t.l.State.Started, Deadline: t.deadline,
		AgentEnd: agentEnd, Invocations: int64(t.invocations),
		OTLPRequests: d.otlpRequests.Load(), OTLPBytes: d.otlpBytes.Load(),
		TelemetryPushes: d.telemetryPushes.Load(), TelemetryBytes: d.telemetryBytes.Load(),
	}
	if t.child != nil && t.child.early != nil {
		r.EarlyLost, r.EarlyLostBytes = t.child.early.lost.Load(), t.child.early.lostBytes.Load()
	}
	if r.Deadline.IsZero() {
		r.Deadline = time.Now().Add(time.Second)
	}
	return r
}

// Report starts the agent at path once more, after SHUTDOWN, with what
// the takeover counted (handoff.ReportEnv), so that it ships the counts to
// the collector as the agent's own drop counters are shipped, and waits
// for it until the SHUTDOWN deadline, when it is killed. The agent that
// died had the only connection to the collector; the launcher links no
// gRPC. agentEnd says how that agent ended.
func (t *Takeover) Report(path string, env []string, agentEnd string) error {
	r := t.takeover(agentEnd)
	env = append(withoutHandoff(env), handoff.ReportEnv+"="+r.Encode())
	p, err := os.StartProcess(path, []string{path}, &os.ProcAttr{Env: env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		return fmt.Errorf("start the agent to report the takeover: %w", err)
	}
	type result struct {
		st  *os.ProcessState
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := p.Wait()
		done <- result{st, err}
	}()
	timer := time.NewTimer(time.Until(r.Deadline.Add(-50 * time.Millisecond)))
	defer timer.Stop()
	select {
	case res := <-done:
		if res.err != nil {
			return fmt.Errorf("report the takeover: %w", res.err)
		}
		if !res.st.Success() {
			return fmt.Errorf("report the takeover: the agent ended with %s", res.st)
		}
		return nil
	case <-timer.C:
		_ = p.Kill()
		<-done
		return errors.New("report the takeover: the agent did not finish before the shutdown deadline")
	}
}
