package rtproxy_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
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

// litter is an Observer that makes n bytes of garbage per call, in
// 512-byte pieces (as decoding an event's JSON does), so that the proxy's
// process collects garbage while calls are relayed, as the agent does.
type litter struct {
	n    int
	sink [][]byte
}

func (l *litter) Invoked(rtproxy.Event) { l.make() }
func (l *litter) Ended(rtproxy.End)     { l.make() }

func (l *litter) make() {
	l.sink = l.sink[:0]
	for left := l.n; left > 0; left -= 512 {
		l.sink = append(l.sink, make([]byte, 512))
	}
}

// captureLimit is the agent's capture limit: what its event observer
// decodes of a body (trigger.MaxDecode) and one byte more; sniffLimit
// what it keeps of a body over it (trigger.SniffLen).
const captureLimit, sniffLimit = 1<<20 + 1, 4096

// roundCalls is the number of invocations each side makes in one round
// of BenchmarkRelayLatency.
const roundCalls = 40

// BenchmarkRelayLatency measures the time to response a runtime sees
// for one invocation — /next until the whole event is read, then
// /response until the platform's 202 — against the Runtime API directly
// and through the proxy, for events and answers of 1 KiB, 256 KiB and 6
// MiB. The proxy runs as it does in the layer: in a process of its own
// (this test binary started again, see serveProxyProcess), with an
// Observer and the agent's capture and sniff limits, so each body is also
// copied, up to 1 MiB. The runtime and the fake API share this process,
// on both sides alike.
//
// Shape: each benchmark iteration is one round of roundCalls invocations
// per side, the sides interleaved invocation by invocation (the side that
// goes first alternates), the same payloads on both; -benchtime Nx runs N
// rounds. The fake API answers /next without a Content-Length (chunked),
// the case where the capture cannot be sized up front. This process
// collects its garbage between rounds, not within them: its own
// collections (of the runtime's and the fake API's garbage, about 15 KB
// an invocation) are the harness's, and within the rounds they set both
// sides' p99 (one collection every 80 or so invocations, 0.5–1.5 ms). The
// proxy's process collects when its own garbage says so, as in the layer.
//
// Figures: direct-p50/p99-us are the baseline (all rounds pooled);
// added-p50/p99-us the proxy's percentile minus the direct one (all
// rounds pooled), added-p50/p99-min/max-us the least and the most of the
// same difference taken round by round (the spread); next-/response-
// added-p50-us where the added time sits. added-p99-lo/hi-us bound what
// the pooled p99s can tell: the proxy's p99 and the direct p99 each have
// a 95 % confidence interval by rank, and the added p99 lies between the
// proxy's lower bound less the direct upper one and the other way round
// (of 400 calls a side, the upper bound is the slowest call: one stall of
// the machine on either side moves added-p99-us by its length; -benchtime
// 50x, 2,000 calls a side, narrows it). paired-added-p50/p99-us are the
// quantiles of the difference of each invocation through the proxy and
// the direct one made next to it: a stall of the machine spanning both
// cancels out, one that hits only the proxy's call counts in full (with
// independent stalls, the paired p99 is the larger). direct-cpu-us is the CPU
// time (user and system) of this process for one invocation directly,
// proxy-cpu-us the proxy process's CPU time per invocation through it
// (all of it, over the rounds), added-cpu-us what an invocation through
// the proxy costs both processes beyond a direct one: unlike the times,
// figures that hold on a loaded machine, and what a function with a
// fraction of a core pays. proxy-alloc-B is what the proxy's process
// allocated per invocation (bodies are copied into kept buffers, not
// allocated); proxy-gc-per-1000 its garbage collections per 1,000
// invocations.
func BenchmarkRelayLatency(b *testing.B) {
	var gap time.Duration
	if v := os.Getenv(gapEnv); v != "" {
		var err error
		if gap, err = time.ParseDuration(v); err != nil {
			b.Fatalf("%s: %v", gapEnv, err)
		}
	}
	for _, size := range []int{1 << 10, 256 << 10, 6 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			payload := bytes.Repeat([]byte("x"), size)
			api := startProcess(b, roleAPI, fmt.Sprint(size))
			upstream := api.addr
			proxy := startProcess(b, roleProxy, upstream)
			sides := []string{upstream, proxy.addr}
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
			// Warm both sides' connections and the proxy's buffers.
			for range 3 {
				invocation(0)
				invocation(1)
			}
			defer debug.SetGCPercent(debug.SetGCPercent(-1))
			var all, next, answer [2][]float64
			var rounds [2][][]float64 // per side, per round: invocation times
			var cpu [2]time.Duration
			before, apiBefore := proxy.stats(b), api.stats(b)
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				b.StartTimer()
				var round [2][]float64
				for i := range roundCalls {
					for k := range 2 {
						side := (i + k) % 2
						if gap > 0 {
							time.Sleep(gap)
						}
						c0 := cpuTime()
						n, a := invocation(side)
						cpu[side] += cpuTime() - c0
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
			after, apiAfter := proxy.stats(b), api.stats(b)
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
			// Paired: each invocation through the proxy against the direct
			// one made next to it.
			paired := make([]float64, len(all[1]))
			for i := range paired {
				paired[i] = all[1][i] - all[0][i]
			}
			b.ReportMetric(quantile(paired, 0.5), "paired-added-p50-us")
			b.ReportMetric(quantile(paired, 0.99), "paired-added-p99-us")
			// What the pooled p99s can tell apart: the added p99's bounds
			// from both sides' 95 % intervals of their p99 (by rank).
			plo, phi := quantileBounds(all[1], 0.99)
			dlo, dhi := quantileBounds(all[0], 0.99)
			b.ReportMetric(plo-dhi, "added-p99-lo-us")
			b.ReportMetric(phi-dlo, "added-p99-hi-us")
			b.ReportMetric(quantile(next[1], 0.5)-quantile(next[0], 0.5), "next-added-p50-us")
			b.ReportMetric(quantile(answer[1], 0.5)-quantile(answer[0], 0.5), "response-added-p50-us")
			calls := float64(len(all[1]))
			proxyCPU := us(after.cpu-before.cpu) / calls
			apiCPU := us(apiAfter.cpu-apiBefore.cpu) / float64(len(all[0])+len(all[1]))
			b.ReportMetric(us(cpu[0])/float64(len(all[0]))+apiCPU, "direct-cpu-us")
			b.ReportMetric(proxyCPU, "proxy-cpu-us")
			b.ReportMetric(us(cpu[1]-cpu[0])/calls+proxyCPU, "added-cpu-us")
			b.ReportMetric(float64(after.alloc-before.alloc)/calls, "proxy-alloc-B")
			b.ReportMetric(float64(after.gcs-before.gcs)*1000/calls, "proxy-gc-per-1000")
		})
	}
}

