package rtproxy

import (
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// waker wakes the goroutine making the Observer calls (see observeLoop)
// when an observation is queued. Woken through a channel, a goroutine
// waiting is made ready by the relay's goroutine, and with more than one
// processor (GOMAXPROCS) the Go scheduler then wakes a second thread to
// run it (a futex wake, that thread spinning and stealing it, then going
// back to sleep): twice per invocation (in BenchmarkRelayLatency the
// proxy process's CPU was 0.67 of the direct calls' at 1 KiB with it,
// 0.53 with the eventfd below). With more than one processor
// the goroutine waits on an eventfd through the network poller instead:
// the relay writes 8 bytes to it (one system call, made only when the
// goroutine waits), and the thread that relayed finds the goroutine ready
// when it next polls, as its relay goroutine waits for the next call,
// and runs it itself. The eventfd is never read: each write signals once
// (edge-triggered), and its counter cannot fill. With one processor the
// channel wakes no other thread, and costs less than the system call: the
// goroutine waits on the channel (GOMAXPROCS is looked at before each
// wait, as the runtime may change it).
type waker struct {
	q chan observation
	// fd is the eventfd, -1 when none could be made; poll says the
	// goroutine waits on it (else on the channel, which then wakes it).
	fd   int
	f    *os.File
	rc   syscall.RawConn
	poll bool
	// waiting says the goroutine waits, or is about to, on the eventfd;
	// closed that the queue is closed.
	waiting, closed atomic.Bool
	// polled says the wait has looked at the queue once; ready is the
	// wait's check, made once so that a wait allocates nothing.
	polled bool
	ready  func(uintptr) bool
	// beforeWait, when set (by tests), is called just before a wait.
	beforeWait func()
}

// eventOne is what a signal adds to the eventfd's counter.
var eventOne uint64 = 1

func newWaker(q chan observation) *waker {
	w := &waker{q: q, fd: -1}
	fd, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return w
	}
	f := os.NewFile(fd, "rtproxy-observer-wake")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return w
	}
	w.fd, w.f, w.rc, w.poll = int(fd), f, rc, true
	w.ready = func(uintptr) bool {
		if w.polled {
			return true // signalled (or woken for nothing: looked at again)
		}
		w.polled = true
		// A signal may have come before the wait began (its readiness is
		// then forgotten): its observation is queued already.
		return len(w.q) > 0 || w.closed.Load()
	}
	return w
}

// next returns the next observation, waiting for one; false once the
// queue is closed and empty.
func (w *waker) next() (observation, bool) {
	for {
		select {
		case o, ok := <-w.q:
			return o, ok
		default:
		}
		if !w.poll || runtime.GOMAXPROCS(0) == 1 {
			o, ok := <-w.q
			return o, ok
		}
		w.waiting.Store(true)
		select {
		case o, ok := <-w.q:
			w.waiting.Store(false)
			return o, ok
		default:
		}
		w.polled = false
		if w.beforeWait != nil {
			w.beforeWait()
		}
		err := w.rc.Read(w.ready)
		w.waiting.Store(false)
		if err != nil {
			// The poller failed the eventfd: wait on the channel from
			// now on (signal then does nothing: waiting stays false).
			w.poll = false
		}
	}
}

// signal wakes the goroutine if it waits on the eventfd. Called after an
// observation was queued.
func (w *waker) signal() {
	if !w.waiting.Load() || !w.waiting.CompareAndSwap(true, false) {
		return
	}
	// A raw system call: it cannot block, and it does not go through the
	// scheduler's system call entry (which wakes the runtime's monitor
	// thread when the process was idle).
	_, _, _ = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(w.fd), uintptr(unsafe.Pointer(&eventOne)), 8)
}

// closeQueue closes the queue and wakes the goroutine to see it.
func (w *waker) closeQueue() {
	w.closed.Store(true)
	close(w.q)
	w.signal()
}

// release closes the eventfd, once the goroutine returned.
func (w *waker) release() {
	if w.f != nil {
		_ = w.f.Close()
	}
}
