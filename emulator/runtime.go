package emulator

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// runtimeFiles are the emulator's managed runtimes, one directory each,
// laid out as Lambda's /var/runtime: a bootstrap and what it runs.
//
//go:embed runtimes
var runtimeFiles embed.FS

// managedRuntimes maps each managed runtime identifier the emulator runs
// to the directory of its files in runtimeFiles.
var managedRuntimes = map[string]string{
	"nodejs18.x": "nodejs",
	"nodejs20.x": "nodejs",
	"nodejs22.x": "nodejs",
}

// handlerRE is the form of a managed runtime's handler: "file.export",
// the file relative to the task root.
var handlerRE = regexp.MustCompile(`^[^\s]+\.[A-Za-z_$][A-Za-z0-9_$]*$`)

// managed says whether the function runs in a managed runtime.
func (f FunctionConfig) managed() bool { return f.Runtime != "" }

// writeRuntimes copies the managed runtimes the functions use into a new
// directory under the system's temporary directory and returns it.
func writeRuntimes(fns []FunctionConfig) (string, error) {
	need := map[string]bool{}
	for _, f := range fns {
		if f.managed() {
			need[managedRuntimes[f.Runtime]] = true
		}
	}
	if len(need) == 0 {
		return "", nil
	}
	dir, err := os.MkdirTemp("", "lambda-runtimes-")
	if err != nil {
		return "", fmt.Errorf("create runtime directory: %w", err)
	}
	for name := range need {
		err := fs.WalkDir(runtimeFiles, "runtimes/"+name, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := runtimeFiles.ReadFile(p)
			if err != nil {
				return err
			}
			out := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, "runtimes/")))
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			return os.WriteFile(out, data, 0o755)
		})
		if err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("write runtime %s: %w", name, err)
		}
	}
	return dir, nil
}