// gapEnv, set to a duration (say 20ms), makes BenchmarkRelayLatency
// wait that long before each invocation, as the runtime of a function
// invoked less often does: the proxy's process goes idle between calls,
// and what it does once idle (a timer firing) counts in its CPU.
const gapEnv = "RTPROXY_BENCH_GAP"

// roleEnv, when set, makes this test binary serve instead of running
// tests (see serveProcess): roleProxy the proxy, roleAPI the fake
// Runtime API; argEnv is the upstream's address, or the payload's size.
const (
	roleEnv   = "RTPROXY_BENCH_ROLE"
	argEnv    = "RTPROXY_BENCH_ARG"
	roleProxy = "proxy"
	roleAPI   = "api"
)

// proxyEnv holds more environment for the proxy's process only (say
// GOMAXPROCS=1), to measure the Go runtime's settings the layer could
// give the extension; noObserverEnv, set there, makes the proxy run
// without an Observer, to measure what observing costs; noSpliceEnv, set
// there, makes it copy every body through its memory, as where the
// kernel refuses splice(2) (see disableSplice), to measure what splicing
// saves (with noObserverEnv: a 256 KiB body is then read and written, as
// one the Observer keeps whole); garbageEnv, set
// there to a number of bytes, gives it an Observer that makes that much
// garbage per call (see litter), to measure what the collections of the
// agent's other work cost the calls relayed.
const (
	proxyEnv      = "RTPROXY_BENCH_PROXY_ENV"
	noObserverEnv = "RTPROXY_BENCH_NO_OBSERVER"
	noSpliceEnv   = "RTPROXY_BENCH_NO_SPLICE"
	garbageEnv    = "RTPROXY_BENCH_OBSERVER_GARBAGE"
)

