//go:build linux && (race || !(amd64 || arm64))

package rtproxy

import "syscall"

// Under the race detector, reads and writes go through the syscall
// package's functions, which tell the detector that what one goroutine
// wrote to a descriptor happened before another read it (raw system
// calls do not, and bytes passed through sockets would show as races).
// Only the kind of system call differs from the build without it. The
// architectures Lambda does not run (neither x86_64 nor arm64) take these
// too: some have no SYS_RECVFROM or SYS_SENDTO of their own.

func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return max(n, 0), errnoOf(err)
}

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	return max(n, 0), errnoOf(err)
}

// sysWritev writes a and then b, one write each (the detector's
// syscall.Write): what reaches the peer is the same, in two pieces.
func sysWritev(fd uintptr, a, b []byte) (int, syscall.Errno) {
	n, errno := sysWrite(fd, a)
	if errno != 0 || n < len(a) {
		return n, errno
	}
	m, errno := sysWrite(fd, b)
	if errno != 0 {
		return n, 0 // a was written; the next call meets the error again
	}
	return n + m, 0
}

// sysSendMore is sysWrite (the detector's syscall.Write), without
// MSG_MORE: the peer gets the same bytes, perhaps in one more piece.
func sysSendMore(fd uintptr, p []byte) (int, syscall.Errno) {
	return sysWrite(fd, p)
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	return syscall.EIO
}

func peek(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN
}
