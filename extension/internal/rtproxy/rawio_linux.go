package rtproxy

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawIO reads and writes a connection with raw system calls, through
// its poller's descriptor: a read or write that would wait still waits in
// the network poller (with the connection's deadlines), but one that
// does not goes straight to the kernel, without the scheduler's system
// call entry, which wakes the runtime's monitor thread (sysmon) whenever
// the process was idle: once per hop through the proxy.
type rawIO struct {
	rc syscall.RawConn
	// The buffer, count and error of the read, and of the write, under
	// way: a read and a write may be made at once.
	// wa and wb are what the write under way sends, one after the
	// other (wb may be empty).
	rp, wa, wb []byte
	rn, wn     int
	rerr       error
	werr       error
	// try says the write under way gives up, rather than waits, when the
	// socket takes no more (see tryWrite); rtry the same of the read
	// under way, when nothing came yet (see tryRead).
	try, rtry bool
	rd, wr    func(fd uintptr) bool
	// more says the write under way tells the kernel more follows at
	// once (see sendMore).
	more bool
	// The pipe, and the count, of the splice(2) under way into the pipe
	// (read side: rsfd, rsn) and out of one (write side: wsfd, wsn; the
	// count done is wn); si and so make them (see spliceBody).
	rsfd, rsn, wsfd, wsn int
	si, so               func(fd uintptr) bool
}

// newRawIO returns nc's raw reader and writer, or nc itself when it has
// no descriptor.
func newRawIO(nc net.Conn) io.ReadWriter {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc
	}
	r := &rawIO{rc: rc}
	r.rd = func(fd uintptr) bool {
		for {
			n, errno := sysRead(fd, r.rp)
			switch errno {
			case 0:
				r.rn = int(n)
				if n == 0 {
					r.rerr = io.EOF
				}
				return true
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return r.rtry
			}
			r.rerr = os.NewSyscallError("read", errno)
			return true
		}
	}
	r.wr = func(fd uintptr) bool {
		for r.wn < len(r.wa)+len(r.wb) {
			var n int
			var errno syscall.Errno
			switch {
			case r.wn < len(r.wa) && len(r.wb) > 0:
				n, errno = sysWritev(fd, r.wa[r.wn:], r.wb)
			case r.wn < len(r.wa) && r.more:
				n, errno = sysSendMore(fd, r.wa[r.wn:])
			case r.wn < len(r.wa):
				n, errno = sysWrite(fd, r.wa[r.wn:])
			default:
				n, errno = sysWrite(fd, r.wb[r.wn-len(r.wa):])
			}
			switch errno {
			case 0:
				r.wn += int(n)
				continue
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return r.try
			}
			r.werr = os.NewSyscallError("write", errno)
			return true
		}
		return true
	}
	r.initSplice()
	return r
}

func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rp, r.rn, r.rerr = p, 0, nil
	err := r.rc.Read(r.rd)
	n := r.rn
	if err == nil {
		err = r.rerr
	}
	r.rp = nil
	return n, err
}

func (r *rawIO) Write(p []byte) (int, error) {
	return r.write(p, nil, false)
}

// writev writes a and then b in one system call (writev(2)) when the
// socket takes them whole.
func (r *rawIO) writev(a, b []byte) (int, error) {
	return r.write(a, b, false)
}

// tryWrite writes what of p the socket takes without waiting: all of it
// unless its send buffer is full (the peer is not reading). A write that
// does not wait needs no deadline, and setting one costs a timer of the
// runtime's (see upstreamWriter).
func (r *rawIO) tryWrite(p []byte) (int, error) {
	return r.write(p, nil, true)
}

// tryWritev is tryWrite of a and then b, in one system call.
func (r *rawIO) tryWritev(a, b []byte) (int, error) {
	return r.write(a, b, true)
}

func (r *rawIO) write(a, b []byte, try bool) (int, error) {
	if len(a)+len(b) == 0 {
		return 0, nil
	}
	r.wa, r.wb, r.wn, r.werr, r.try = a, b, 0, nil, try
	err := r.rc.Write(r.wr)
	n := r.wn
	if err == nil {
		err = r.werr
	}
	r.wa, r.wb, r.try = nil, nil, false
	return n, err
}

// tryRead reads what the socket has received, without waiting: (0, nil)
// when nothing has come yet.
func (r *rawIO) tryRead(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rp, r.rn, r.rerr, r.rtry = p, 0, nil, true
	err := r.rc.Read(r.rd)
	n := r.rn
	if err == nil {
		err = r.rerr
	}
	r.rp, r.rtry = nil, false
	return n, err
}
