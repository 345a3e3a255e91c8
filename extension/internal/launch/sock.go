package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The launcher's sockets are plain blocking descriptors made with system
// calls rather than package net's: every piece of code a process runs for
// the first time costs it page faults, and package net's poller, resolver
// and connection types are most of what the launcher would run before its
// first /event/next. Package net remains for what the fast path does not
// cover (a host name that is not in the hosts file).

// HostsPath is the hosts file names are looked up in first.
const HostsPath = "/etc/hosts"

// maxHosts bounds what is read of a hosts file.
const maxHosts = 1 << 20

// lookupTimeout bounds a name lookup that the hosts file cannot answer.
const lookupTimeout = 50 * time.Millisecond

// hostsFile is the text of a hosts file: an address, then names, on each
// line, and comments from '#'. Names are looked up in the text itself,
// without building a table: the launcher wants one or two of them.
type hostsFile []byte

// readHosts reads a hosts file (its first MiB); an unreadable file is an
// empty map. It reads with system calls rather than package os, whose
// file machinery would be code run for this alone.
func readHosts(path string) hostsFile {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	data := make([]byte, 0, 4096)
	for len(data) < maxHosts {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := syscall.Read(fd, data[len(data):cap(data)])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			break
		}
		data = data[:len(data)+n]
	}
	return hostsFile(data)
}

// lookup returns the first address the file gives name (any case),
// IPv4 preferred, as package net prefers it for a listener.
func (h hostsFile) lookup(name string) (netip.Addr, bool) {
	var found netip.Addr
	for rest := []byte(h); len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		addrField, line := nextField(line)
		if len(addrField) == 0 {
			continue
		}
		for {
			var f []byte
			if f, line = nextField(line); len(f) == 0 {
				break
			}
			if !equalFold(f, name) {
				continue
			}
			a, err := netip.ParseAddr(string(addrField))
			if err != nil || a.Zone() != "" {
				break
			}
			if a = a.Unmap(); a.Is4() {
				return a, true
			}
			if !found.IsValid() {
				found = a
			}
			break
		}
	}
	return found, found.IsValid()
}

// nextField returns the first field of a line (split at spaces and tabs)
// and what follows it.
func nextField(line []byte) (field, rest []byte) {
	start := 0
	for start < len(line) && (line[start] == ' ' || line[start] == '\t' || line[start] == '\r') {
		start++
	}
	end := start
	for end < len(line) && line[end] != ' ' && line[end] != '\t' && line[end] != '\r' {
		end++
	}
	return line[start:end], line[end:]
}

// equalFold compares ASCII host names without regard to case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// names resolves host names: address literals, localhost, the hosts
// file (read when a name first needs it), and last DNS through package
// net.
type names struct {
	path  string
	hosts hostsFile
	read  bool
}

// file returns the hosts file, reading it on first use.
func (n *names) file() hostsFile {
	if !n.read {
		n.hosts, n.read = readHosts(n.path), true
	}
	return n.hosts
}

// addrOf resolves a host. localhost is 127.0.0.1 without reading the
// hosts file: the address package net binds for it too.
func (n *names) addrOf(host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	if strings.EqualFold(host, "localhost") {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	if a, ok := n.file().lookup(host); ok {
		return a, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	best := addrs[0]
	for _, a := range addrs {
		if a.Unmap().Is4() {
			best = a
			break
		}
	}
	return best.Unmap(), nil
}

// addrPortOf resolves host:port with a numeric port.
func (n *names) addrPortOf(hostport string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %s: port is not a number", hostport)
	}
	a, err := n.addrOf(host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// sockaddr converts an address for the socket calls.
func sockaddr(ap netip.AddrPort) (family int, sa syscall.Sockaddr) {
	if a := ap.Addr(); a.Is4() {
		return syscall.AF_INET, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	return syscall.AF_INET6, &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

// socket opens a close-on-exec TCP socket; Exec clears the flag on the
// descriptors it hands over.
func socket(family int) (int, error) {
	return syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
}

// listenFD binds and listens on ap and returns the descriptor and the
// bound port.
func listenFD(ap netip.AddrPort) (fd, port int, err error) {
	family, sa := sockaddr(ap)
	if fd, err = socket(family); err != nil {
		return -1, 0, fmt.Errorf("listen on %s: socket: %w", ap, err)
	}
	fail := func(what string, err error) (int, int, error) {
		_ = syscall.Close(fd)
		return -1, 0, fmt.Errorf("listen on %s: %s: %w", ap, what, err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return fail("set SO_REUSEADDR", err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := syscall.Listen(fd, 4096); err != nil {
		return fail("listen", err)
	}
	bound, err := syscall.Getsockname(fd)
	if err != nil {
		return fail("read the bound address", err)
	}
	switch b := bound.(type) {
	case *syscall.SockaddrInet4:
		port = b.Port
	case *syscall.SockaddrInet6:
		port = b.Port
	}
	return fd, port, nil
}

// dialFD connects to ap and returns a blocking descriptor.
func dialFD(ap netip.AddrPort) (int, error) {
	family, sa := sockaddr(ap)
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, syscall.IPPROTO_TCP)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := connect(fd, sa); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		_ = syscall.Close(fd)
		return -1, fmt.Errorf("make the connection blocking: %w", err)
	}
	// Requests go out in one write; answers must not wait for an ACK.
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	return fd, nil
}

// connectTimeout bounds the connection to the Lambda APIs.
const connectTimeout = 5 * time.Second

// connect connects a non-blocking socket, waiting for it to finish.
func connect(fd int, sa syscall.Sockaddr) error {
	err := syscall.Connect(fd, sa)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EINPROGRESS) && !errors.Is(err, syscall.EINTR) {
		return err
	}
	deadline := time.Now().Add(connectTimeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("connect: timed out after %s", connectTimeout)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if errors.Is(err, syscall.EINTR) || (err == nil && n == 0) {
			continue
		}
		if err != nil {
			return fmt.Errorf("connect: wait: %w", err)
		}
		soErr, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		if soErr != 0 {
			return syscall.Errno(soErr)
		}
		return nil
	}
}

// fdConn is a connected blocking socket.
type fdConn int

func (c fdConn) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(c), p)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (c fdConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := syscall.Write(int(c), p[written:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return written, err
		}
		written += n
	}
	return written, nil
}

func (c fdConn) Close() error { return syscall.Close(int(c)) }
