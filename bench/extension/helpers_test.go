package extbench

import (
	"context"
	"fmt"
	"io"
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
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/emulator"
	"github.com/lambdascope/lambdascope/internal/freeport"
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
	extension string // the launcher Lambda starts, as in the layer
	agent     string // the agent the launcher becomes, as in the layer
	layerZip  string // layer zip of the host architecture
	function  string // benchfn bootstrap
	// wrapped is a bootstrap that runs benchfn through the layer's exec
	// wrapper (the packaging of an OS-only runtime with the layer), so
	// its runtime talks to the extension's Runtime API proxy.
	wrapped string
	minimal string // minext baseline extension
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
// It counts at the wire level instead of decoding: it runs in the
// benchmark's own process, beside the emulator, and decoding 1,000 spans
// per invocation there would compete with the function being measured on
// the same cores (a real collector runs elsewhere).
type collector struct {
	addr        string
	exports     atomic.Int64
	spans       atomic.Int64
	invocations atomic.Int64
}

// platformScope is the instrumentation scope of the platform spans the
// extension adds (extension/internal/invocation.ScopeName).
const platformScope = "lambdascope/telemetry"

// rawRequest is an Ingest API request as it arrived (decompressed).
type rawRequest []byte

// rawCodec hands requests to the collector undecoded; responses are
// encoded as protobuf.
type rawCodec struct{ encoding.CodecV2 }

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(*rawRequest); ok {
		*r = data.Materialize()
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}

// ingestService is IngestService with the collector's Export taking the
// request undecoded.
var ingestService = grpc.ServiceDesc{
	ServiceName: ingestv1.IngestService_ServiceDesc.ServiceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler: func(srv any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req rawRequest
			if err := dec(&req); err != nil {
				return nil, err
			}
			if err := srv.(*collector).export(req); err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			return &ingestv1.ExportResponse{}, nil
		},
	}},
	Metadata: ingestv1.IngestService_ServiceDesc.Metadata,
}

// Field numbers of the messages the collector counts.
const (
	exportInvocations   protowire.Number = 3 // ExportRequest.invocations
	exportResourceSpans protowire.Number = 4 // ExportRequest.resource_spans
	resourceScopeSpans  protowire.Number = 2 // ResourceSpans.scope_spans
	scopeSpansScope     protowire.Number = 1 // ScopeSpans.scope
	scopeSpansSpans     protowire.Number = 2 // ScopeSpans.spans
	scopeName           protowire.Number = 1 // InstrumentationScope.name
)

// export counts the invocations and the function's spans of an encoded
// ExportRequest; the platform spans the extension adds for each
// invocation are not counted.
func (c *collector) export(req []byte) error {
	var invocations, spans int64
	err := eachField(req, func(num protowire.Number, v []byte) error {
		switch num {
		case exportInvocations:
			invocations++
		case exportResourceSpans:
			return eachField(v, func(num protowire.Number, v []byte) error {
				if num != resourceScopeSpans {
					return nil
				}
				var name string
				var n int64
				err := eachField(v, func(num protowire.Number, v []byte) error {
					switch num {
					case scopeSpansScope:
						return eachField(v, func(num protowire.Number, v []byte) error {
							if num == scopeName {
								name = string(v)
							}
							return nil
						})
					case scopeSpansSpans:
						n++
					}
					return nil
				})
				if name != platformScope {
					spans += n
				}
				return err
			})
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.exports.Add(1)
	c.invocations.Add(invocations)
	c.spans.Add(spans)
	return nil
}

// eachField calls fn with every length-delimited field of an encoded
// message and skips the others.
func eachField(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}

func startCollector(b *testing.B) *collector {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	c := &collector{addr: ln.Addr().String()}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{encoding.GetCodecV2(grpcproto.Name)}))
	srv.RegisterService(&ingestService, c)
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
// extension, and any extra functions.
func startEmulator(b *testing.B, bins binaries, c *collector, flush string, extra ...emulator.FunctionConfig) *emulator.Emulator {
	b.Helper()
	em, err := emulator.New(emulator.Config{Functions: append([]emulator.FunctionConfig{
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
