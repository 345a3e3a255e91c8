package rtproxy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
)

// TestLargeBodiesAreSpliced: on Linux the rest of a large event or
// answer beyond what the Observer keeps crosses the proxy with splice(2),
// in both directions, with a Content-Length and in large chunks: the
// runtime and the platform get every byte, and the Observer its first
// bytes and the size. With the agent's capture and sniff limits, a 6 MiB
// body is spliced but for its first bytes and a 256 KiB one, kept whole,
// is copied; with a capture of 100 KiB and no sniffing, a 256 KiB body's
// kept bytes are copied from the pipe with tee(2) and the rest spliced.
func TestLargeBodiesAreSpliced(t *testing.T) {
	const small, large = 256 << 10, 6 << 20
	body := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*31) ^ seed ^ byte(i>>12)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		// limit and sniff are the capture and sniff limits, keep what the
		// Observer gets of each body.
		limit, sniff, keep int
		// spliced says most of the bodies are spliced.
		spliced bool
	}{
		{"6MiB", large, false, 1<<20 + 1, 4096, 4096, true},
		{"6MiB chunked", large, true, 1<<20 + 1, 4096, 4096, true},
		{"256KiB", small, false, 1<<20 + 1, 4096, small, false},
		{"256KiB chunked", small, true, 1<<20 + 1, 4096, small, false},
		{"256KiB, 100KiB kept", small, false, 100 << 10, 0, 100 << 10, true},
		{"256KiB chunked, 100KiB kept", small, true, 100 << 10, 0, 100 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			event, answer := body(tc.size, 1), body(tc.size, 2)
			var got []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					w.Header().Set(rtproxy.HeaderRequestID, "r1")
					if !tc.chunked {
						w.Header().Set("Content-Length", fmt.Sprint(len(event)))
					}
					_, _ = w.Write(event)
					return
				}
				got, _ = io.ReadAll(r.Body)
				w.WriteHeader(http.StatusAccepted)
			}))
			t.Cleanup(srv.Close)
			rec := &recorder{}
			p, err := rtproxy.New(strings.TrimPrefix(srv.URL, "http://"), rec, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			p.SetCaptureLimit(tc.limit)
			p.SetSniffLimit(tc.sniff)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			p.Serve(ln)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = p.Shutdown(ctx)
			})
			spliced := rtproxy.SplicedBytes()
			c := call{name: "response", method: http.MethodPost, path: "/2018-06-01/runtime/invocation/r1/response", body: answer}
			if tc.chunked {
				c.body = nil
				for off := 0; off < len(answer); off += 512 << 10 {
					c.chunks = append(c.chunks, string(answer[off:min(off+512<<10, len(answer))]))
				}
			}
			next := do(t, p.Addr().String(), call{name: "next", method: http.MethodGet, path: "/2018-06-01/runtime/invocation/next"})
			resp := do(t, p.Addr().String(), c)
			if next.Body != string(event) || resp.Status != http.StatusAccepted || !bytes.Equal(got, answer) {
				t.Fatalf("the runtime got %d bytes of the event (exact %v), status %d; the platform %d bytes of the answer (exact %v)",
					len(next.Body), next.Body == string(event), resp.Status, len(got), bytes.Equal(got, answer))
			}
			// Of each body, all but what came with its head (at most 16
			// KiB), what is kept and what is left under 64 KiB; not of the
			// chunked answer, whose chunks are of 32 KiB (the client
			// copies the runtime's stream in pieces of that size).
			bodies := 2
			if tc.chunked {
				bodies = 1
			}
			n := rtproxy.SplicedBytes() - spliced
			if want := int64(bodies * (tc.size - tc.keep - 80<<10)); tc.spliced && n < want {
				t.Errorf("%d bytes spliced of %d bodies of %d, want at least %d", n, bodies, tc.size, want)
			}
			if !tc.spliced && n != 0 {
				t.Errorf("%d bytes spliced of bodies kept whole", n)
			}
			rec.wait(t, 1, 1)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			ev, end := rec.events[0], rec.ends[0]
			keep := tc.keep
			if !bytes.Equal(ev.Body, event[:keep]) || ev.Truncated != (keep < tc.size) {
				t.Errorf("the Observer got %d bytes of the event (its first %d? %v), truncated %v", len(ev.Body), keep, bytes.Equal(ev.Body, event[:min(keep, len(ev.Body))]), ev.Truncated)
			}
			if !bytes.Equal(end.Body, answer[:keep]) || end.Truncated != (keep < tc.size) || end.Size != int64(tc.size) {
				t.Errorf("the Observer got %d bytes of the answer (its first %d? %v), truncated %v, size %d", len(end.Body), keep, bytes.Equal(end.Body, answer[:min(keep, len(end.Body))]), end.Truncated, end.Size)
			}
		})
	}
}

