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

// hostsFile maps a host name to its first address in the hosts file,
// IPv4 preferred (as package net prefers it for a listener).
type hostsFile map[string]netip.Addr

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
	return parseHosts(data)
}

// parseHosts parses hosts-file lines: an address, then names, and
// comments from '#'.
func parseHosts(data []byte) hostsFile {
	h := hostsFile{}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(string(f[0]))
		if err != nil || addr.Zone() != "" {
			continue
		}
		addr = addr.Unmap()
		for _, name := range f[1:] {
			n := string(bytes.ToLower(name))
			if old, ok := h[n]; !ok || (old.Is6() && addr.Is4()) {
				h[n] = addr
			}
		}
	}
	return h
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
	if lower(host) == "localhost" {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	if a, ok := n.file()[lower(host)]; ok {
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

// lower is strings.ToLower for the ASCII host names of a hosts file.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
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
