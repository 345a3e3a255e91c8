//go:build unix && !linux

package rtproxy

import "syscall"

// peek says a read of the socket fd would not wait, without taking a
// byte.
func peek(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
}
