package extbench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/emulator"
	"github.com/lambdascope/lambdascope/extension"
)

// fakeExtensionsAPI answers register and telemetry subscription and sends
// SHUTDOWN on the first /event/next once released, recording when that
// call arrived.
type fakeExtensionsAPI struct {
	addr    string
	nexts   chan time.Time
	release chan struct{}
}

func startFakeExtensionsAPI(b *testing.B) *fakeExtensionsAPI {
	b.Helper()
	f := &fakeExtensionsAPI{nexts: make(chan time.Time, 1), release: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2020-01-01/extension/register", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Lambda-Extension-Identifier", "bench-extension-id")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"functionName":"bench","functionVersion":"$LATEST","handler":"bootstrap"}`))
	})
	mux.HandleFunc("PUT /2022-07-01/telemetry", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`"OK"`))
	})
	mux.HandleFunc("GET /2020-01-01/extension/event/next", func(w http.ResponseWriter, _ *http.Request) {
		arrived := time.Now()
		select {
		case f.nexts <- arrived:
		default:
		}
		select {
		case <-f.release:
		case <-time.After(10 * time.Second):
		}
		ev, _ := json.Marshal(map[string]any{
			"eventType":      "SHUTDOWN",
			"shutdownReason": "spindown",
			"deadlineMs":     time.Now().Add(2 * time.Second).UnixMilli(),
		})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ev)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	f.addr = serveHTTP(b, mux)
	return f
}

// startToFirstNext execs path and returns the time from exec to its first
// /event/next call and, when otlpHTTP is not empty, to the first answer of
// the OTLP/HTTP receiver there: when a function's export is served. Then
// it answers SHUTDOWN and waits for the process to exit.
func (f *fakeExtensionsAPI) startToFirstNext(b *testing.B, path string, env []string, otlpHTTP string) (next, ready time.Duration) {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), path)
	cmd.Env = env
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", path, err)
	}
	select {
	case t := <-f.nexts:
		next = t.Sub(start)
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		b.Fatalf("%s did not call /event/next within 10s", filepath.Base(path))
	}
	if otlpHTTP != "" {
		if err := exportEmpty(b.Context(), otlpHTTP); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			b.Fatalf("%s: OTLP/HTTP export: %v", filepath.Base(path), err)
		}
		ready = time.Since(start)
	}
	f.release <- struct{}{}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			b.Fatalf("%s exited: %v", filepath.Base(path), err)
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		b.Fatalf("%s did not exit after SHUTDOWN", filepath.Base(path))
	}
	return next, ready
}

// exportEmpty sends an empty OTLP/HTTP trace export to addr, as a
// function's exporter would, and waits for a 200 answer. The port is bound
// before the first /event/next, so the request waits in the kernel's
// backlog until the extension serves it.
func exportEmpty(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/traces", http.NoBody)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// BenchmarkStartToFirstNext measures process start to the first
// /event/next of the extension (its launcher, as Lambda starts it), of its
// agent started directly (the extension without a launcher), and of a
// minimal extension that only registers and asks for the next event, and
// process start to main of an empty Go program (the floor: what the
// machine charges any Go program before its code runs) and, when a C
// compiler is at hand, of an empty static C program (the spawn floor:
// what it charges any process), alternating the
// four. For the extension and the agent it also measures start to the
// first answer of the OTLP/HTTP receiver (ready: when a function's export
// is served). The figures above the floor are what the programs
// themselves spend. The extension is started twice: with a hosts file
// naming sandbox.localdomain, as Lambda's does (ext), and with this
// machine's, where the launcher asks DNS for that name (ext-dns).
func BenchmarkStartToFirstNext(b *testing.B) {
	bins := build(b)
	floor := buildFloor(b, bins.root)
	spawn := buildSpawnFloor(b, bins.root)
	api := startFakeExtensionsAPI(b)
	c := startCollector(b)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_RUNTIME_API=" + api.addr,
		"AWS_LAMBDA_FUNCTION_NAME=bench",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_REGION=us-east-1",
		"LAMBDASCOPE_ENDPOINT=" + c.addr,
		"LAMBDASCOPE_API_KEY=bench-key",
	}
	// Lambda's hosts file names sandbox.localdomain, where the telemetry
	// listener binds; this machine's does not, and the launcher then asks
	// DNS. Both are measured: the extension with a hosts file like
	// Lambda's, and as this machine is (dns).
	hostsFile := filepath.Join(b.TempDir(), "hosts")
	if err := os.WriteFile(hostsFile, []byte("127.0.0.1 localhost\n::1 localhost\n127.0.0.1 sandbox.localdomain\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	lambdaHosts := append(slices.Clone(env), extension.HostsFileEnv+"="+hostsFile)
	var ext, ready, dns, direct, directReady, base, flo, spa []float64
	// run starts path as the extension and returns its two times.
	run := func(path string, env []string) (next, ready float64) {
		httpAddr := freeAddr(b)
		ports := []string{
			"LAMBDASCOPE_OTLP_GRPC_ADDR=" + freeAddr(b),
			"LAMBDASCOPE_OTLP_HTTP_ADDR=" + httpAddr,
		}
		n, r := api.startToFirstNext(b, path, append(slices.Clone(env), ports...), httpAddr)
		return ms(n), ms(r)
	}
	for b.Loop() {
		flo = append(flo, ms(startToMain(b, floor, env)))
		if spawn != "" {
			spa = append(spa, ms(startToMain(b, spawn, env)))
		}
		n, _ := api.startToFirstNext(b, bins.minimal, env, "")
		base = append(base, ms(n))
		e, r := run(bins.extension, lambdaHosts)
		ext, ready = append(ext, e), append(ready, r)
		e, _ = run(bins.extension, env)
		dns = append(dns, e)
		// The agent started directly does the whole start itself, as the
		// extension did before it had a launcher.
		e, r = run(bins.agent, env)
		direct, directReady = append(direct, e), append(directReady, r)
	}
	extP50, baseP50, floorP50 := percentile(ext, 0.5), percentile(base, 0.5), percentile(flo, 0.5)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(extP50, "ext-p50-ms")
	b.ReportMetric(percentile(ext, 0.99), "ext-p99-ms")
	b.ReportMetric(percentile(ready, 0.5), "ext-ready-p50-ms")
	b.ReportMetric(percentile(dns, 0.5), "ext-dns-p50-ms")
	b.ReportMetric(percentile(direct, 0.5), "direct-p50-ms")
	b.ReportMetric(percentile(directReady, 0.5), "direct-ready-p50-ms")
	b.ReportMetric(baseP50, "baseline-p50-ms")
	b.ReportMetric(extP50/baseP50, "ratio-p50")
	b.ReportMetric(floorP50, "floor-p50-ms")
	if len(spa) > 0 {
		b.ReportMetric(percentile(spa, 0.5), "spawn-floor-p50-ms")
	}
	b.ReportMetric(extP50-floorP50, "ext-above-floor-ms")
	b.ReportMetric(baseP50-floorP50, "baseline-above-floor-ms")
	b.ReportMetric((extP50-floorP50)/(baseP50-floorP50), "ratio-above-floor")
}

// buildSpawnFloor builds testdata/spawn.c, static, with the C
// compiler on the PATH; without one it returns "" and the benchmark
// reports no spawn floor.
func buildSpawnFloor(b *testing.B, root string) string {
	b.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		b.Logf("no C compiler (%v): no spawn floor", err)
		return ""
	}
	out := filepath.Join(b.TempDir(), "spawn")
	cmd := exec.CommandContext(b.Context(), cc, "-O2", "-static", "-o", out, filepath.Join("bench", "extension", "testdata", "spawn.c"))
	cmd.Dir = root
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Logf("build the spawn floor: %v\n%s", err, o)
		return ""
	}
	return out
}

// buildFloor builds the floor program of BenchmarkStartToFirstNext
// (internal/minext/floor.go) as the extension is built.
func buildFloor(b *testing.B, root string) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "floor")
	cmd := exec.CommandContext(b.Context(), "go", "build", "-trimpath", "-tags", layer.Tags, "-ldflags", layer.LDFlags, "-o", out,
		filepath.Join("bench", "extension", "internal", "minext", "floor.go"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build the floor program: %v\n%s", err, o)
	}
	return out
}

// startToMain execs path, a program whose main first writes to standard
// error, and returns the time from exec to that write; it waits for the
// process to exit.
func startToMain(b *testing.B, path string, env []string) time.Duration {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), path)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", path, err)
	}
	var one [1]byte
	_, rerr := io.ReadFull(stderr, one[:])
	took := time.Since(start)
	_, _ = io.Copy(io.Discard, stderr)
	if err := cmd.Wait(); err != nil || rerr != nil {
		b.Fatalf("%s: %v (read: %v)", filepath.Base(path), err, rerr)
	}
	return took
}

// BenchmarkMemory reads the extension's resident memory under the
// emulator: the agent's idle after a few empty invocations, the parked
// launcher's beside it (and their sum), then the agent's after
// invocations that each send it 1,000 spans.
func BenchmarkMemory(b *testing.B) {
	bins := build(b)
	const invocations = 50
	var idle, idleFile, idleAnon, busy, peak, launcher int64
	for b.Loop() {
		c := startCollector(b)
		em := startEmulator(b, bins, c, "adaptive")
		for range 5 {
			invoke(b, em, withExtension, 0)
		}
		time.Sleep(500 * time.Millisecond)
		pid, err := processByExe(bins.agent)
		if err != nil {
			b.Fatal(err)
		}
		rss, _, err := memoryKB(pid)
		if err != nil {
			b.Fatal(err)
		}
		idle = max(idle, rss)
		// What of it is the agent's program (pages of its file) and what
		// its own memory.
		parts, err := statusKB(pid, "RssFile", "RssAnon")
		if err != nil {
			b.Fatal(err)
		}
		idleFile, idleAnon = max(idleFile, parts["RssFile"]), max(idleAnon, parts["RssAnon"])
		// The launcher stays as the agent's parent, parked, to take over
		// if the agent dies: its memory is the extension's too.
		lpid, err := processByExe(bins.extension)
		if err != nil {
			b.Fatal(err)
		}
		lrss, _, err := memoryKB(lpid)
		if err != nil {
			b.Fatal(err)
		}
		launcher = max(launcher, lrss)
		for range invocations {
			invoke(b, em, withExtension, 1000)
		}
		time.Sleep(500 * time.Millisecond)
		rss, hwm, err := memoryKB(pid)
		if err != nil {
			b.Fatal(err)
		}
		busy, peak = max(busy, rss), max(peak, hwm)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = em.Shutdown(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if got := c.spans(b); got != invocations*1000 {
			b.Fatalf("collector received %d spans, want %d", got, invocations*1000)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(idle)/1024, "idle-rss-MiB")
	b.ReportMetric(float64(idleFile)/1024, "idle-file-MiB")
	b.ReportMetric(float64(idleAnon)/1024, "idle-anon-MiB")
	b.ReportMetric(float64(launcher)/1024, "launcher-rss-MiB")
	b.ReportMetric(float64(idle+launcher)/1024, "idle-total-rss-MiB")
	b.ReportMetric(float64(busy)/1024, "1000spans-rss-MiB")
	b.ReportMetric(float64(peak)/1024, "1000spans-hwm-MiB")
}

// BenchmarkInvocation invokes the same function with and without the
// extension, in alternating blocks, back to back (a busy function: the adaptive
// strategy's common case), and compares what the platform bills: the total
// billed duration of each invocation (CPU the extension takes before the
// response is billed too), the time before the response, and the tail after
// it. Both sides export the same spans: the function with the extension to the
// extension, the function without it to a sink that reads each export and
// answers at once (the cheapest place a function could send its spans), so
// the difference is what the extension costs the function. Each round (one
// b.Loop iteration, 300 invocations per side) gives its own p99s; the spread
// over rounds is reported, never the best round. agent-cpu-per-inv-ms is
// the CPU time the agent process used over a round (its background
// shipping included) per invocation with the extension: on a function with
// a fraction of a vCPU, that much is taken from the function.
// *-first-resp-* are the response times of the first invocation of each
// block (over all rounds): it follows the other side's block, so the
// platform's buffered telemetry falls due when its environment wakes, and
// a round's p99 is usually one of them.
func BenchmarkInvocation(b *testing.B) {
	tests := []struct {
		spans int
		flush string
	}{
		{0, "adaptive"},
		{1000, "adaptive"},
		// For comparison: only the background loop, never before /next.
		{1000, "periodic"},
	}
	for _, tt := range tests {
		name := "spans=" + strconv.Itoa(tt.spans)
		if tt.flush != "adaptive" {
			name += "/flush=" + tt.flush
		}
		b.Run(name, func(b *testing.B) {
			benchmarkInvocation(b, tt.spans, tt.flush)
		})
	}
}

// invocationSide gathers one side's figures of one round.
type invocationSide struct {
	resp, tail, total, billed []float64
	ids                       map[string]time.Duration
	// first is the response time of the first invocation of each block,
	// over every round: the one that comes after the other side's block,
	// when the platform's buffered telemetry falls due.
	first []float64
}

func benchmarkInvocation(b *testing.B, spans int, flush string) {
	bins := build(b)
	const invocations, block = 300, 50
	var (
		with, without             = &invocationSide{}, &invocationSide{}
		addedTotal, addedBilled   []float64 // per round: p99 with - p99 without
		addedTail                 []float64
		withBilled, withoutBilled []float64 // per round p99s
		respWith, respWithout     []float64 // per round p50s (spans=0)
		agentCPU                  []float64 // per round, ms per invocation
	)
	for b.Loop() {
		with.ids, without.ids = map[string]time.Duration{}, map[string]time.Duration{}
		c := startCollector(b)
		sink := startSink(b)
		em := startEmulator(b, bins, c, flush, emulator.FunctionConfig{
			Name: withoutExtension + "-exporting", Handler: bins.function, Timeout: 10 * time.Second,
			Env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + sink.addr},
		})
		baseline := withoutExtension
		if spans > 0 {
			baseline = withoutExtension + "-exporting"
		}
		sides := map[string]*invocationSide{withExtension: with, baseline: without}
		// Cold starts are not part of the figures.
		invoke(b, em, withExtension, spans)
		invoke(b, em, baseline, spans)
		// The agent's CPU over the round, shipping included, per
		// invocation with the extension: what a function with a fraction
		// of a vCPU would lose to it.
		agentPID, err := processByExe(bins.agent)
		if err != nil {
			b.Fatal(err)
		}
		cpuBefore, err := cpuTime(agentPID)
		if err != nil {
			b.Fatal(err)
		}
		// Alternate blocks rather than single invocations, so that the
		// extension's background flush of one block overlaps the other
		// side only at the block's start.
		for range invocations / block {
			for _, fn := range []string{baseline, withExtension} {
				for k := range block {
					res := invoke(b, em, fn, spans)
					if res.ColdStart {
						continue
					}
					sides[fn].ids[res.RequestID] = res.Duration
					if k == 0 {
						sides[fn].first = append(sides[fn].first, ms(res.Duration))
					}
				}
			}
		}
		cpuAfter, err := cpuTime(agentPID)
		if err != nil {
			b.Fatal(err)
		}
		agentCPU = append(agentCPU, ms(cpuAfter-cpuBefore)/float64(len(with.ids)))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = em.Shutdown(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		reports := em.Reports()
		for _, s := range sides {
			s.resp, s.tail, s.total, s.billed = s.resp[:0], s.tail[:0], s.total[:0], s.billed[:0]
			for id, resp := range s.ids {
				r, ok := reports[id]
				if !ok {
					b.Fatalf("no report for invocation %s", id)
				}
				s.resp = append(s.resp, ms(resp))
				s.total = append(s.total, r.DurationMs)
				s.billed = append(s.billed, float64(r.BilledDurationMs))
				s.tail = append(s.tail, r.DurationMs-ms(resp))
			}
		}
		if spans > 0 && c.spans(b) == 0 {
			b.Fatal("the collector received no spans")
		}
		if spans > 0 && sink.exports.Load() == 0 {
			b.Fatal("the sink received no exports")
		}
		addedTotal = append(addedTotal, percentile(with.total, 0.99)-percentile(without.total, 0.99))
		addedBilled = append(addedBilled, percentile(with.billed, 0.99)-percentile(without.billed, 0.99))
		addedTail = append(addedTail, percentile(with.tail, 0.99)-percentile(without.tail, 0.99))
		withBilled = append(withBilled, percentile(with.billed, 0.99))
		withoutBilled = append(withoutBilled, percentile(without.billed, 0.99))
		respWith = append(respWith, percentile(with.resp, 0.5))
		respWithout = append(respWithout, percentile(without.resp, 0.5))
	}
	b.ReportMetric(0, "ns/op")
	// Total billed time: what the user pays, before and after the response.
	b.ReportMetric(median(withoutBilled), "noext-billed-p99-ms")
	b.ReportMetric(median(withBilled), "ext-billed-p99-ms")
	b.ReportMetric(slices.Min(addedTotal), "added-total-p99-min-ms")
	b.ReportMetric(median(addedTotal), "added-total-p99-ms")
	b.ReportMetric(slices.Max(addedTotal), "added-total-p99-max-ms")
	b.ReportMetric(slices.Max(addedBilled), "added-billed-p99-max-ms")
	b.ReportMetric(median(respWithout), "noext-resp-p50-ms")
	b.ReportMetric(median(respWith), "ext-resp-p50-ms")
	b.ReportMetric(median(agentCPU), "agent-cpu-per-inv-ms")
	// The first invocation of a block, after the other side's.
	b.ReportMetric(percentile(with.first, 0.5), "ext-first-resp-p50-ms")
	b.ReportMetric(percentile(with.first, 0.9), "ext-first-resp-p90-ms")
	b.ReportMetric(percentile(without.first, 0.5), "noext-first-resp-p50-ms")
	// The tail is the time from the response to the end of the invocation
	// (runtime and every extension back on /event/next).
	b.ReportMetric(median(addedTail), "added-p99-ms")
	b.ReportMetric(slices.Max(addedTail), "added-p99-max-ms")
}

// median is the middle of xs (the mean of the two middle values for an
// even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkLayerZipSize builds the layer of each architecture as `make
// layer` does and reports its size.
func BenchmarkLayerZipSize(b *testing.B) {
	bins := build(b)
	for _, arch := range layer.Architectures {
		b.Run(arch, func(b *testing.B) {
			var size int64
			for b.Loop() {
				path := bins.layerZip
				if arch != hostArch() {
					var err error
					if path, err = layer.Build(b.Context(), bins.root, arch, b.TempDir()); err != nil {
						b.Fatal(err)
					}
				}
				info, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				size = info.Size()
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(size)/(1<<20), "zip-MiB")
			b.ReportMetric(float64(size), "zip-bytes")
		})
	}
}

