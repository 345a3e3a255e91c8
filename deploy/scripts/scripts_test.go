package scripts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// shebang matches the first line of a script run by sh or bash.
var shebang = regexp.MustCompile(`^#!.*[/ ](ba)?sh( |$)`)

// shellScripts lists every file git knows of that sh or bash runs: those
// named *.sh and those whose first line names either, relative to the
// repository root.
func shellScripts(t *testing.T) (root string, scripts []string) {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("find the repository root: %v", err)
	}
	root = strings.TrimSpace(string(out))
	out, err = exec.Command("git", "-C", root, "ls-files").Output()
	if err != nil {
		t.Fatalf("list files: %v", err)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasSuffix(f, ".sh") {
			scripts = append(scripts, f)
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // deleted in the working tree
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		if shebang.Match(line) {
			scripts = append(scripts, f)
		}
	}
	if len(scripts) < 5 {
		t.Fatalf("found only %d shell scripts (%v): the listing is wrong", len(scripts), scripts)
	}
	return root, scripts
}

// TestShellScriptsParse runs `bash -n` on every shell script git knows of
// (make lint does the same).
func TestShellScriptsParse(t *testing.T) {
	root, scripts := shellScripts(t)
	for _, s := range scripts {
		t.Run(s, func(t *testing.T) {
			if msg, err := exec.Command("bash", "-n", filepath.Join(root, s)).CombinedOutput(); err != nil {
				t.Errorf("bash -n %s: %v\n%s", s, err, msg)
			}
		})
	}
}

// TestBenchScriptsFailLoudly holds every script under bench/ to stopping at
// the first failing command, unset variable or failing stage of a pipe, so
// that a failing benchmark ends the script with a non-zero status instead of
// a table with holes.
func TestBenchScriptsFailLoudly(t *testing.T) {
	root, scripts := shellScripts(t)
	n := 0
	for _, s := range scripts {
		if !strings.HasPrefix(s, "bench/") {
			continue
		}
		n++
		t.Run(s, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(root, s))
			if err != nil {
				t.Fatalf("read %s: %v", s, err)
			}
			if !regexp.MustCompile(`(?m)^set -euo pipefail$`).Match(b) {
				t.Errorf("%s does not `set -euo pipefail`", s)
			}
			if !bytes.HasPrefix(b, []byte("#!/usr/bin/env bash\n")) {
				t.Errorf("%s does not start with #!/usr/bin/env bash (pipefail needs bash)", s)
			}
		})
	}
	if n == 0 {
		t.Fatal("no scripts under bench/: the listing is wrong")
	}
}
