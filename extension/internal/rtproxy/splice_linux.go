package rtproxy

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// pipeSize is the size asked of a relay pipe (the most that
// /proc/sys/fs/pipe-max-size allows unprivileged processes by default):
// a large body crosses it in few system calls.
const pipeSize = 1 << 20

// spliceFault, when set (by tests), fails a splice call into a pipe
// (out false) or out of one (out true) with the errno it returns, when
// not 0.
var spliceFault func(out bool) syscall.Errno

// spliceOff says the kernel refused to splice between sockets: bodies
// are read and written from then on.
var spliceOff atomic.Bool

// pipes are the two pipes a body is relayed through: r and w the pipe
// its bytes cross from one socket to the other without being copied
// (the pages the kernel received them in are passed on), kr and kw the
// one a copy of its first bytes is made into (tee(2)) for the Observer.
type pipes struct {
	r, w, kr, kw int
	size         int
}

// keptPipes are the pipes kept between bodies (four descriptors each):
// no system calls to make them per call.
var keptPipes = make(chan *pipes, keptBuffers)

func getPipes() *pipes {
	select {
	case p := <-keptPipes:
		return p
	default:
	}
	var a, b [2]int
	if err := syscall.Pipe2(a[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return nil
	}
	if err := syscall.Pipe2(b[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		_ = syscall.Close(a[0])
		_ = syscall.Close(a[1])
		return nil
	}
	p := &pipes{r: a[0], w: a[1], kr: b[0], kw: b[1]}
	// The kept pipe as large as the other, so that a copy of all it holds
	// fits; a pipe that cannot grow stays at its size (64 KiB).
	p.size = min(pipeSizeOf(p.w), pipeSizeOf(p.kw))
	if p.size <= 0 {
		p.close()
		return nil
	}
	return p
}

// pipeSizeOf grows the pipe fd to pipeSize if it can and returns its
// size.
func pipeSizeOf(fd int) int {
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETPIPE_SZ, pipeSize)
	n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETPIPE_SZ, 0)
	if errno != 0 {
		return 0
	}
	return int(n)
}

// putPipes keeps p, empty, for the next body.
func putPipes(p *pipes) {
	select {
	case keptPipes <- p:
	default:
		p.close()
	}
}

func (p *pipes) close() {
	for _, fd := range []int{p.r, p.w, p.kr, p.kw} {
		_ = syscall.Close(fd)
	}
}

// spliceSink is a writer that can send a pipe's bytes (rawIO, and the
// platform's writer over it).
type spliceSink interface {
	// sendMore sends what of p the socket takes without waiting, telling
	// the kernel more follows at once (MSG_MORE): a head goes out with
	// the body spliced after it.
	sendMore(p []byte) (int, error)
	// spliceOut sends n bytes from the pipe pr, waiting as Write does.
	spliceOut(pr, n int) (int, error)
}

func spliceSinkOf(w io.Writer) spliceSink {
	switch w := w.(type) {
	case *rawIO:
		return w
	case *upstreamWriter:
		if _, ok := w.w.(*rawIO); ok {
			return w
		}
	}
	return nil
}

