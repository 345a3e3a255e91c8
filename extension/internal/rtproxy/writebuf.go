package rtproxy

import "io"

// bufWriter is where a body is copied to: a connection's write buffer.
type bufWriter interface {
	io.Writer
	Flush() error
	Buffered() int
}

// vecWriter writes a and then b, as one write where it can (writev): a
// message's head, buffered, and the body that follows it cross in one
// system call and wake the peer once.
type vecWriter interface {
	writev(a, b []byte) (int, error)
}

// tryReader reads what a connection has already received, without
// waiting: (0, nil) when nothing has come yet.
type tryReader interface {
	tryRead(p []byte) (int, error)
}

// writeBuf is a connection's write buffer, as bufio.Writer but for a
// write that does not fit: what is buffered and that write go out
// together, in one vectored write when the writer can (vecWriter), else
// one after the other. A head and the first bytes of its body, buffered,
// are thus sent in the same system call as the rest of the body, not in
// one of their own before it. Its errors are sticky, as bufio.Writer's.
type writeBuf struct {
	w   io.Writer
	buf []byte
	err error
}

func newWriteBuf(w io.Writer, size int) *writeBuf {
	return &writeBuf{w: w, buf: make([]byte, 0, size)}
}

// Buffered is the number of bytes written and not yet sent.
func (b *writeBuf) Buffered() int { return len(b.buf) }

func (b *writeBuf) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) <= cap(b.buf)-len(b.buf) {
		b.buf = append(b.buf, p...)
		return len(p), nil
	}
	if len(b.buf) == 0 {
		n, err := b.w.Write(p)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		b.err = err
		return n, err
	}
	var n int
	var err error
	if vw, ok := b.w.(vecWriter); ok {
		n, err = vw.writev(b.buf, p)
	} else {
		n, err = writeBoth(b.w, b.buf, p)
	}
	if err == nil && n < len(b.buf)+len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		b.err = err
		if n < len(b.buf) {
			b.buf = b.buf[:copy(b.buf, b.buf[n:])]
			return 0, err
		}
		n -= len(b.buf)
		b.buf = b.buf[:0]
		return n, err
	}
	b.buf = b.buf[:0]
	return len(p), nil
}

// Flush sends what is buffered.
func (b *writeBuf) Flush() error {
	if b.err != nil {
		return b.err
	}
	if len(b.buf) == 0 {
		return nil
	}
	n, err := b.w.Write(b.buf)
	if err == nil && n < len(b.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		b.err = err
		b.buf = b.buf[:copy(b.buf, b.buf[n:])]
		return err
	}
	b.buf = b.buf[:0]
	return nil
}

// writeBoth writes a and then b to w, one write each.
func writeBoth(w io.Writer, a, b []byte) (int, error) {
	n, err := w.Write(a)
	if err != nil || n < len(a) {
		return n, err
	}
	m, err := w.Write(b)
	return n + m, err
}
