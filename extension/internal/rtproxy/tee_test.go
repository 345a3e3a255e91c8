package rtproxy

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestStopDuringAReadIntoTheCapture: the body is read straight into the
// capture's room; when the capture is taken (the Observer's wait ran out,
// or the call ended) while such a read is blocked, the capture handed on
// must not be the buffer that read goes on writing into, or the bytes of
// the rest of the body would land in a buffer the Observer reads or the
// pool gave to another call.
func TestStopDuringAReadIntoTheCapture(t *testing.T) {
	pr, pw := io.Pipe()
	c := &capture{buf: make([]byte, 0, 64), limit: 64}
	tee := newTeeBody(pr, c)
	var relayed bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := forward(&relayed, pr, tee, nil)
		done <- err
	}()
	if _, err := pw.Write([]byte("head")); err != nil {
		t.Fatal(err)
	}
	// Wait, within a bound, for the next read into the room to start.
	deadline := time.Now().Add(5 * time.Second)
	for {
		tee.mu.Lock()
		blocked := tee.reading && len(tee.c.buf) == 4
		tee.mu.Unlock()
		if blocked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay did not go on reading into the capture")
		}
		time.Sleep(time.Millisecond)
	}

	got := tee.stop()
	if _, err := pw.Write([]byte("tail")); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the relay did not end")
	}

	if relayed.String() != "headtail" {
		t.Errorf("relayed %q, want %q", relayed.String(), "headtail")
	}
	if string(got.buf) != "head" || got.n != 4 {
		t.Errorf("capture %q (%d bytes counted), want %q", got.buf, got.n, "head")
	}
	if spare := got.buf[len(got.buf):cap(got.buf)]; bytes.Contains(spare, []byte("tail")) {
		t.Error("the read under way wrote into the capture handed on")
	}
	if got == c {
		t.Error("the capture a read was under way in was handed on (it would go back to the pool)")
	}
}

// TestCaptureOfAForwardedBody: while the capture has room the body is read
// into it (no copy); past its buffer's end it is copied, and past the
// limit only counted.
func TestCaptureOfAForwardedBody(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 100)
	for _, tt := range []struct {
		name      string
		cap       int
		limit     int
		truncated bool
	}{
		{"room for all", 2048, 2048, false},
		{"exactly the body", 1000, 1000, false},
		{"limit below the body", 2048, 300, true},
		{"no buffer yet (unknown length)", 0, 2048, false},
		{"no buffer yet, limit below the body", 0, 300, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &capture{buf: make([]byte, 0, tt.cap), limit: tt.limit}
			var out bytes.Buffer
			// Pieces of 70 bytes, so that reads end inside the room.
			n, err := forward(&out, io.MultiReader(chunks(body, 70)...), c, nil)
			if err != nil || n != int64(len(body)) || !bytes.Equal(out.Bytes(), body) {
				t.Fatalf("relayed %d bytes (%v), want the %d of the body", n, err, len(body))
			}
			want := body[:min(len(body), tt.limit)]
			if !bytes.Equal(c.buf, want) || c.n != int64(len(body)) || c.truncated != tt.truncated {
				t.Errorf("capture: %d bytes (equal %v), counted %d, truncated %v; want %d, %d, %v",
					len(c.buf), bytes.Equal(c.buf, want), c.n, c.truncated, len(want), len(body), tt.truncated)
			}
		})
	}
}

func chunks(b []byte, n int) []io.Reader {
	var rs []io.Reader
	for len(b) > 0 {
		k := min(n, len(b))
		rs = append(rs, bytes.NewReader(b[:k]))
		b = b[k:]
	}
	return rs
}
