package extbench

import (
	"context"
	"fmt"
	"math"
	"net"
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
	"google.golang.org/grpc"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/emulator"
	// Registers the zstd compressor the extension sends with.
	_ "github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
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
	extension string // static stripped extension, as in the layer
	layerZip  string // layer zip of the host architecture
	function  string // benchfn bootstrap
	minimal   string // minext baseline extension
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
			layerZip:  zip,
			function:  filepath.Join(buildDir, "fn", "bootstrap"),
			minimal:   filepath.Join(buildDir, "minext", "minext"),
		}
		for out, pkg := range map[string]string{
			built.function: "./bench/extension/internal/benchfn",
			built.minimal:  "./bench/extension/internal/minext",
		} {
			cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", layer.LDFlags, "-o", out, pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if o, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %w\n%s", pkg, err, o)
				return
			}
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return built
}

// collector is a stand-in Ingest API that accepts every export and counts
// what it received, so the extension ships over a real gRPC connection.
type collector struct {
	ingestv1.UnimplementedIngestServiceServer
	addr        string
	exports     atomic.Int64
	spans       atomic.Int64
	invocations atomic.Int64
}

// platformScope is the instrumentation scope of the platform spans the
// extension adds (extension/internal/invocation.ScopeName).
const platformScope = "lambdascope/telemetry"

func (c *collector) Export(_ context.Context, req *ingestv1.ExportRequest) (*ingestv1.ExportResponse, error) {
	c.exports.Add(1)
	c.invocations.Add(int64(len(req.GetInvocations())))
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			// Count the function's spans only, not the platform spans
			// the extension adds for each invocation.
			if ss.GetScope().GetName() != platformScope {
				c.spans.Add(int64(len(ss.GetSpans())))
			}
		}
	}
	return &ingestv1.ExportResponse{}, nil
}

func startCollector(b *testing.B) *collector {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	c := &collector{addr: ln.Addr().String()}
	srv := grpc.NewServer()
	ingestv1.RegisterIngestServiceServer(srv, c)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	b.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return c
}

// function names of the emulated functions.
const (
	withExtension    = "with-extension"
	withoutExtension = "without-extension"
)

// startEmulator runs the benchmark function twice side by side: with the
// extension (shipping to c, with the flush strategy flush) and without any
// extension.
func startEmulator(b *testing.B, bins binaries, c *collector, flush string) *emulator.Emulator {
	b.Helper()
	em, err := emulator.New(emulator.Config{Functions: []emulator.FunctionConfig{
		{
			Name:       withExtension,
			Handler:    bins.function,
			Extensions: []string{bins.extension},
			Timeout:    10 * time.Second,
			Env: map[string]string{
				"LAMBDASCOPE_ENDPOINT": c.addr,
				"LAMBDASCOPE_API_KEY":  "bench-key",
				"LAMBDASCOPE_FLUSH":    flush,
			},
		},
		{Name: withoutExtension, Handler: bins.function, Timeout: 10 * time.Second},
	}})
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

// processByExe finds the running process whose executable is path.
func processByExe(path string) (int, error) {
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

// memoryKB reads VmRSS and VmHWM (KiB) of pid.
func memoryKB(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("read process status: %w", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		key, rest, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s: %w", key, err)
		}
		if key == "VmRSS" {
			rss = v
		} else {
			hwm = v
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("no VmRSS/VmHWM for process %d", pid)
	}
	return rss, hwm, nil
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
