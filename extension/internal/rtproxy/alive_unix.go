//go:build unix

package rtproxy

import (
	"net"
	"syscall"
)

// peeker looks whether a read on a connection would not wait: bytes
// came, or the other side closed it. One system call, which neither
// waits nor takes the bytes; the connection's raw handle and the call
// are made once, so a look allocates nothing.
type peeker struct {
	rc       syscall.RawConn
	readable bool
	look     func(fd uintptr) bool
}

func newPeeker(nc net.Conn) *peeker {
	k := &peeker{}
	if sc, ok := nc.(syscall.Conn); ok {
		k.rc, _ = sc.SyscallConn()
	}
	k.look = func(fd uintptr) bool {
		k.readable = peek(fd)
		return true // never wait for the socket to be readable
	}
	return k
}

// alive says a connection kept idle is still open: nothing is waiting to
// be read on it (the platform sends nothing unasked) and the platform did
// not close it.
func (k *peeker) alive() bool { return !k.isReadable() }

// isReadable says a read would not wait.
func (k *peeker) isReadable() bool {
	if k.rc == nil {
		return false
	}
	if err := k.rc.Read(k.look); err != nil {
		return true
	}
	return k.readable
}