// spliceBody relays the next n bytes of a body from src's socket (tr,
// its raw reader) to dst's through a pipe with splice(2): the kernel
// passes the pages the bytes came in on to the other socket, so the
// proxy neither copies them in nor out. What k has room for is copied
// for the Observer into a second pipe (tee(2)) and read from it once the
// bytes were passed on, while their receiver reads them. As copyBody,
// it passes each piece on as soon as it came, and flushes dst before a
// read that may wait; the head buffered in dst goes out with the first
// piece (MSG_MORE). ok is false when splicing is not possible here (the
// kernel refused it; total says what was relayed before): the caller
// copies the rest. A refusal once bytes are in the pipe has them read
// from it and written: the call never fails for it.
func spliceBody(dst bufWriter, tr tryReader, n int64, k keeper) (total int64, rerr, werr error, ok bool) {
	wb, _ := dst.(*writeBuf)
	src, _ := tr.(*rawIO)
	if wb == nil || src == nil || wb.err != nil || spliceOff.Load() {
		return 0, nil, nil, false
	}
	sink := spliceSinkOf(wb.w)
	if sink == nil {
		return 0, nil, nil, false
	}
	p := getPipes()
	if p == nil {
		return 0, nil, nil, false
	}
	// clean says the pipes are empty, to be kept; dirty that the kept one
	// may not be.
	clean, dirty := false, false
	defer func() {
		if clean {
			putPipes(p)
		} else {
			p.close()
		}
	}()
	for total < n {
		want := int(min(n-total, int64(p.size)))
		m, err := src.spliceIn(p.w, want, false)
		if m == 0 && err == nil {
			if werr = wb.Flush(); werr != nil {
				return total, nil, werr, true
			}
			m, err = src.spliceIn(p.w, want, true)
		}
		if err != nil {
			if refused(err) {
				// Not here (an old kernel, a sandbox without it): nothing
				// was taken, and bodies are copied from now on.
				spliceOff.Store(true)
				clean = true
				return total, nil, nil, false
			}
			return total, unexpected(err), nil, true
		}
		// The Observer's copy, before the bytes leave the pipe.
		t := 0
		if k != nil {
			if t = min(m, k.wants()); t > 0 {
				if t, err = tee(p.r, p.kw, t); err != nil {
					t = 0 // passed on all the same; not kept
					if refused(err) {
						spliceOff.Store(true) // the next bodies are copied
					}
				}
			}
		}
		if len(wb.buf) > 0 {
			s, err := sink.sendMore(wb.buf)
			wb.buf = wb.buf[:copy(wb.buf, wb.buf[s:])]
			if err == nil && len(wb.buf) > 0 {
				err = wb.Flush()
			}
			if err != nil {
				wb.err = err
				return total, nil, err, true
			}
		}
		out, err := sink.spliceOut(p.r, m)
		splicedBytes.Add(int64(out))
		copied := false
		if err != nil && refused(err) {
			// The bytes in the pipe go out the usual way, and bodies are
			// copied from now on (the rest of this one too).
			spliceOff.Store(true)
			var n int
			n, err = writeFromPipe(wb, p.r, m-out)
			out, copied = out+n, true
		}
		kept := 0
		if t > 0 {
			// What was passed on of it (all, unless the write failed),
			// read into the capture as it grows.
			var kerr error
			if kept, kerr = keepFrom(p.kr, k, min(t, out)); kerr != nil || kept < min(t, out) {
				dirty = true
			}
			if t > out {
				dirty = true
			}
		}
		if k != nil && out > kept {
			// Passed on and not kept: the capture keeps no more.
			k.skip(int64(out - kept))
		}
		total += int64(out)
		if err != nil {
			wb.err = err
			return total, nil, err, true
		}
		if copied {
			clean = !dirty
			return total, nil, nil, false
		}
	}
	clean = !dirty
	return total, nil, nil, true
}

// refused says a splice or tee failed because the kernel does not allow
// it here, not because of a socket: nothing was moved.
func refused(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) ||
		errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EOPNOTSUPP)
}

// writeFromPipe reads the n bytes the pipe fd holds and writes them to
// wb (whose buffer is empty), through a relay buffer.
func writeFromPipe(wb *writeBuf, fd, n int) (int, error) {
	b := getRelayBuf()
	defer putRelayBuf(b)
	done := 0
	for done < n {
		m, err := readFull(fd, b[:min(len(b), n-done)])
		if err != nil {
			return done, err
		}
		if _, err := wb.Write(b[:m]); err != nil {
			return done, err
		}
		done += m
	}
	return done, wb.Flush()
}

// tee copies the first n bytes of the pipe r into the pipe w (empty, as
// large as r), without taking them from r.
func tee(r, w, n int) (int, error) {
	for {
		m, _, errno := syscall.RawSyscall6(syscall.SYS_TEE, uintptr(r), uintptr(w), uintptr(n), spliceNonblock, 0, 0)
		switch errno {
		case 0:
			return int(m), nil
		case syscall.EINTR:
			continue
		}
		return 0, os.NewSyscallError("tee", errno)
	}
}

// keepFrom reads n bytes from the pipe fd, which holds them, into k's
// room, and says how many it kept.
func keepFrom(fd int, k keeper, n int) (int, error) {
	kept := 0
	for kept < n {
		room := k.room()
		if len(room) == 0 {
			return kept, nil
		}
		m, err := readFull(fd, room[:min(len(room), n-kept)])
		k.kept(m)
		kept += m
		if err != nil {
			return kept, err
		}
	}
	return kept, nil
}

