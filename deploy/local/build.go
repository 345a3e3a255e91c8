package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/lambdascope/lambdascope/deploy/layer"
)

// Binaries are the paths of the programs a stack runs.
type Binaries struct {
	Collector string
	CLI       string
	Extension string
	// Functions maps a sample function's name to its bootstrap executable.
	Functions map[string]string
}

// SampleFunctions are the example functions under examples/functions.
var SampleFunctions = []string{"orders", "inventory"}

// Build compiles the collector, the CLI, the extension (static, laid out as
// in the layer under dir/layer: extensions/lambdascope and
// lambdascope/lambdascope-extension) and the sample functions into dir.
func Build(ctx context.Context, repoRoot, dir string) (Binaries, error) {
	b := Binaries{
		Collector: filepath.Join(dir, "lambdascope-collector"),
		CLI:       filepath.Join(dir, "lambdascope"),
		Extension: filepath.Join(dir, "layer", filepath.FromSlash(layer.BinaryPath)),
		Functions: map[string]string{},
	}
	jobs := backendJobs(b)
	for _, fn := range SampleFunctions {
		b.Functions[fn] = filepath.Join(dir, "functions", fn, "bootstrap")
		jobs = append(jobs, job{b.Functions[fn], "./examples/functions/" + fn, ""})
	}
	if _, err := layer.BuildTree(ctx, repoRoot, filepath.Join(dir, "layer")); err != nil {
		return Binaries{}, err
	}
	if err := buildJobs(ctx, repoRoot, jobs); err != nil {
		return Binaries{}, err
	}
	return b, nil
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