// waitEnded waits (at most 5 s) until the invocation id has ended: every
// extension back on /event/next, its report recorded.
func waitEnded(b *testing.B, em *emulator.Emulator, id string) {
	b.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, ok := em.Reports()[id]; ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("invocation %s did not end within 5 s", id)
		}
	}
}

// BenchmarkColdStart invokes a function on a new execution environment
// under the emulator: with the extension as Lambda starts it (the
// launcher), with its agent started directly (the extension without a
// launcher), and without an extension, rotating the order. The two
// functions with the extension send it 10 spans synchronously before they
// answer, so a cold invocation also waits for the extension to serve its
// first export; the one without sends none. Two more functions with the
// launcher send none either, one with its runtime started directly and one
// through the exec wrapper: the latter's first /next goes through the
// Runtime API proxy, which the agent serves only once it runs, so
// proxied-nospans-added-ms less launcher-nospans-added-ms is what the
// proxy costs a cold start. The figure is the time from the invoke
// request to the response, init included: what a caller of a cold
// function waits.
//
// The same function without an extension also runs exporting its 10 spans
// to a stand-in outside the environment (no-extension-exporting): an
// instrumented function pays for building, encoding and sending its
// spans, and its first export pays the start of its own protobuf and
// HTTP code, with or without the extension. launcher-added-vs-exporting-ms
// (launcher less that) is what the extension adds to a cold invocation of
// an instrumented function; launcher-added-ms, against the function
// sending nothing, also counts the function's own exporting. It is split
// in two: launcher-invoke-added-vs-exporting-ms over the invocation phase
// alone (the emulator's Duration: from the INVOKE to the function's
// response) and launcher-init-added-vs-exporting-ms over the rest (the
// environment's creation and the init phase), each a difference of
// medians, so the two need not add up to the whole.
//
// With init=50ms the function spends 50 ms of CPU before its runtime loop
// starts, as most runtimes and SDKs do: Lambda starts the runtime once
// every extension has registered, so the sooner the extension registers,
// the sooner the function's own init runs.
//
// These are what a caller waits for, not what the cold start is billed:
// the extension's work after the response (its start, the wait for
// runtimeDone, the first flush and the collector's answer to it, which
// the stand-in collector gives at once) is billed but not waited for.
// BenchmarkColdStartBilled measures the bill.
func BenchmarkColdStart(b *testing.B) {
	for _, initMS := range []int{0, 50} {
		b.Run("init="+strconv.Itoa(initMS)+"ms", func(b *testing.B) { benchmarkColdStart(b, initMS) })
	}
}

