package launch

import (
	"syscall"
	"time"
	"unsafe"

	"github.com/lambdascope/lambdascope/extension/internal/handoff"
)

// AgentHold is how long, at most, the launcher waits after the first
// /event/next before it starts the agent, unless the agent is needed
// sooner (see AwaitNeed).
//
// The agent's start (exec of a 12 MB program, the Go runtime's start,
// the initialisation of about 160 packages: 15–20 ms of CPU here) would
// otherwise begin the moment the first /event/next is sent, exactly when
// a function that exports at once has its first export answered by the
// launcher (early.go), and on a machine with few cores it takes the CPU
// from that answer. Held back this long, an export sent in the first
// milliseconds after the extension's init is answered without it.
const AgentHold = 5 * time.Millisecond

// AgentHoldInvoke is the hold where the extension is registered for
// INVOKE (on-demand functions): there the INVOKE itself says when the
// agent is needed. An agent started during the function's init takes
// the CPU from it, and a cold invocation's caller waits for that init;
// started with the INVOKE, its start shares the CPU with the invocation
// instead, most of it after the function's response (which the launcher's
// early answers to its exports do not hold). A runtime whose init takes
// longer has the agent started beside it after this long, so that what
// the launcher holds for the agent (exports, telemetry pushes) does not
// wait long. Under Managed Instances no INVOKE comes, and AgentHold
// applies.
const AgentHoldInvoke = 100 * time.Millisecond

// Hold is how long AwaitNeed should wait for a need: AgentHoldInvoke when
// the extension is registered for INVOKE, AgentHold otherwise.
func (l *Launch) Hold() time.Duration {
	if l.invokes {
		return AgentHoldInvoke
	}
	return AgentHold
}

// Why AwaitNeed returned.
const (
	NeedEvent = "event" // the Extensions API sent an event (or closed)
	NeedProxy = "proxy" // the runtime called the Runtime API proxy
	NeedTime  = "time"  // the hold ran out
)

// AwaitNeed waits, at most d, until the agent is needed, and says why it
// returned: an event arrived on the /event/next connection (an INVOKE,
// or a SHUTDOWN whose deadline runs), or the runtime connected to the
// Runtime API proxy's port (its first call waits for the agent). Exports
// do not end the wait: the launcher answers them itself until the agent
// serves. Nothing is read: what arrived stays for the agent.
func (l *Launch) AwaitNeed(d time.Duration) string {
	if len(l.State.NextRead) > 0 {
		return NeedEvent
	}
	var fds []pollFD
	if l.State.NextFD != handoff.NoFD {
		fds = append(fds, pollFD{fd: int32(l.State.NextFD), events: pollIn})
	}
	if l.State.ProxyFD != handoff.NoFD {
		fds = append(fds, pollFD{fd: int32(l.State.ProxyFD), events: pollIn})
	}
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return NeedTime
		}
		if len(fds) == 0 {
			time.Sleep(left)
			return NeedTime
		}
		n, err := ppoll(fds, left)
		switch {
		case err == syscall.EINTR || (err == nil && n == 0):
			continue // interrupted, or the time ran out: looked at above
		case err != nil:
			return NeedTime // a poll that fails cannot tell: start now
		}
		for _, p := range fds {
			if p.revents != 0 && int(p.fd) == l.State.ProxyFD {
				return NeedProxy
			}
		}
		return NeedEvent
	}
}

// pollFD is Linux's struct pollfd.
type pollFD struct {
	fd      int32
	events  int16
	revents int16
}

// pollIn is POLLIN.
const pollIn = 0x1

// ppoll waits up to d until one of fds is ready and returns how many are.
func ppoll(fds []pollFD, d time.Duration) (int, error) {
	ts := syscall.NsecToTimespec(int64(d))
	n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)),
		uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
