package rie_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/deploy/rie"
	"github.com/lambdascope/lambdascope/internal/testload"
)

// shared is what every test of the package uses: one backend (ClickHouse
// and the collector), the layer zip, the emulator and the function's
// bootstrap, made once by the first test that needs them.
var shared struct {
	once     sync.Once
	err      error
	workDir  string
	stack    *local.Stack
	rie      string
	layerZip string
	goFn     string
	nodeFn   string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stack != nil {
		if err := shared.stack.Stop(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "stop stack:", err)
			code = 1
		}
	}
	if shared.workDir != "" && code == 0 {
		_ = os.RemoveAll(shared.workDir)
	}
	os.Exit(code)
}

// need skips the test, or fails it under CI=true, when this machine cannot
// run the emulator's sandboxes; it returns the repository root.
func need(t *testing.T) string {
	t.Helper()
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (for a private mount namespace)")
	}
	for _, tool := range []string{"unshare", "mount", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := rie.Find(root); err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) > 0 {
		msg := "cannot run functions under AWS's emulator here: missing " + strings.Join(missing, "; ")
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return root
}

// setup starts the shared backend and builds what the sandboxes run.
func setup(t *testing.T) {
	t.Helper()
	root := need(t)
	shared.once.Do(func() { shared.err = doSetup(root) })
	if shared.err != nil {
		t.Fatalf("set up: %v", shared.err)
	}
}

