package extbench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/emulator"
	"github.com/lambdascope/lambdascope/internal/freeport"
)

// buildDir holds the binaries; created on first use, removed by TestMain.
var (
	buildDir  string
	buildOnce sync.Once
	built     binaries
	buildErr  error
)

type binaries struct {
	root      string
	extension string // the launcher Lambda starts, as in the layer
	agent     string // the agent the launcher becomes, as in the layer
	layerZip  string // layer zip of the host architecture
	function  string // benchfn bootstrap
	// wrapped is a bootstrap that runs benchfn through the layer's exec
	// wrapper (the packaging of an OS-only runtime with the layer), so
	// its runtime talks to the extension's Runtime API proxy.
	wrapped string
	minimal string // minext baseline extension
	standin string // the stand-in collector (internal/standinproc)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	if code == 0 {
		// Every server, emulator and process a benchmark started is gone.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// hostArch is the Lambda architecture of this machine.
func hostArch() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

// build compiles the extension (exactly as `make layer` does), the
// benchmark function and the baseline extension, once per run.
func build(b *testing.B) binaries {
	b.Helper()
	buildOnce.Do(func() {
		root, err := layer.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, err = os.MkdirTemp("", "extbench-"); err != nil {
			buildErr = fmt.Errorf("create build dir: %w", err)
			return
		}
		ctx := context.Background()
		arch := hostArch()
		zip, err := layer.Build(ctx, root, arch, buildDir)
		if err != nil {
			buildErr = err
			return
		}
		built = binaries{
			root:      root,
			extension: filepath.Join(buildDir, "layer-"+arch, layer.BinaryPath),
			agent:     filepath.Join(buildDir, "layer-"+arch, layer.AgentPath),
			layerZip:  zip,
			function:  filepath.Join(buildDir, "fn", "bootstrap"),
			wrapped:   filepath.Join(buildDir, "fn-wrapped", "bootstrap"),
			minimal:   filepath.Join(buildDir, "minext", "minext"),
			standin:   filepath.Join(buildDir, "standin", "standinproc"),
		}
		wrapper := filepath.Join(buildDir, "layer-"+arch, layer.WrapperPath)
		script := "#!/bin/sh\nexec " + wrapper + " " + built.function + "\n"
		if err := os.MkdirAll(filepath.Dir(built.wrapped), 0o755); err != nil {
			buildErr = err
			return
		}
		if err := os.WriteFile(built.wrapped, []byte(script), 0o755); err != nil {
			buildErr = err
			return
		}
		for out, pkg := range map[string]string{
			built.function: "./bench/extension/internal/benchfn",
			built.minimal:  "./bench/extension/internal/minext",
			built.standin:  "./bench/extension/internal/standinproc",
		} {
			cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", layer.LDFlags, "-o", out, pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if o, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %w\n%s", pkg, err, o)
				return
			}
		}
		buildErr = syncFiles(built.extension, built.agent, built.function, built.minimal, built.standin)
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return built
}

// syncFiles writes the files' data to disk and waits until it is written.
// A program started while the kernel still holds its file to write back
// started 1.5–3 ms slower on the benchmark machine than the same bytes at
// rest (a launcher built a minute earlier against the same launcher built
// by the benchmark run: 9.2 against 12.5 ms to the first /event/next), and
// Lambda starts the extension from a layer at rest; so every program the
// start-up benchmarks time is synced first.
func syncFiles(paths ...string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
		err = f.Sync()
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
	}
	return nil
}

// collector is the stand-in Ingest API (package standin: it accepts every
// export and counts what it received at the wire level), so the extension
// ships over a real gRPC connection. It runs in a process of its own
// (internal/standinproc): in the benchmark's process, beside the emulator,
// its answers waited for that process's goroutines and garbage
// collections, and the end-of-invocation export a quiet function's billed
// time includes measured the benchmark's process as much as the
// extension (a real collector runs elsewhere).
type collector struct {
	addr   string // gRPC
	counts string // HTTP: GET answers "exports spans invocations"
}

// spans is how many of the function's spans the collector has received.
func (c *collector) spans(b *testing.B) int64 {
	b.Helper()
	resp, err := http.Get("http://" + c.counts + "/counts")
	if err != nil {
		b.Fatalf("read the stand-in collector's counts: %v", err)
	}
	defer resp.Body.Close()
	var exports, spans, invocations int64
	if _, err := fmt.Fscan(resp.Body, &exports, &spans, &invocations); err != nil {
		b.Fatalf("read the stand-in collector's counts: %v", err)
	}
	return spans
}

// startCollector starts the stand-in collector's process; it ends with
// the benchmark.
func startCollector(b *testing.B) *collector {
	b.Helper()
	return startCollectorDelay(b, 0)
}

// startCollectorDelay is startCollector with every answer held delay
// after the request arrived, as a collector that answers once the batch
// is stored does.
func startCollectorDelay(b *testing.B, delay time.Duration) *collector {
	b.Helper()
	bins := build(b)
	cmd := exec.Command(bins.standin)
	cmd.Env = append(os.Environ(), "STANDIN_ANSWER_DELAY="+delay.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the stand-in collector: %v", err)
	}
	c := &collector{}
	_, err = fmt.Fscan(stdout, &c.addr, &c.counts)
	b.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	if err != nil {
		b.Fatalf("read the stand-in collector's addresses: %v", err)
	}
	return c
}

