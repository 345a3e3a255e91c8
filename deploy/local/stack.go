package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/emulator"
	"github.com/lambdascope/lambdascope/internal/freeport"
	"github.com/lambdascope/lambdascope/storage/chserver"
)

// Options configure a local stack.
type Options struct {
	// WorkDir receives binaries and logs; it is created when missing.
	WorkDir string
	// Log receives progress lines (default: discard).
	Log *slog.Logger
	// FunctionOutput receives the functions' and extensions' output
	// (default: WorkDir/functions.log).
	FunctionOutput io.Writer
	// Database is the ClickHouse database (default "lambdascope").
	Database string
	// FunctionEnv is added to every function's environment; ORDERS_QUEUE
	// set to "" keeps orders from sending to the orders-placed queue.
	FunctionEnv map[string]string
	// BackendOnly starts ClickHouse and the collector only: no emulator,
	// no sample functions, and only the collector and the CLI are built.
	BackendOnly bool
	// BatchWindow is how long the orders-placed queue gathers messages
	// before it invokes shipping (default 1s, the smallest window Lambda
	// sets in seconds).
	BatchWindow time.Duration
	// InitTimeout and ShutdownDeadline bound the functions' INIT and
	// SHUTDOWN phases (default: Lambda's 10 s and 2000 ms); tests on a
	// loaded machine widen them.
	InitTimeout, ShutdownDeadline time.Duration
}

// OrdersQueue is the SQS queue orders sends placed orders to and shipping
// consumes.
const OrdersQueue = "orders-placed"

func (o Options) batchWindow() time.Duration {
	if o.BatchWindow > 0 {
		return o.BatchWindow
	}
	return time.Second
}

// Stack is a running local system.
type Stack struct {
	Bin           Binaries
	ClickHouse    *chserver.Server
	DSN           string
	CollectorAddr string
	// AdminAddr serves the collector's /metrics and health.
	AdminAddr string
	APIKey    string
	Emulator  *emulator.Emulator

	opts      Options
	log       *slog.Logger
	collector *exec.Cmd
	collDone  chan error
	collLog   *os.File
	fnLog     *os.File
	funcsDown bool
	stopped   bool
}

// Start builds the binaries and starts ClickHouse, the collector and the
// emulator with the sample functions and the extension.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Database == "" {
		opts.Database = "lambdascope"
	}
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("create work directory: %w", err)
	}
	s := &Stack{opts: opts, log: opts.Log}
	defer func() {
		if err != nil {
			_ = s.Stop(context.Background())
		}
	}()

	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	build := Build
	if opts.BackendOnly {
		build = BuildBackend
	}
	s.log.Info("building the collector, CLI, extension and sample functions", "backend_only", opts.BackendOnly)
	if s.Bin, err = build(ctx, root, filepath.Join(opts.WorkDir, "bin")); err != nil {
		return nil, err
	}

	s.log.Info("starting ClickHouse")
	if s.ClickHouse, err = chserver.Start(ctx, chserver.Options{Logger: s.log}); err != nil {
		return nil, err
	}
	s.DSN = s.ClickHouse.DSNFor(opts.Database)

	if err := s.startCollector(ctx); err != nil {
		return nil, err
	}
	if opts.BackendOnly {
		return s, nil
	}

	out := opts.FunctionOutput
	if out == nil {
		if s.fnLog, err = os.Create(filepath.Join(opts.WorkDir, "functions.log")); err != nil {
			return nil, fmt.Errorf("create function log: %w", err)
		}
		out = s.fnLog
	}
	env := map[string]string{
		"LAMBDASCOPE_ENDPOINT":  s.CollectorAddr,
		"LAMBDASCOPE_API_KEY":   s.APIKey,
		"LAMBDASCOPE_LOG_LEVEL": "info",
	}
	for k, v := range opts.FunctionEnv {
		env[k] = v
	}
	var fns []emulator.FunctionConfig
	for _, name := range AllFunctions() {
		fc := emulator.FunctionConfig{
			Name:       name,
			Handler:    s.Bin.Functions[name],
			Extensions: []string{s.Bin.Extension},
			MemoryMB:   map[string]int{"orders": 512, "inventory": 256, "shipping": 256}[name],
			Timeout:    10 * time.Second,
			Env:        maps.Clone(env),
		}
		if NodeFunctions[name] {
			// As on Lambda: the managed runtime, the layer's wrapper.
			fc.Runtime, fc.Handler, fc.CodeDir = "nodejs20.x", "index.handler", s.Bin.Functions[name]
			fc.Env["AWS_LAMBDA_EXEC_WRAPPER"] = s.Bin.Wrapper
		}
		if _, set := fc.Env["ORDERS_QUEUE"]; name == "orders" && !set {
			fc.Env["ORDERS_QUEUE"] = OrdersQueue
		}
		fns = append(fns, fc)
	}
	// The emulator's own log goes with the functions' output.
	emuLog := slog.New(slog.NewTextHandler(out, nil)).With("component", "emulator")
	s.Emulator, err = emulator.New(emulator.Config{Functions: fns, Logger: emuLog, Output: out,
		InitTimeout: opts.InitTimeout, ShutdownDeadline: opts.ShutdownDeadline,
		Queues: []emulator.QueueConfig{{Name: OrdersQueue, Consumer: "shipping", BatchSize: 10, BatchWindow: opts.batchWindow()}}})
	if err != nil {
		return nil, fmt.Errorf("configure emulator: %w", err)
	}
	if err := s.Emulator.Start(ctx); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	return s, nil
}