// serveProcess serves, in this process, the proxy as the layer's agent
// runs it (an Observer, the agent's capture and sniff limits) or the
// fake Runtime API of BenchmarkRelayLatency (/next answers arg bytes, as
// a chunked body; /response is read and answered 202). It writes the
// address it serves on as its first line, then answers each line read
// with its CPU time in ns, its bytes allocated and its garbage
// collections, until its input ends.
func serveProcess(role, arg string) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var stop func(context.Context) error
	switch role {
	case roleProxy:
		var obs rtproxy.Observer = discard{}
		if n, err := strconv.Atoi(os.Getenv(garbageEnv)); err == nil && n > 0 {
			obs = &litter{n: n}
		}
		if os.Getenv(noObserverEnv) != "" {
			obs = nil
		}
		if os.Getenv(noSpliceEnv) != "" {
			disableSplice()
		}
		p, err := rtproxy.New(arg, obs, slog.New(slog.DiscardHandler))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		p.SetCaptureLimit(captureLimit)
		p.SetSniffLimit(sniffLimit)
		p.Serve(ln)
		stop = p.Shutdown
	case roleAPI:
		size, err := strconv.Atoi(arg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		payload := bytes.Repeat([]byte("x"), size)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				w.Header().Set("Lambda-Runtime-Aws-Request-Id", "r1")
				_, _ = w.Write(payload)
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		})}
		go func() { _ = srv.Serve(ln) }()
		stop = srv.Shutdown
	default:
		fmt.Fprintf(os.Stderr, "unknown role %q\n", role)
		return 1
	}
	fmt.Println(ln.Addr())
	sc := bufio.NewScanner(os.Stdin)
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	for sc.Scan() {
		metrics.Read(sample)
		fmt.Println(int64(cpuTime()), sample[0].Value.Uint64(), sample[1].Value.Uint64())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// process is a server run by another process (serveProcess).
type process struct {
	addr string
	in   io.Writer
	out  *bufio.Scanner
}

// processStats are a server process's counters.
type processStats struct {
	cpu        time.Duration
	alloc, gcs uint64
}

func (p *process) stats(b *testing.B) processStats {
	b.Helper()
	if _, err := io.WriteString(p.in, "stats\n"); err != nil {
		b.Fatal(err)
	}
	var s processStats
	var ns int64
	if !p.out.Scan() {
		b.Fatalf("the server process did not answer: %v", p.out.Err())
	}
	if _, err := fmt.Sscan(p.out.Text(), &ns, &s.alloc, &s.gcs); err != nil {
		b.Fatalf("the server process answered %q: %v", p.out.Text(), err)
	}
	s.cpu = time.Duration(ns)
	return s
}

// startProcess starts this test binary again as a server (see
// serveProcess); it ends with the benchmark.
func startProcess(b *testing.B, role, arg string) *process {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), roleEnv+"="+role, argEnv+"="+arg)
	if role == roleProxy {
		cmd.Env = append(cmd.Env, strings.Fields(os.Getenv(proxyEnv))...)
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	b.Cleanup(func() {
		_ = in.Close()
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("the %s process: %v", role, err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			b.Errorf("the %s process did not end within 10 s", role)
		}
	})
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		b.Fatalf("the %s process gave no address: %v", role, sc.Err())
	}
	return &process{addr: sc.Text(), in: in, out: sc}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// quantileBounds are the bounds of a 95 % confidence interval of the
// p-quantile of the distribution xs were drawn from, by rank (the
// binomial's normal approximation; no assumption on the distribution).
// Of 400 calls the p99's upper bound is the slowest call.
func quantileBounds(xs []float64, p float64) (lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := float64(len(s))
	w := 1.96 * math.Sqrt(n*p*(1-p))
	l := int(math.Floor(n*p-w)) - 1
	h := int(math.Ceil(n*p+w)) - 1
	return s[max(0, min(l, len(s)-1))], s[max(0, min(h, len(s)-1))]
}

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
