package rtproxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// recorder keeps each write made to it, vectored or not, as one piece.
type recorder struct {
	writes [][]byte
	// fail makes the writes fail once that many bytes were taken.
	fail int
}

func (r *recorder) Write(p []byte) (int, error) {
	return r.take(p, nil)
}

func (r *recorder) take(a, b []byte) (int, error) {
	w := append(append([]byte(nil), a...), b...)
	err := error(nil)
	if r.fail > 0 {
		taken := 0
		for _, x := range r.writes {
			taken += len(x)
		}
		if taken+len(w) > r.fail {
			w, err = w[:max(r.fail-taken, 0)], errors.New("peer gone")
		}
	}
	r.writes = append(r.writes, w)
	return len(w), err
}

// vecRecorder is a recorder that writes vectors.
type vecRecorder struct{ recorder }

func (r *vecRecorder) writev(a, b []byte) (int, error) { return r.take(a, b) }

// pieces is a connection's side that has received all of data: a read
// takes at most first bytes the first time (what a bufio.Reader buffers
// with the head), the rest at once; tryRead likewise.
type pieces struct {
	data  []byte
	first int
	reads int
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := len(p.data)
	if p.reads == 0 {
		n = min(n, p.first)
	}
	p.reads++
	n = copy(b, p.data[:n])
	p.data = p.data[n:]
	return n, nil
}

func (p *pieces) tryRead(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, nil
	}
	return p.Read(b)
}

// TestHeadAndBodyInOneWrite: an answer's head and its body, when the
// body has all come (the usual 256 KiB event), reach the runtime in one
// write, in order: the head and the body's first bytes, buffered, are not
// sent before the rest in a write of their own (one more system call and
// one more wake-up of the runtime). With a keeper (the capture read into)
// and without; with a writer that cannot write vectors, in two writes,
// still in order.
func TestHeadAndBodyInOneWrite(t *testing.T) {
	hd := []byte("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\nContent-Length: 262144\r\n\r\n")
	body := make([]byte, 256<<10)
	for i := range body {
		body[i] = byte(i * 7 % 251)
	}
	want := append(append([]byte(nil), hd...), body...)
	for _, tc := range []struct {
		name   string
		vec    bool
		keep   bool
		writes int
	}{
		{"vectored", true, false, 1},
		{"vectored, kept", true, true, 1},
		{"plain", false, false, 2},
		{"plain, kept", false, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &pieces{data: body, first: bufSize - len(hd)}
			br := bufio.NewReaderSize(src, bufSize)
			if _, err := br.Peek(1); err != nil { // the head's read brings the body's first bytes
				t.Fatal(err)
			}
			var rec *recorder
			var w io.Writer
			if tc.vec {
				v := &vecRecorder{}
				rec, w = &v.recorder, v
			} else {
				rec = &recorder{}
				w = rec
			}
			dst := newWriteBuf(w, bufSize)
			if _, err := dst.Write(hd); err != nil {
				t.Fatal(err)
			}
			var k keeper
			var c *capture
			if tc.keep {
				c = &capture{limit: MaxCapture, buf: make([]byte, 0, len(body))}
				k = c
			}
			n, rerr, werr := copyBody(dst, br, src, int64(len(body)), k)
			if rerr != nil || werr != nil || n != int64(len(body)) {
				t.Fatalf("copied %d, errors %v %v", n, rerr, werr)
			}
			if err := dst.Flush(); err != nil {
				t.Fatal(err)
			}
			if len(rec.writes) != tc.writes {
				sizes := []int{}
				for _, x := range rec.writes {
					sizes = append(sizes, len(x))
				}
				t.Fatalf("%d writes of %v bytes, want %d", len(rec.writes), sizes, tc.writes)
			}
			if got := bytes.Join(rec.writes, nil); !bytes.Equal(got, want) {
				t.Fatalf("the writes are not the head and the body in order (%d bytes, want %d)", len(got), len(want))
			}
			if tc.vec && !bytes.HasPrefix(rec.writes[0], hd) {
				t.Fatal("the write does not start with the head")
			}
			if c != nil && !bytes.Equal(c.buf, body) {
				t.Fatal("the capture is not the body")
			}
		})
	}
}

// TestWriteBufErrors: a write that fails part way keeps what was not
// sent and fails every later write and flush, as bufio.Writer does, and
// says how much of the caller's bytes were taken.
func TestWriteBufErrors(t *testing.T) {
	for _, vec := range []bool{false, true} {
		var rec *recorder
		var w io.Writer
		if vec {
			v := &vecRecorder{recorder: recorder{fail: 10}}
			rec, w = &v.recorder, v
		} else {
			rec = &recorder{fail: 10}
			w = rec
		}
		b := newWriteBuf(w, 8)
		if n, err := b.Write([]byte("abcdef")); n != 6 || err != nil {
			t.Fatalf("buffered write: %d %v", n, err)
		}
		n, err := b.Write([]byte("ghijkl"))
		if err == nil || n != 4 {
			t.Fatalf("vectored %v: the failing write took %d (%v), want 4 and an error", vec, n, err)
		}
		if got := bytes.Join(rec.writes, nil); string(got) != "abcdefghij" {
			t.Fatalf("vectored %v: sent %q", vec, got)
		}
		if _, err := b.Write([]byte("x")); err == nil {
			t.Fatal("a write after a failure succeeded")
		}
		if err := b.Flush(); err == nil {
			t.Fatal("a flush after a failure succeeded")
		}
	}
}

// TestChunkedHeadAndBodyInOneWrite: the same of a chunked answer (the
// platform's event when its length was not given): the head, the chunk's
// size line and its content go out in one write, the chunk's end and the
// last chunk in the next, in order.
func TestChunkedHeadAndBodyInOneWrite(t *testing.T) {
	hd := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
	content := bytes.Repeat([]byte("0123456789abcdef"), 16<<10)
	body := append(append([]byte("40000\r\n"), content...), "\r\n0\r\n\r\n"...)
	src := &pieces{data: body, first: bufSize - len(hd)}
	br := bufio.NewReaderSize(src, bufSize)
	if _, err := br.Peek(1); err != nil {
		t.Fatal(err)
	}
	rec := &vecRecorder{}
	dst := newWriteBuf(rec, bufSize)
	if _, err := dst.Write(hd); err != nil {
		t.Fatal(err)
	}
	var line []byte
	if _, rerr, werr := copyChunked(dst, br, src, nil, &line, nil); rerr != nil || werr != nil {
		t.Fatal(rerr, werr)
	}
	if err := dst.Flush(); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte(nil), hd...), body...)
	if got := bytes.Join(rec.writes, nil); !bytes.Equal(got, want) {
		t.Fatalf("the writes are not the head and the body in order (%d bytes, want %d)", len(got), len(want))
	}
	if len(rec.writes) != 2 || len(rec.writes[0]) != len(hd)+7+len(content) {
		sizes := []int{}
		for _, x := range rec.writes {
			sizes = append(sizes, len(x))
		}
		t.Fatalf("writes of %v bytes, want the head with the whole chunk, then its end", sizes)
	}
}
