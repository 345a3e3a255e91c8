package rtproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var s net.Conn
	select {
	case s = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted within 5 s")
	}
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// TestRawIOErrors: what the relay expects of a connection's reads and
// writes holds for the raw ones: bytes pass whole, the end of the peer's
// sending is io.EOF, a deadline is os.ErrDeadlineExceeded (a write cut by
// one says how much it wrote), a reset is ECONNRESET, and a connection
// closed while a read waits is net.ErrClosed.
func TestRawIOErrors(t *testing.T) {
	t.Run("bytes and end", func(t *testing.T) {
		c, s := tcpPair(t)
		if _, ok := newRawIO(s).(*rawIO); !ok {
			t.Fatal("a TCP connection got no raw reader and writer")
		}
		go func() {
			_, _ = newRawIO(c).Write([]byte("hello"))
			_ = c.CloseWrite()
		}()
		_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(newRawIO(s))
		if err != nil || string(b) != "hello" {
			t.Errorf("read %q, %v; want hello and the end", b, err)
		}
	})
	t.Run("read deadline", func(t *testing.T) {
		_, s := tcpPair(t)
		_ = s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		var b [8]byte
		if n, err := newRawIO(s).Read(b[:]); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read %d, %v; want 0 and the deadline", n, err)
		}
	})
	t.Run("write deadline", func(t *testing.T) {
		c, _ := tcpPair(t) // the server never reads
		big := make([]byte, 64<<20)
		w := newRawIO(c)
		// Made before the deadline is set: a deadline that passed before
		// the write began would cut it before its first byte.
		_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := w.Write(big)
		if !errors.Is(err, os.ErrDeadlineExceeded) || n <= 0 || n >= len(big) {
			t.Errorf("wrote %d of %d, %v; want part and the deadline", n, len(big), err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		c, s := tcpPair(t)
		_ = c.SetLinger(0)
		_ = c.Close() // sends a reset
		_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [8]byte
		if _, err := newRawIO(s).Read(b[:]); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("read after a reset: %v, want ECONNRESET", err)
		}
	})
	t.Run("closed while reading", func(t *testing.T) {
		_, s := tcpPair(t)
		done := make(chan error, 1)
		go func() {
			var b [8]byte
			_, err := newRawIO(s).Read(b[:])
			done <- err
		}()
		time.Sleep(20 * time.Millisecond) // let the read wait (it ends either way)
		_ = s.Close()
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("read on a closed connection: %v, want net.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the read did not end within 5 s of the close")
		}
	})
}

// deadlineConn records the write deadlines set on a connection.
type deadlineConn struct {
	*net.TCPConn
	set []time.Time
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.set = append(c.set, t)
	return c.TCPConn.SetWriteDeadline(t)
}

