package launch

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/lambdascope/lambdascope/extension/internal/handoff"
)

// proxyAddr is where the Runtime API proxy listens: a loopback port of
// the system's choosing.
const proxyAddr = "127.0.0.1:0"

// bindProxy binds the Runtime API proxy's port and announces it for the
// exec wrapper, as the agent's rtproxy.Announce does: "<addr> <pid>\n",
// written to a temporary file renamed over path. The process ID is the
// launcher's, which outlives the agent (it takes over the port when the
// agent ends unexpectedly). A failure is
// recorded in the State; the agent then binds and announces the proxy
// itself, too late for a runtime that has started by then.
func (l *Launch) bindProxy(n *names, path string) {
	fd, port, err := l.listen(n, proxyAddr)
	if err == nil {
		err = announce(path, "127.0.0.1:"+strconv.Itoa(port), syscall.Getpid())
		if err != nil {
			l.dropListener(fd)
		}
	}
	if err != nil {
		l.State.ProxyError = err.Error()
		return
	}
	l.State.ProxyFD, l.announced = fd, path
}

// announce writes the announcement with system calls (see sock.go).
func announce(path, addr string, pid int) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"-"+strconv.Itoa(pid))
	fd, err := syscall.Open(tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("announce the runtime API proxy: %w", err)
	}
	_, werr := fdConn(fd).Write([]byte(addr + " " + strconv.Itoa(pid) + "\n"))
	if cerr := syscall.Close(fd); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = syscall.Rename(tmp, path)
	}
	if werr != nil {
		_ = syscall.Unlink(tmp)
		return fmt.Errorf("announce the runtime API proxy: %w", werr)
	}
	return nil
}

// unannounce removes the announcement, so that a runtime that has not
// started yet runs against the real Runtime API.
func (l *Launch) unannounce() {
	if l.announced != "" {
		_ = syscall.Unlink(l.announced)
		l.announced = ""
	}
}

// dropListener closes one of the bound descriptors.
func (l *Launch) dropListener(fd int) {
	l.forget(fd)
	_ = syscall.Close(fd)
}

// RelayProxy serves the Runtime API proxy's port, when the launcher bound
// it, as a plain relay to the real Runtime API, for when the agent cannot
// be started: the wrapper may have pointed the runtime at the port
// already, and it keeps it for the environment's life. Each connection is
// copied byte for byte both ways, without reading HTTP, until either side
// closes. An error means the port could not be served; the announcement
// is then removed and the port closed.
func (l *Launch) RelayProxy() error {
	fd := l.State.ProxyFD
	if fd == handoff.NoFD {
		return nil
	}
	f := os.NewFile(uintptr(fd), "runtime API proxy listener")
	ln, err := net.FileListener(f) // a copy of the descriptor
	_ = f.Close()
	l.forget(fd)
	l.State.ProxyFD = handoff.NoFD
	if err != nil {
		l.unannounce()
		return fmt.Errorf("relay the runtime API proxy's port: %w", err)
	}
	l.relay = ln
	upstream := net.TCPAddrFromAddrPort(l.api.addr)
	go acceptLoop(ln, func(c net.Conn) {
		if tc, ok := c.(*net.TCPConn); ok {
			relayConn(tc, upstream, &l.relayedEvents)
		} else {
			_ = c.Close()
		}
	})
	return nil
}

// eventCounter reads the Runtime API's answers as they are relayed to the
// runtime, without holding them up, and counts those that hand it an
// invocation (they carry Lambda-Runtime-Aws-Request-Id): the invocations
// that ran through the relay. It reads each answer's head and skips its
// body by Content-Length; on anything else (a chunked answer, a head
// larger than it keeps) it stops counting.
type eventCounter struct {
	n       *atomic.Int64
	head    []byte
	skip    int64 // body bytes still to pass
	stopped bool
}

// maxHead bounds the answer head the counter keeps.
const maxHead = 16 << 10

func (e *eventCounter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !e.stopped {
		if e.skip > 0 {
			k := min(int64(len(p)), e.skip)
			e.skip -= k
			p = p[k:]
			continue
		}
		kept := len(e.head)
		e.head = append(e.head, p...)
		// The blank line may straddle two reads: look from the end of what
		// was kept.
		from := max(0, kept-3)
		end := bytes.Index(e.head[from:], []byte("\r\n\r\n"))
		if end < 0 {
			if len(e.head) > maxHead {
				e.stopped = true
			}
			break
		}
		end += from + 4
		p = p[end-kept:]
		e.head = e.head[:end]
		e.answer()
	}
	return n, nil
}

// answer reads one answer head, kept in e.head.
func (e *eventCounter) answer() {
	head := e.head
	e.head = e.head[:0]
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch {
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Lambda-Runtime-Aws-Request-Id")):
			e.n.Add(1)
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")):
			n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
			if err != nil || n < 0 {
				e.stopped = true
			}
			e.skip = n
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Transfer-Encoding")):
			e.stopped = true
		}
	}
}

// forget removes fd from the descriptors Close closes (it is closed
// already).
func (l *Launch) forget(fd int) {
	for i, x := range l.listeners {
		if x == fd {
			l.listeners = append(l.listeners[:i], l.listeners[i+1:]...)
			return
		}
	}
}

// relayConn copies a runtime's connection to the Runtime API and back.
// When the API cannot be reached the runtime's connection is closed, as
// the API's would have been refused.
// The answers are counted on their way (eventCounter) into events.
func relayConn(c *net.TCPConn, upstream *net.TCPAddr, events *atomic.Int64) {
	defer c.Close()
	u, err := net.DialTCP("tcp", nil, upstream)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(u, c)
		_ = u.CloseWrite()
	}()
	count := &eventCounter{n: events}
	buf := make([]byte, 32<<10)
	for {
		n, err := u.Read(buf)
		if n > 0 {
			_, _ = count.Write(buf[:n])
			if _, werr := c.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = c.CloseWrite()
	<-done
}