// readFull reads len(p) bytes from the pipe fd, which holds them.
func readFull(fd int, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, errno := sysRead(uintptr(fd), p[n:])
		switch {
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			return n, os.NewSyscallError("read", errno)
		case m == 0:
			return n, io.ErrUnexpectedEOF
		}
		n += m
	}
	return n, nil
}

const spliceNonblock = 0x2 // SPLICE_F_NONBLOCK

// sysSplice moves up to n bytes from the descriptor in to out (one of
// them a pipe) without waiting; no memory of the process is touched.
func sysSplice(in, out uintptr, n int, flags uintptr) (int, syscall.Errno) {
	m, _, errno := syscall.RawSyscall6(syscall.SYS_SPLICE, in, 0, out, 0, uintptr(n), flags)
	return int(m), errno
}

// spliceIn moves what the socket received, up to n bytes, into the pipe
// pw (empty): waiting for the first byte when wait, else (0, nil) when
// nothing came.
func (r *rawIO) spliceIn(pw, n int, wait bool) (int, error) {
	r.rsfd, r.rn, r.rerr, r.rsn, r.rtry = pw, 0, nil, n, !wait
	err := r.rc.Read(r.si)
	m := r.rn
	if err == nil {
		err = r.rerr
	}
	r.rtry = false
	return m, err
}

// spliceOut sends n bytes from the pipe pr, waiting while the socket
// takes no more.
func (r *rawIO) spliceOut(pr, n int) (int, error) {
	return r.spliceOutTry(pr, n, false)
}

// spliceOutTry is spliceOut, giving up rather than waiting when try.
func (r *rawIO) spliceOutTry(pr, n int, try bool) (int, error) {
	r.wsfd, r.wsn, r.wn, r.werr, r.try = pr, n, 0, nil, try
	err := r.rc.Write(r.so)
	m := r.wn
	if err == nil {
		err = r.werr
	}
	r.try = false
	return m, err
}

func (r *rawIO) sendMore(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.more = true
	n, err := r.write(p, nil, true)
	r.more = false
	return n, err
}

func (w *upstreamWriter) sendMore(p []byte) (int, error) {
	return w.w.(*rawIO).sendMore(p)
}

// spliceOut sends n bytes from the pipe pr as Write sends bytes: a send
// that would wait polls for an early answer of the platform.
func (w *upstreamWriter) spliceOut(pr, n int) (int, error) {
	rw := w.w.(*rawIO)
	total, err := rw.spliceOutTry(pr, n, true)
	if err != nil || total == n {
		return total, err
	}
	defer func() { _ = w.nc.SetWriteDeadline(time.Time{}) }()
	for {
		_ = w.nc.SetWriteDeadline(time.Now().Add(earlyAnswerPoll))
		m, err := rw.spliceOutTry(pr, n-total, false)
		total += m
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return total, err
		}
		if w.pk.isReadable() {
			return total, errAnsweredEarly
		}
	}
}

// initSplice makes r's splice calls once (see newRawIO).
func (r *rawIO) initSplice() {
	r.si = func(fd uintptr) bool {
		for {
			n, errno := 0, syscall.Errno(0)
			if spliceFault != nil {
				errno = spliceFault(false)
			}
			if errno == 0 {
				n, errno = sysSplice(fd, uintptr(r.rsfd), r.rsn, spliceNonblock)
			}
			switch errno {
			case 0:
				r.rn = n
				if n == 0 {
					r.rerr = io.EOF
				}
				return true
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return r.rtry
			}
			r.rerr = os.NewSyscallError("splice", errno)
			return true
		}
	}
	r.so = func(fd uintptr) bool {
		for r.wn < r.wsn {
			n, errno := 0, syscall.Errno(0)
			if spliceFault != nil {
				errno = spliceFault(true)
			}
			if errno == 0 {
				n, errno = sysSplice(uintptr(r.wsfd), fd, r.wsn-r.wn, spliceNonblock)
			}
			switch {
			case errno == 0 && n == 0:
				r.werr = io.ErrUnexpectedEOF // the pipe held less than said
				return true
			case errno == 0:
				r.wn += n
				continue
			case errno == syscall.EINTR:
				continue
			case errno == syscall.EAGAIN:
				return r.try
			}
			r.werr = os.NewSyscallError("splice", errno)
			return true
		}
		return true
	}
}