// TestSpliceRefusedFallsBackToCopies: where the kernel refuses splice(2)
// (an old kernel, a sandbox's filter), into the pipe or out of it once
// bytes are in it, the call is relayed whole all the same, by copies, and
// later bodies are copied; no call fails for it.
func TestSpliceRefusedFallsBackToCopies(t *testing.T) {
	const size = 6 << 20
	event := bytes.Repeat([]byte("e"), size)
	answer := make([]byte, size)
	for i := range answer {
		answer[i] = byte(i * 13)
	}
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set(rtproxy.HeaderRequestID, "r1")
			w.Header().Set("Content-Length", fmt.Sprint(len(event)))
			_, _ = w.Write(event)
			return
		}
		got, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name  string
		out   bool
		errno syscall.Errno
	}{
		{"into the pipe, EINVAL", false, syscall.EINVAL},
		{"into the pipe, EPERM", false, syscall.EPERM},
		{"out of the pipe, ENOSYS", true, syscall.ENOSYS},
		{"out of the pipe, EPERM", true, syscall.EPERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var faults atomic.Int64
			restore := rtproxy.SetSpliceFault(func(out bool) syscall.Errno {
				if out == tc.out {
					faults.Add(1)
					return tc.errno
				}
				return 0
			})
			defer restore()
			rec := &recorder{}
			p := startProxy(t, strings.TrimPrefix(srv.URL, "http://"), rec, 1<<20+1)
			spliced := rtproxy.SplicedBytes()
			for i := range 2 {
				next := do(t, p.Addr().String(), call{name: "next", method: http.MethodGet, path: "/2018-06-01/runtime/invocation/next"})
				resp := do(t, p.Addr().String(), call{name: "response", method: http.MethodPost, path: "/2018-06-01/runtime/invocation/r1/response", body: answer})
				if next.Status != http.StatusOK || next.Body != string(event) || resp.Status != http.StatusAccepted || !bytes.Equal(got, answer) {
					t.Fatalf("invocation %d: the runtime got status %d and %d bytes of the event (exact %v), status %d; the platform %d bytes of the answer (exact %v)",
						i, next.Status, len(next.Body), next.Body == string(event), resp.Status, len(got), bytes.Equal(got, answer))
				}
			}
			if n := faults.Load(); n != 1 {
				t.Errorf("%d splice calls refused, want 1 (the next bodies copied)", n)
			}
			if n := rtproxy.SplicedBytes() - spliced; n != 0 {
				t.Errorf("%d bytes counted as spliced", n)
			}
			rec.wait(t, 2, 2)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for _, e := range rec.ends {
				if e.Size != size || !bytes.Equal(e.Body, answer[:len(e.Body)]) || len(e.Body) == 0 {
					t.Errorf("the Observer got an answer of size %d, %d bytes kept (its first? %v)", e.Size, len(e.Body), bytes.Equal(e.Body, answer[:len(e.Body)]))
				}
			}
		})
	}
}