func (s *Stack) startCollector(ctx context.Context) error {
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	s.APIKey = hex.EncodeToString(key)
	addr, err := freeport.Addr()
	if err != nil {
		return err
	}
	s.CollectorAddr = addr
	if s.AdminAddr, err = freeport.Addr(); err != nil {
		return err
	}
	if s.collLog, err = os.Create(filepath.Join(s.opts.WorkDir, "collector.log")); err != nil {
		return fmt.Errorf("create collector log: %w", err)
	}
	return s.launchCollector(ctx)
}

// launchCollector starts the collector process on the stack's address and
// waits until it serves. Its data directory (WAL, quarantine) is in the
// work directory, so a restarted collector replays what the previous one
// left there; its
// OTLP/HTTP listener takes a free port so that several stacks can run on
// one machine.
func (s *Stack) launchCollector(ctx context.Context) error {
	dataDir, err := filepath.Abs(filepath.Join(s.opts.WorkDir, "collector-data"))
	if err != nil {
		return fmt.Errorf("collector data directory: %w", err)
	}
	cmd := exec.Command(s.Bin.Collector,
		"--grpc-addr", s.CollectorAddr,
		"--http-addr", "127.0.0.1:0",
		"--admin-addr", s.AdminAddr,
		"--data-dir", dataDir,
		"--clickhouse-dsn", s.DSN,
		"--api-key-sha256", collector.HashAPIKey(s.APIKey))
	cmd.Stdout, cmd.Stderr = s.collLog, s.collLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s.log.Info("starting the collector", "addr", s.CollectorAddr)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start collector: %w", err)
	}
	s.collector, s.collDone = cmd, make(chan error, 1)
	go func() { s.collDone <- cmd.Wait() }()
	return s.waitCollector(ctx)
}

// waitCollector waits until the collector's gRPC health check says SERVING.
func (s *Stack) waitCollector(ctx context.Context) error {
	conn, err := grpc.NewClient(s.CollectorAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial collector: %w", err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case err := <-s.collDone:
			s.collDone <- err
			return fmt.Errorf("collector exited during start (%v); see %s", err, s.collLog.Name())
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := health.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("collector not serving after a minute (last: %v); see %s", err, s.collLog.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StopFunctions shuts every execution environment down, which makes the
// extensions flush what they hold. Safe to call more than once.
func (s *Stack) StopFunctions(ctx context.Context) error {
	if s.Emulator == nil || s.funcsDown {
		return nil
	}
	s.funcsDown = true
	if err := s.Emulator.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down functions: %w", err)
	}
	return s.WaitStored(ctx)
}

// WaitStored waits until the collector's WAL is empty, so that every batch
// it acknowledged can be read from ClickHouse: a batch acknowledged from
// the WAL while its insert went on (wal.ack_after) is stored a little
// after its answer. It returns at once when the collector is stopped, and
// gives up after two minutes.
func (s *Stack) WaitStored(ctx context.Context) error {
	if s.collector == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	url := "http://" + s.AdminAddr + "/metrics"
	last := "no answer"
	for {
		n, err := walRecords(ctx, url)
		if err == nil && n == 0 {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%v batches in the WAL", n)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("collector's WAL not empty (%s): %w; see %s", last, ctx.Err(), s.collLog.Name())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// walRecords reads lambdascope_collector_wal_records from the collector's
// /metrics.
func walRecords(ctx context.Context, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("collector metrics: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("collector metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, fmt.Errorf("collector metrics: %w", err)
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, "lambdascope_collector_wal_records "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("collector metrics: wal_records %q: %w", v, err)
			}
			return n, nil
		}
	}
	return 0, errors.New("collector metrics: no lambdascope_collector_wal_records")
}

// StopCollector stops the collector gracefully (SIGTERM, then SIGKILL after
// 30 s). Safe to call more than once.
func (s *Stack) StopCollector() error {
	if s.collector == nil {
		return nil
	}
	cmd := s.collector
	s.collector = nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.collDone:
		if err != nil {
			return fmt.Errorf("collector exited with %v; see %s", err, s.collLog.Name())
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-s.collDone
		return errors.New("collector did not stop within 30s of SIGTERM and was killed")
	}
}

// Stop stops the functions, the collector and ClickHouse, in that order.
func (s *Stack) Stop(ctx context.Context) error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	errs := []error{s.StopFunctions(ctx), s.StopCollector()}
	if s.ClickHouse != nil {
		errs = append(errs, s.ClickHouse.Stop())
	}
	for _, f := range []*os.File{s.collLog, s.fnLog} {
		if f != nil {
			_ = f.Close()
		}
	}
	return errors.Join(errs...)
}

// CollectorLog is the path of the collector's log file.
func (s *Stack) CollectorLog() string { return filepath.Join(s.opts.WorkDir, "collector.log") }