func benchmarkColdStart(b *testing.B, initMS int) {
	bins := build(b)
	c := startCollector(b)
	const launched, direct, none = "launcher", "agent-direct", "no-extension"
	// The function exporting nothing, with the launcher, its runtime
	// started directly and through the exec wrapper (the Runtime API
	// proxy).
	const silent, proxied = "launcher-nospans", "proxied-nospans"
	// The function without an extension, exporting its spans elsewhere.
	const exporting = "no-extension-exporting"
	sink := startSink(b)
	init := strconv.Itoa(initMS)
	env := map[string]string{"LAMBDASCOPE_ENDPOINT": c.addr, "LAMBDASCOPE_API_KEY": "bench-key", "BENCHFN_INIT_MS": init}
	// times are whole cold invocations; invokes their invocation phase
	// alone (the emulator's Duration: from the INVOKE to the response),
	// the rest being the init phase and the environment's creation.
	times, invokes := map[string][]float64{}, map[string][]float64{}
	order := []string{launched, direct, none, silent, proxied, exporting}
	for b.Loop() {
		em, err := emulator.New(emulator.Config{Functions: []emulator.FunctionConfig{
			{Name: launched, Handler: bins.function, Extensions: []string{bins.extension}, Timeout: 10 * time.Second, Env: env},
			{Name: direct, Handler: bins.function, Extensions: []string{bins.agent}, Timeout: 10 * time.Second, Env: env},
			{Name: none, Handler: bins.function, Timeout: 10 * time.Second, Env: map[string]string{"BENCHFN_INIT_MS": init}},
			{Name: silent, Handler: bins.function, Extensions: []string{bins.extension}, Timeout: 10 * time.Second, Env: env},
			{Name: proxied, Handler: bins.wrapped, Extensions: []string{bins.extension}, Timeout: 10 * time.Second, Env: env},
			{Name: exporting, Handler: bins.function, Timeout: 10 * time.Second,
				Env: map[string]string{"BENCHFN_INIT_MS": init, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + sink.addr}},
		}})
		if err != nil {
			b.Fatal(err)
		}
		if err := em.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		for _, fn := range order {
			spans := 10
			if fn == none || fn == silent || fn == proxied {
				spans = 0
			}
			start := time.Now()
			res := invoke(b, em, fn, spans)
			took := time.Since(start)
			if !res.ColdStart {
				b.Fatalf("%s: invocation was not a cold start", fn)
			}
			times[fn] = append(times[fn], ms(took))
			invokes[fn] = append(invokes[fn], ms(res.Duration))
		}
		order = append(order[1:], order[0])
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = em.Shutdown(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	l, d, n := percentile(times[launched], 0.5), percentile(times[direct], 0.5), percentile(times[none], 0.5)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(l, "launcher-p50-ms")
	b.ReportMetric(d, "agent-direct-p50-ms")
	b.ReportMetric(n, "no-extension-p50-ms")
	b.ReportMetric(l-n, "launcher-added-ms")
	b.ReportMetric(d-n, "agent-direct-added-ms")
	sl, px := percentile(times[silent], 0.5), percentile(times[proxied], 0.5)
	b.ReportMetric(sl-n, "launcher-nospans-added-ms")
	b.ReportMetric(px-n, "proxied-nospans-added-ms")
	ex := percentile(times[exporting], 0.5)
	b.ReportMetric(ex, "no-extension-exporting-p50-ms")
	b.ReportMetric(l-ex, "launcher-added-vs-exporting-ms")
	// Where it goes: the invocation phase, and the rest (the init).
	li, exi := percentile(invokes[launched], 0.5), percentile(invokes[exporting], 0.5)
	b.ReportMetric(li-exi, "launcher-invoke-added-vs-exporting-ms")
	b.ReportMetric(percentile(diffs(times[launched], invokes[launched]), 0.5)-percentile(diffs(times[exporting], invokes[exporting]), 0.5),
		"launcher-init-added-vs-exporting-ms")
	if got := sink.exports.Load(); got < int64(len(times[exporting])) {
		b.Fatalf("the stand-in outside the environment took %d exports; want one per cold invocation (%d)", got, len(times[exporting]))
	}
}

// diffs returns a[i]-b[i].
func diffs(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// BenchmarkProxyMemory measures the agent's resident memory while the
// largest buffered events and answers Lambda allows (6 MB) pass through
// its Runtime API proxy: the function runs through the exec wrapper, is
// invoked a few times with small events (idle), then with events of about
// 6 MB (padding the benchmark function ignores) answered with about 6 MB.
// The figures are the agent's VmRSS once idle and its VmHWM (peak) after
// the large invocations; the growth is what a large body costs the agent.
func BenchmarkProxyMemory(b *testing.B) {
	bins := build(b)
	const large = 10
	const pad, reply = 6_000_000, 5_900_000
	event := []byte(`{"spans":0,"reply":` + strconv.Itoa(reply) + `,"pad":"` + strings.Repeat("p", pad) + `"}`)
	var idle, peak, grew int64
	for b.Loop() {
		c := startCollector(b)
		em, err := emulator.New(emulator.Config{Functions: []emulator.FunctionConfig{{
			Name: "proxied", Handler: bins.wrapped, Extensions: []string{bins.extension}, Timeout: 10 * time.Second,
			Env: map[string]string{"LAMBDASCOPE_ENDPOINT": c.addr, "LAMBDASCOPE_API_KEY": "bench-key"},
		}}})
		if err != nil {
			b.Fatal(err)
		}
		if err := em.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		for range 5 {
			invoke(b, em, "proxied", 0)
		}
		time.Sleep(500 * time.Millisecond)
		pid, err := processByExe(bins.agent)
		if err != nil {
			b.Fatal(err)
		}
		rss, hwmIdle, err := memoryKB(pid)
		if err != nil {
			b.Fatal(err)
		}
		for range large {
			res, err := em.Invoke(b.Context(), "proxied", event)
			if err != nil {
				b.Fatal(err)
			}
			if res.FunctionError != "" || len(res.Payload) < reply {
				b.Fatalf("large invocation: error %q, %d bytes answered", res.FunctionError, len(res.Payload))
			}
		}
		time.Sleep(500 * time.Millisecond)
		_, hwm, err := memoryKB(pid)
		if err != nil {
			b.Fatal(err)
		}
		idle, peak, grew = max(idle, rss), max(peak, hwm), max(grew, hwm-hwmIdle)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = em.Shutdown(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(idle)/1024, "idle-rss-MiB")
	b.ReportMetric(float64(peak)/1024, "6MB-hwm-MiB")
	b.ReportMetric(float64(grew)/1024, "6MB-hwm-growth-MiB")
}
