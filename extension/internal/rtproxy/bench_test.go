package rtproxy_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
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

// roundCalls is the number of invocations each side makes in one round
// of BenchmarkRelayLatency.
const roundCalls = 40

// BenchmarkRelayLatency measures the time to response a runtime sees
// for one invocation — /next until the whole event is read, then
// /response until the platform's 202 — against the Runtime API directly
// and through the proxy (with an Observer and the agent's capture limit,
// so each body is also copied, up to 1 MiB), for events and answers of
// 1 KiB, 256 KiB and 6 MiB.
//
// Shape: each benchmark iteration is one round of roundCalls invocations
// per side, the sides interleaved invocation by invocation (the side that
// goes first alternates), the same payloads on both; -benchtime Nx runs N
// rounds. The fake API answers /next without a Content-Length (chunked),
// the case where the capture cannot be sized up front.
//
// Figures: direct-p50/p99-us are the baseline (all rounds pooled);
// added-p50/p99-us the proxy's percentile minus the direct one (all
// rounds pooled), added-p50/p99-min/max-us the least and the most of the
// same difference taken round by round (the spread); next-/response-
// added-p50-us where the added time sits. direct-cpu-us is the CPU
// time (user and system, of the whole process: runtime and API) of one
// invocation directly, added-cpu-us what the proxy adds to it: unlike
// the times, a figure that holds on a loaded machine, and what a
// function with a fraction of a core pays. extra-alloc-per-byte is what
// the proxy side allocated beyond the direct side per body byte relayed
// (1 is one whole copy of every body); heap-peak-added-MiB the highest
// live heap seen while the proxy's invocations passed minus the highest
// while the direct ones did (sampled every 100 µs, after the timed
// rounds, so the sampling costs neither side time).
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
			buf := make([]byte, 256<<10)
			invocation := func(side int) (next, answer time.Duration) {
				t0 := time.Now()
				resp, err := clients[side].Get("http://" + sides[side] + "/2018-06-01/runtime/invocation/next")
				if err != nil {
					b.Fatal(err)
				}
				// Read as a runtime does, into its own buffer (io.Discard
				// would read in 8 KiB pieces).
				var n int
				for {
					k, err := resp.Body.Read(buf)
					n += k
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				_ = resp.Body.Close()
				t1 := time.Now()
				if n != size {
					b.Fatalf("event: %d bytes, want %d", n, size)
				}
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
				return t1.Sub(t0), t2.Sub(t1)
			}
			// Warm both sides' connections and the proxy's pools.
			for range 3 {
				invocation(0)
				invocation(1)
			}
			var all, next, answer [2][]float64
			var rounds [2][][]float64 // per side, per round: invocation times
			var alloc [2]uint64
			var cpu [2]time.Duration
			var ms runtime.MemStats
			for b.Loop() {
				var round [2][]float64
				for i := range roundCalls {
					for k := range 2 {
						side := (i + k) % 2
						runtime.ReadMemStats(&ms)
						before, c0 := ms.TotalAlloc, cpuTime()
						n, a := invocation(side)
						c1 := cpuTime()
						runtime.ReadMemStats(&ms)
						alloc[side] += ms.TotalAlloc - before
						cpu[side] += c1 - c0
						next[side] = append(next[side], us(n))
						answer[side] = append(answer[side], us(a))
						all[side] = append(all[side], us(n+a))
						round[side] = append(round[side], us(n+a))
					}
				}
				rounds[0] = append(rounds[0], round[0])
				rounds[1] = append(rounds[1], round[1])
			}
			b.StopTimer()
			b.ReportMetric(0, "ns/op")
			for _, q := range []struct {
				name string
				p    float64
			}{{"p50", 0.5}, {"p99", 0.99}} {
				d := quantile(all[0], q.p)
				b.ReportMetric(d, "direct-"+q.name+"-us")
				b.ReportMetric(quantile(all[1], q.p)-d, "added-"+q.name+"-us")
				lo, hi := math.Inf(1), math.Inf(-1)
				for r := range rounds[0] {
					added := quantile(rounds[1][r], q.p) - quantile(rounds[0][r], q.p)
					lo, hi = min(lo, added), max(hi, added)
				}
				b.ReportMetric(lo, "added-"+q.name+"-min-us")
				b.ReportMetric(hi, "added-"+q.name+"-max-us")
			}
			b.ReportMetric(quantile(next[1], 0.5)-quantile(next[0], 0.5), "next-added-p50-us")
			b.ReportMetric(quantile(answer[1], 0.5)-quantile(answer[0], 0.5), "response-added-p50-us")
			b.ReportMetric(us(cpu[0])/float64(len(all[0])), "direct-cpu-us")
			b.ReportMetric(us(cpu[1]-cpu[0])/float64(len(all[1])), "added-cpu-us")
			extra := float64(alloc[1]) - float64(alloc[0])
			b.ReportMetric(extra/float64(2*size*len(all[1])), "extra-alloc-per-byte")
			var peak [2]uint64
			for side := range 2 {
				peak[side] = heapPeak(func() {
					for range 5 {
						invocation(side)
					}
				})
			}
			b.ReportMetric((float64(peak[1])-float64(peak[0]))/(1<<20), "heap-peak-added-MiB")
		})
	}
}

// heapPeak runs f and returns the most heap in use (live and not yet
// swept objects) seen while it ran, sampled every 100 µs.
func heapPeak(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	runtime.GC()
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(100 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	return <-done
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