func doSetup(root string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "lambdascope-rie-")
	if err != nil {
		return err
	}
	shared.workDir = dir
	if shared.rie, err = rie.Find(root); err != nil {
		return err
	}
	if zip := os.Getenv("LAMBDASCOPE_RIE_LAYER_ZIP"); zip != "" {
		shared.layerZip = zip
	} else {
		arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
		if shared.layerZip, err = layer.Build(ctx, root, arch, filepath.Join(dir, "layer")); err != nil {
			return err
		}
	}
	shared.goFn = filepath.Join(dir, "function", "bootstrap")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", shared.goFn, "./deploy/rie/internal/function")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the function: %w\n%s", err, out)
	}
	shared.nodeFn = filepath.Join(root, "deploy", "rie", "testdata", "node", "bootstrap")
	shared.stack, err = local.Start(ctx, local.Options{
		WorkDir:     filepath.Join(dir, "stack"),
		BackendOnly: true,
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return err
}

// sandbox starts a sandbox for the test with the layer, shipping to the
// shared collector; it is shut down at the end of the test if the test
// has not done so.
func sandbox(t *testing.T, ctx context.Context, opts rie.Options) *rie.Sandbox {
	t.Helper()
	sb, _ := sandboxOutput(t, ctx, opts)
	return sb
}

// sandboxOutput is sandbox, with the emulator's, the runtime's and the
// extensions' output.
func sandboxOutput(t *testing.T, ctx context.Context, opts rie.Options) (*rie.Sandbox, *syncBuffer) {
	t.Helper()
	opts.RIE = shared.rie
	if opts.Env == nil {
		opts.Env = map[string]string{}
	}
	if opts.Layer == "" {
		opts.Layer = shared.layerZip
	}
	opts.Env["LAMBDASCOPE_ENDPOINT"] = shared.stack.CollectorAddr
	opts.Env["LAMBDASCOPE_API_KEY"] = shared.stack.APIKey
	opts.Env["LAMBDASCOPE_LOG_LEVEL"] = "info"
	var (
		sb  *rie.Sandbox
		out *syncBuffer
		err error
	)
	// AWS's emulator deadlocks in Managed Instances mode when a telemetry
	// batch falls due before the extension answered the previous one,
	// which happens while the extension starts on a busy machine; a
	// sandbox whose start stalled so is started again, four times at most.
	for attempt := 1; ; attempt++ {
		out = &syncBuffer{}
		opts.Output = out
		opts.WorkDir = t.TempDir()
		sb, err = rie.Start(ctx, opts)
		if !errors.Is(err, rie.ErrTelemetryStalled) || attempt == 5 {
			break
		}
		t.Logf("sandbox of %s, attempt %d: %v; starting it again", opts.FunctionName, attempt, err)
	}
	if err != nil {
		t.Fatalf("start sandbox: %v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		_ = sb.Shutdown(context.Background())
		if t.Failed() {
			t.Logf("output of the sandbox of %s:\n%s", opts.FunctionName, out.String())
		}
	})
	return sb, out
}

// stallRuns is how many times retryStalled runs a scenario at most.
const stallRuns = 3

// retryStalled runs a scenario under Managed Instances until AWS's
// emulator does not stall in it, stallRuns times at most. The emulator
// deadlocks when a telemetry batch falls due before the extension answered
// the previous one (a defect of the pinned emulator, which Lambda does not
// share: see emulator/README.md); on a loaded machine that can happen
// whatever the extension does. The scenario returns its sandbox when the
// emulator stalled in it, before it asserted anything of the calls the
// stall cut short, and nil otherwise; a stalled sandbox is shut down, the
// run logged, and the scenario run again in a new sandbox, under a new
// function name.
func retryStalled(t *testing.T, ctx context.Context, scenario func() *rie.Sandbox) {
	t.Helper()
	for run := 1; ; run++ {
		sb := scenario()
		if sb == nil {
			return
		}
		_ = sb.Shutdown(ctx)
		if run == stallRuns {
			t.Fatalf("AWS's emulator stalled in %d runs of %d: it dropped a telemetry batch because the extension had not answered "+
				"the previous one within its buffering window, and its Telemetry API is deadlocked from then on (see emulator/README.md)", run, stallRuns)
		}
		t.Logf("run %d: AWS's emulator stalled (its Telemetry API deadlocked); running the scenario again in a new sandbox", run)
	}
}

// syncBuffer is an io.Writer several goroutines may write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cli runs the lambdascope CLI against the shared ClickHouse and decodes
// its JSON output into v.
func cli(t *testing.T, ctx context.Context, v any, args ...string) {
	t.Helper()
	if err := tryCLI(ctx, v, args...); err != nil {
		t.Fatal(err)
	}
}

// tryCLI is cli returning what went wrong: the CLI exits with 1 when what
// is asked for is not (yet) there.
func tryCLI(ctx context.Context, v any, args ...string) error {
	args = append(args, "--output", "json", "--color", "never")
	cmd := exec.CommandContext(ctx, shared.stack.Bin.CLI, args...)
	cmd.Env = append(os.Environ(), "LAMBDASCOPE_CLICKHOUSE_DSN="+shared.stack.DSN)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("lambdascope %s: %w\n%s%s", strings.Join(args, " "), err, out, ee.Stderr)
		}
		return fmt.Errorf("lambdascope %s: %w", strings.Join(args, " "), err)
	}
	// v is read afresh: json.Unmarshal decodes an array into the elements
	// a slice already holds, keeping the fields a record leaves out (a
	// false figure is omitted), so a poll that read the records in
	// another order would mix them.
	reflect.ValueOf(v).Elem().SetZero()
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("lambdascope %s: decode output: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// functionName is name with a suffix of its own, so that a test run again
// against the same ClickHouse (-count) reads only its own data.
func functionName(name string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return name + "-" + hex.EncodeToString(b)
}

// eventually calls check until it returns "" (what is still missing
// otherwise), for a minute on an unloaded machine and longer on a loaded
// one (at most three), or until ctx ends: the collector writes to
// ClickHouse in batches, a moment after the extension shipped, and on a
// loaded machine that moment can be long, but not minutes (in the tests'
// runs under load, what was stored at all was there within seconds). The
// failure says what was still missing, and since when nothing changed.
func eventually(t *testing.T, ctx context.Context, check func() string) {
	t.Helper()
	start := time.Now()
	bound := testload.Scale(time.Minute, dataWaitLimit)
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	last, since := "", start
	for {
		missing := check()
		if missing == "" {
			return
		}
		if missing != last {
			last, since = missing, time.Now()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stored data still missing after %v (bound %v): %s (unchanged for %v)",
				time.Since(start).Round(time.Second), bound.Round(time.Second), missing, time.Since(since).Round(time.Second))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// dataWaitLimit bounds eventually's wait on any machine: well inside go
// test's default timeout, so that data that never comes fails the test
// with what was missing rather than ending the run.
const dataWaitLimit = 3 * time.Minute
