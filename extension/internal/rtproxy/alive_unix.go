//go:build unix

package rtproxy

import (
	"net"
	"syscall"
)

// alive says a connection kept idle is still open: nothing is waiting to
// be read on it (the platform sends nothing unasked) and the platform did
// not close it.
func alive(nc net.Conn) bool { return !readable(nc) }

// readable says a read on nc would not wait: bytes came, or the other
// side closed the connection. One system call, which neither waits nor
// takes the bytes.
func readable(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	open := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait for the socket to be readable
	})
	return err != nil || !open
}