// function names of the emulated functions.
const (
	withExtension    = "with-extension"
	withoutExtension = "without-extension"
)

// startEmulator runs the benchmark function twice side by side: with the
// extension (shipping to c, with the flush strategy flush) and without any
// extension, and any extra functions.
func startEmulator(b *testing.B, bins binaries, c *collector, flush string, extra ...emulator.FunctionConfig) *emulator.Emulator {
	b.Helper()
	return startEmulatorEnv(b, bins, c, flush, nil, extra...)
}

// startEmulatorEnv is startEmulator with more environment variables for
// the function with the extension.
func startEmulatorEnv(b *testing.B, bins binaries, c *collector, flush string, env map[string]string, extra ...emulator.FunctionConfig) *emulator.Emulator {
	b.Helper()
	withEnv := map[string]string{
		"LAMBDASCOPE_ENDPOINT": c.addr,
		"LAMBDASCOPE_API_KEY":  "bench-key",
		"LAMBDASCOPE_FLUSH":    flush,
	}
	maps.Copy(withEnv, env)
	em, err := emulator.New(emulator.Config{Functions: append([]emulator.FunctionConfig{
		{
			Name:       withExtension,
			Handler:    bins.function,
			Extensions: []string{bins.extension},
			Timeout:    10 * time.Second,
			Env:        withEnv,
		},
		{Name: withoutExtension, Handler: bins.function, Timeout: 10 * time.Second},
	}, extra...)})
	if err != nil {
		b.Fatal(err)
	}
	if err := em.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := em.Shutdown(ctx); err != nil {
			b.Errorf("emulator shutdown: %v", err)
		}
	})
	return em
}

// invoke runs one invocation and fails the benchmark on a function error.
func invoke(b *testing.B, em *emulator.Emulator, fn string, spans int) *emulator.InvokeResult {
	b.Helper()
	res, err := em.Invoke(b.Context(), fn, []byte(`{"spans":`+strconv.Itoa(spans)+`}`))
	if err != nil {
		b.Fatal(err)
	}
	if res.FunctionError != "" {
		b.Fatalf("%s: function error: %s", fn, res.Payload)
	}
	return res
}

// processByExe finds the running process whose executable is path,
// waiting up to 5 s for it: the launcher starts the agent beside the
// function's first invocation, and on a loaded machine that invocation
// can be answered before the agent's exec is done.
func processByExe(path string) (int, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pid, err := findProcessByExe(path)
		if err == nil || time.Now().After(deadline) {
			return pid, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// findProcessByExe finds the running process whose executable is path.
func findProcessByExe(path string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && exe == path {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process runs %s", path)
}

// clockTicks is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// 100 on Linux).
const clockTicks = 100

// cpuTime reads the CPU time (user and system) pid has used so far.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read process stat: %w", err)
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th of them.
	i := strings.LastIndexByte(string(data), ')')
	fields := strings.Fields(string(data[i+1:]))
	if i < 0 || len(fields) < 13 {
		return 0, fmt.Errorf("process %d: unexpected stat %q", pid, data)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process %d: parse CPU time: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// memoryKB reads VmRSS and VmHWM (KiB) of pid.
func memoryKB(pid int) (rss, hwm int64, err error) {
	v, err := statusKB(pid, "VmRSS", "VmHWM")
	if err != nil {
		return 0, 0, err
	}
	return v["VmRSS"], v["VmHWM"], nil
}

// statusKB reads the named fields (KiB) of pid's /proc status, such as
// VmRSS or RssFile (the resident pages of mapped files, its program's
// among them) and RssAnon (its own memory); a field missing or 0 is an
// error.
func statusKB(pid int, keys ...string) (map[string]int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, fmt.Errorf("read process status: %w", err)
	}
	out := make(map[string]int64, len(keys))
	for line := range strings.SplitSeq(string(data), "\n") {
		key, rest, ok := strings.Cut(line, ":")
		if !ok || !slices.Contains(keys, key) {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", key, err)
		}
		out[key] = v
	}
	for _, k := range keys {
		if out[k] == 0 {
			return nil, fmt.Errorf("no %s for process %d", k, pid)
		}
	}
	return out, nil
}

// percentile returns the p-th percentile (0 < p ≤ 1, nearest rank) of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// freeAddr returns a free 127.0.0.1:port.
func freeAddr(b *testing.B) string {
	b.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		b.Fatal(err)
	}
	return addr
}

// sink is an OTLP/HTTP endpoint that reads each export whole and answers
// at once: where the function without the extension sends its spans.
type sink struct {
	addr    string
	exports atomic.Int64
}

func startSink(b *testing.B) *sink {
	b.Helper()
	s := &sink{}
	s.addr = serveHTTP(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.exports.Add(1)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	return s
}

// serveHTTP serves h on a free loopback port until the benchmark ends and
// returns its address.
func serveHTTP(b *testing.B, h http.Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	b.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}