// TestUpstreamWritesLeaveNoDeadline: a write to the platform that the
// socket takes whole sets no write deadline (a timer of the runtime's,
// which on a kept connection fired once it was idle and was armed again
// on the next call); one that has to wait for the platform to read still
// polls for an early answer with a deadline, and clears it once done.
func TestUpstreamWritesLeaveNoDeadline(t *testing.T) {
	t.Run("taken whole", func(t *testing.T) {
		c, s := tcpPair(t)
		dc := &deadlineConn{TCPConn: c}
		w := &upstreamWriter{nc: dc, w: newRawIO(c), pk: newPeeker(c)}
		msg := []byte("POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
		for range 3 {
			if n, err := w.Write(msg); n != len(msg) || err != nil {
				t.Fatalf("wrote %d of %d, %v", n, len(msg), err)
			}
		}
		_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, 3*len(msg))
		if _, err := io.ReadFull(s, got); err != nil {
			t.Fatal(err)
		}
		if len(dc.set) != 0 {
			t.Errorf("write deadlines set: %v; want none", dc.set)
		}
	})
	t.Run("waits for the platform", func(t *testing.T) {
		c, s := tcpPair(t)
		dc := &deadlineConn{TCPConn: c}
		w := &upstreamWriter{nc: dc, w: newRawIO(c), pk: newPeeker(c)}
		big := make([]byte, 32<<20) // more than the sockets' buffers hold
		for i := range big {
			big[i] = byte(i * 7)
		}
		read := make(chan error, 1)
		got := make([]byte, len(big))
		go func() {
			time.Sleep(3 * earlyAnswerPoll) // the writer waits meanwhile
			_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.ReadFull(s, got)
			read <- err
		}()
		if n, err := w.Write(big); n != len(big) || err != nil {
			t.Fatalf("wrote %d of %d, %v", n, len(big), err)
		}
		if err := <-read; err != nil {
			t.Fatal(err)
		}
		if string(got) != string(big) {
			t.Error("the bytes read are not the bytes written")
		}
		if len(dc.set) < 2 || dc.set[0].IsZero() {
			t.Fatalf("write deadlines set: %v; want one to poll for an early answer, then cleared", dc.set)
		}
		if last := dc.set[len(dc.set)-1]; !last.IsZero() {
			t.Errorf("the last write deadline set is %v; want it cleared", last)
		}
	})
	t.Run("answered early", func(t *testing.T) {
		c, s := tcpPair(t)
		dc := &deadlineConn{TCPConn: c}
		w := &upstreamWriter{nc: dc, w: newRawIO(c), pk: newPeeker(c)}
		if _, err := s.Write([]byte("HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		n, err := w.Write(make([]byte, 32<<20)) // the platform never reads
		if !errors.Is(err, errAnsweredEarly) || n >= 32<<20 {
			t.Fatalf("wrote %d, %v; want part and errAnsweredEarly", n, err)
		}
		if len(dc.set) == 0 || !dc.set[len(dc.set)-1].IsZero() {
			t.Errorf("write deadlines set: %v; want the last one cleared", dc.set)
		}
	})
}

// TestRawIOWritev: a vectored write sends its two pieces whole and in
// order, also when the socket takes them in several writes (a body
// larger than its send buffer, a peer that reads late), from the raw
// writer and from the platform's writer (whose first try stops when the
// socket is full); a try that stops says how much it sent.
func TestRawIOWritev(t *testing.T) {
	hd := []byte("POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nContent-Length: 8388608\r\n\r\n")
	body := make([]byte, 8<<20)
	for i := range body {
		body[i] = byte(i * 13 % 253)
	}
	whole := append(append([]byte(nil), hd...), body...)
	for _, name := range []string{"raw", "raw try", "platform"} {
		t.Run(name, func(t *testing.T) {
			want := whole
			c, s := tcpPair(t)
			rw := newRawIO(c).(*rawIO)
			type result struct {
				n   int
				err error
			}
			done := make(chan result, 1)
			go func() {
				var n int
				var err error
				switch name {
				case "raw":
					n, err = rw.writev(hd, body)
				case "raw try":
					n, err = rw.tryWritev(hd, body)
				default:
					dc, _ := tcpPair(t)
					w := &upstreamWriter{nc: c, w: rw, pk: newPeeker(dc)}
					n, err = w.writev(hd, body)
				}
				done <- result{n, err}
			}()
			if name == "raw try" {
				// Nobody reads: the try stops once the socket is full.
				r := <-done
				if r.err != nil || r.n <= 0 || r.n >= len(want) {
					t.Fatalf("the try sent %d of %d bytes (%v), want part of them", r.n, len(want), r.err)
				}
				want = want[:r.n]
				_ = c.CloseWrite()
			} else {
				time.Sleep(20 * time.Millisecond) // the socket fills before it is read
			}
			_ = s.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, err := io.ReadAll(io.LimitReader(s, int64(len(want))))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, not the %d written in order", len(got), len(want))
			}
			if name != "raw try" {
				if r := <-done; r.err != nil || r.n != len(want) {
					t.Fatalf("wrote %d of %d bytes: %v", r.n, len(want), r.err)
				}
			}
		})
	}
}
