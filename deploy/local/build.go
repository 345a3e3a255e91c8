package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lambdascope/lambdascope/deploy/layer"
)

// Binaries are the paths of the programs a stack runs.
type Binaries struct {
	Collector string
	CLI       string
	Extension string
	// Wrapper is the layer's exec wrapper (/opt/lambdascope-wrapper).
	Wrapper string
	// Functions maps a sample function's name to its bootstrap executable
	// (Go functions, OS-only runtime) or its code directory (Node.js).
	Functions map[string]string
}

// SampleFunctions are the example functions under examples/functions
// that each request to orders invokes once: Go functions with an
// OpenTelemetry SDK.
var SampleFunctions = []string{"orders", "inventory"}

// NodeFunctions are the sample functions written in JavaScript with no
// SDK, run in the nodejs20.x managed runtime with the layer's exec
// wrapper: shipping consumes the orders-placed queue in batches.
var NodeFunctions = map[string]bool{"shipping": true}

// AllFunctions are every sample function a stack runs.
func AllFunctions() []string { return append(slices.Clone(SampleFunctions), "shipping") }

// WrappedFunctions are the Go sample functions packaged to run through
// the layer's wrapper (an OS-only runtime runs no exec wrapper), as the
// README says: the program is bootstrap.real and bootstrap links to the
// wrapper. Both are, as a user would package them: the proxy sees each
// answer, so the extension does not wait for platform.runtimeDone.
var WrappedFunctions = map[string]bool{"orders": true, "inventory": true}

// Build compiles the collector, the CLI, the extension (static, laid out as
// in the layer under dir/layer: extensions/lambdascope and
// lambdascope/lambdascope-extension) and the sample functions into dir.
func Build(ctx context.Context, repoRoot, dir string) (Binaries, error) {
	b := Binaries{
		Collector: filepath.Join(dir, "lambdascope-collector"),
		CLI:       filepath.Join(dir, "lambdascope"),
		Extension: filepath.Join(dir, "layer", filepath.FromSlash(layer.BinaryPath)),
		Wrapper:   filepath.Join(dir, "layer", filepath.FromSlash(layer.WrapperPath)),
		Functions: map[string]string{},
	}
	jobs := backendJobs(b)
	var wrapped []string
	for _, fn := range AllFunctions() {
		fnDir := filepath.Join(dir, "functions", fn)
		switch {
		case NodeFunctions[fn]:
			b.Functions[fn] = fnDir
		case WrappedFunctions[fn]:
			b.Functions[fn] = filepath.Join(fnDir, "bootstrap")
			jobs = append(jobs, job{filepath.Join(fnDir, "bootstrap.real"), "./examples/functions/" + fn, ""})
			wrapped = append(wrapped, fn)
		default:
			b.Functions[fn] = filepath.Join(fnDir, "bootstrap")
			jobs = append(jobs, job{b.Functions[fn], "./examples/functions/" + fn, ""})
		}
	}
	if _, err := layer.BuildTree(ctx, repoRoot, filepath.Join(dir, "layer")); err != nil {
		return Binaries{}, err
	}
	if err := buildJobs(ctx, repoRoot, jobs); err != nil {
		return Binaries{}, err
	}
	for fn := range NodeFunctions {
		if err := copyDir(filepath.Join(repoRoot, "examples", "functions", fn), b.Functions[fn]); err != nil {
			return Binaries{}, fmt.Errorf("copy function %s: %w", fn, err)
		}
	}
	for _, fn := range wrapped {
		// The one-line packaging change of an OS-only runtime.
		_ = os.Remove(b.Functions[fn])
		if err := os.Symlink(b.Wrapper, b.Functions[fn]); err != nil {
			return Binaries{}, fmt.Errorf("link bootstrap of %s to the wrapper: %w", fn, err)
		}
	}
	return b, nil
}

// Program is the function's own program: bootstrap.real of a wrapped
// function, the bootstrap of another (the code directory of a Node.js
// one). A test that runs it as the bootstrap runs the function without
// the wrapper.
func (b Binaries) Program(fn string) string {
	if WrappedFunctions[fn] {
		return filepath.Join(filepath.Dir(b.Functions[fn]), "bootstrap.real")
	}
	return b.Functions[fn]
}

// copyDir copies the regular files of src (not its subdirectories) into
// dst.
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// BuildBackend compiles only the collector and the CLI into dir; the other
// fields of the result are empty.
func BuildBackend(ctx context.Context, repoRoot, dir string) (Binaries, error) {
	b := Binaries{
		Collector: filepath.Join(dir, "lambdascope-collector"),
		CLI:       filepath.Join(dir, "lambdascope"),
	}
	if err := buildJobs(ctx, repoRoot, backendJobs(b)); err != nil {
		return Binaries{}, err
	}
	return b, nil
}

type job struct{ out, pkg, tags string }

func backendJobs(b Binaries) []job {
	return []job{
		{b.Collector, "./collector/cmd/lambdascope-collector", ""},
		{b.CLI, "./query/cmd/lambdascope", ""},
	}
}

func buildJobs(ctx context.Context, repoRoot string, jobs []job) error {
	for _, j := range jobs {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", j.tags, "-o", j.out, j.pkg)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w\n%s", j.pkg, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// RepoRoot finds the repository root (the directory holding go.mod) from
// the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}
