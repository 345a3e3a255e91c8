package rtproxy_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
)

// BenchmarkRelay measures a runtime's /next (the event) and /response
// (the answer) of 1 KiB, 256 KiB and 6 MiB, against the Runtime API
// directly and through the proxy (with an Observer, which copies both
// bodies once), side by side.
func BenchmarkRelay(b *testing.B) {
	for _, size := range []int{1 << 10, 256 << 10, 6 << 20} {
		payload := bytes.Repeat([]byte("x"), size)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				w.Header().Set("Lambda-Runtime-Aws-Request-Id", "r1")
				_, _ = w.Write(payload)
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		}))
		upstream := strings.TrimPrefix(srv.URL, "http://")
		p := startProxy(b, upstream, &discard{})
		for _, target := range []struct{ name, addr string }{{"direct", upstream}, {"proxy", p.Addr().String()}} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, target.name), func(b *testing.B) {
				client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
				defer client.CloseIdleConnections()
				b.SetBytes(int64(2 * size))
				for b.Loop() {
					resp, err := client.Get("http://" + target.addr + "/2018-06-01/runtime/invocation/next")
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					resp, err = client.Post("http://"+target.addr+"/2018-06-01/runtime/invocation/r1/response", "application/json", bytes.NewReader(payload))
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			})
		}
		srv.Close()
	}
}

// discard is an Observer that reads nothing.
type discard struct{}

func (discard) Invoked(rtproxy.Event) {}
func (discard) Ended(rtproxy.End)     {}

// captureLimit is the agent's capture limit: what its event observer
// decodes of a body (trigger.MaxDecode) and one byte more.
const captureLimit = 1<<20 + 1

// BenchmarkRelayLatency measures the time a runtime waits for each call
// of an invocation — /next until the whole event is read, /response until
// the platform's 202 — against the Runtime API directly and through the
// proxy (with an Observer and the agent's capture limit, so each body is
// also copied once, up to 1 MiB), interleaved
// call by call, for events and answers of 1 KiB, 256 KiB and 6 MiB. It
// reports each side's p50 and p99 and their difference (added-*), and
// the bytes allocated per body byte relayed beyond what the same calls
// allocate directly (extra-alloc-per-byte: 1 is one copy of each body).
// The fake API answers /next without a Content-Length (chunked), the
// case where the capture cannot be sized up front.
func BenchmarkRelayLatency(b *testing.B) {
	for _, size := range []int{1 << 10, 256 << 10, 6 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			payload := bytes.Repeat([]byte("x"), size)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					w.Header().Set("Lambda-Runtime-Aws-Request-Id", "r1")
					_, _ = w.Write(payload)
					return
				}
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			upstream := strings.TrimPrefix(srv.URL, "http://")
			p := startProxy(b, upstream, &discard{}, captureLimit)
			sides := []string{upstream, p.Addr().String()}
			clients := []*http.Client{
				{Transport: &http.Transport{DisableCompression: true}},
				{Transport: &http.Transport{DisableCompression: true}},
			}
			defer clients[0].CloseIdleConnections()
			defer clients[1].CloseIdleConnections()
			buf := make([]byte, 64<<10)
			invocation := func(side int) (next, answer time.Duration, alloc uint64) {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				before := ms.TotalAlloc
				t0 := time.Now()
				resp, err := clients[side].Get("http://" + sides[side] + "/2018-06-01/runtime/invocation/next")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, resp.Body, buf); err != nil {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
				t1 := time.Now()
				resp, err = clients[side].Post("http://"+sides[side]+"/2018-06-01/runtime/invocation/r1/response", "application/json", bytes.NewReader(payload))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				t2 := time.Now()
				if resp.StatusCode != http.StatusAccepted {
					b.Fatalf("response: status %d", resp.StatusCode)
				}
				runtime.ReadMemStats(&ms)
				return t1.Sub(t0), t2.Sub(t1), ms.TotalAlloc - before
			}
			// Warm both sides' connections and the capture pool.
			invocation(0)
			invocation(1)
			var next, answer [2][]float64
			var alloc [2]uint64
			i := 0
			for b.Loop() {
				for k := range 2 {
					side := (i + k) % 2 // alternate which side goes first
					n, a, al := invocation(side)
					next[side] = append(next[side], us(n))
					answer[side] = append(answer[side], us(a))
					alloc[side] += al
				}
				i++
			}
			b.ReportMetric(0, "ns/op")
			for _, m := range []struct {
				name string
				xs   [2][]float64
			}{{"next", next}, {"response", answer}} {
				for _, q := range []struct {
					name string
					p    float64
				}{{"p50", 0.5}, {"p99", 0.99}} {
					d, px := quantile(m.xs[0], q.p), quantile(m.xs[1], q.p)
					b.ReportMetric(d, m.name+"-direct-"+q.name+"-us")
					b.ReportMetric(px, m.name+"-proxy-"+q.name+"-us")
					b.ReportMetric(px-d, m.name+"-added-"+q.name+"-us")
				}
			}
			extra := float64(alloc[1]) - float64(alloc[0])
			b.ReportMetric(extra/float64(2*size*len(next[1])), "extra-alloc-per-byte")
		})
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// quantile is the p-quantile of xs (nearest rank).
func quantile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
