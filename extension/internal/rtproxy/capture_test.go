package rtproxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestCaptureOfACopiedBody: while the capture has room the body is read
// into it (no copy); past its buffer's end it is copied, and past the
// limit only counted. The body crosses whole either way.
func TestCaptureOfACopiedBody(t *testing.T) {
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
		for _, n := range []int64{int64(len(body)), -1} {
			c := &capture{buf: make([]byte, 0, tt.cap), limit: tt.limit}
			var out bytes.Buffer
			w := bufio.NewWriterSize(&out, 64)
			// Pieces of 70 bytes, so that reads end inside the room.
			r := bufio.NewReaderSize(io.MultiReader(chunks(body, 70)...), 16)
			got, rerr, werr := copyBody(w, r, nil, n, c)
			if werr == nil {
				werr = w.Flush()
			}
			if rerr != nil || werr != nil || got != int64(len(body)) || !bytes.Equal(out.Bytes(), body) {
				t.Fatalf("%s, length %d: relayed %d bytes (%v, %v), want the %d of the body", tt.name, n, got, rerr, werr, len(body))
			}
			want := body[:min(len(body), tt.limit)]
			if !bytes.Equal(c.buf, want) || c.n != int64(len(body)) || c.truncated != tt.truncated {
				t.Errorf("%s, length %d: capture: %d bytes (equal %v), counted %d, truncated %v; want %d, %d, %v",
					tt.name, n, len(c.buf), bytes.Equal(c.buf, want), c.n, c.truncated, len(want), len(body), tt.truncated)
			}
		}
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

// TestChunkOverTheLimitIsNotCaptured: a chunk whose size says the body
// goes over the limit is not read into the capture beyond the sniff
// limit: the capture does not grow to the limit first.
func TestChunkOverTheLimitIsNotCaptured(t *testing.T) {
	const limit, sniff = 1 << 20, 4096
	body := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16)
	src := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	c := &capture{limit: limit, sniff: sniff}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	var line []byte
	_, rerr, werr := copyChunked(w, bufio.NewReader(strings.NewReader(src)), nil, c, &line, nil)
	if werr == nil {
		werr = w.Flush()
	}
	if rerr != nil || werr != nil || out.String() != src {
		t.Fatalf("relayed %d bytes (%v, %v), want the %d sent", out.Len(), rerr, werr, len(src))
	}
	if !bytes.Equal(c.buf, body[:sniff]) || !c.truncated || c.n != int64(len(body)) || cap(c.buf) > sniff {
		t.Errorf("capture: %d bytes in a buffer of %d (equal %v), truncated %v, counted %d; want %d in at most %d, true, %d",
			len(c.buf), cap(c.buf), bytes.Equal(c.buf, body[:min(len(c.buf), sniff)]), c.truncated, c.n, sniff, sniff, len(body))
	}
}
