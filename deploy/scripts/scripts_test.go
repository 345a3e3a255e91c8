package scripts

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShellScriptsParse runs `bash -n` on every shell script git knows of.
func TestShellScriptsParse(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("find the repository root: %v", err)
	}
	dir := strings.TrimSpace(string(root))
	out, err := exec.Command("git", "-C", dir, "ls-files", "*.sh", ".ci/run").Output()
	if err != nil {
		t.Fatalf("list shell scripts: %v", err)
	}
	scripts := strings.Fields(string(out))
	if len(scripts) < 5 {
		t.Fatalf("found only %d shell scripts (%v): the listing is wrong", len(scripts), scripts)
	}
	for _, s := range scripts {
		t.Run(s, func(t *testing.T) {
			if msg, err := exec.Command("bash", "-n", filepath.Join(dir, s)).CombinedOutput(); err != nil {
				t.Errorf("bash -n %s: %v\n%s", s, err, msg)
			}
		})
	}
}
