package memlimit

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// fakeCgroup writes a /proc/self/cgroup and a cgroup tree under a temporary
// directory: files maps paths under the cgroup root to their contents.
func fakeCgroup(t *testing.T, membership string, files map[string]string) Cgroup {
	t.Helper()
	dir := t.TempDir()
	c := Cgroup{ProcCgroup: filepath.Join(dir, "proc-self-cgroup"), Root: filepath.Join(dir, "sys-fs-cgroup")}
	if err := os.WriteFile(c.ProcCgroup, []byte(membership), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(c.Root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

const service = "/system.slice/lambdascope-collector.service"

func TestLimit(t *testing.T) {
	tests := []struct {
		name       string
		membership string
		files      map[string]string
		want       int64
		wantOK     bool
		wantErr    string
	}{
		{"v2 MemoryMax on the service", "0::" + service + "\n",
			map[string]string{"memory.max": "max\n", "system.slice/memory.max": "max\n", "system.slice/lambdascope-collector.service/memory.max": "1073741824\n"},
			1 << 30, true, ""},
		{"v2 tighter limit on the slice", "0::" + service + "\n",
			map[string]string{"system.slice/memory.max": "536870912\n", "system.slice/lambdascope-collector.service/memory.max": "1073741824\n"},
			512 << 20, true, ""},
		{"v2 no limit anywhere", "0::" + service + "\n",
			map[string]string{"system.slice/memory.max": "max\n", "system.slice/lambdascope-collector.service/memory.max": "max\n"},
			0, false, ""},
		{"v2 inside a cgroup namespace (container)", "0::/\n",
			map[string]string{"memory.max": "268435456\n"},
			256 << 20, true, ""},
		{"v2 path not mounted here", "0::/elsewhere/x\n", nil, 0, false, ""},
		{"v1 memory controller", "4:memory:/docker/abc\n3:cpu:/docker/abc\n0::/\n",
			map[string]string{"memory/docker/abc/memory.limit_in_bytes": "2147483648\n", "memory/memory.limit_in_bytes": "9223372036854771712\n"},
			2 << 30, true, ""},
		{"v1 unlimited", "4:cpu,memory:/x\n",
			map[string]string{"memory/x/memory.limit_in_bytes": "9223372036854771712\n"},
			0, false, ""},
		{"garbage in the limit file", "0::/s\n",
			map[string]string{"s/memory.max": "lots\n"},
			0, false, `memory.max in /s: limit "lots" is neither max nor a number of bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeCgroup(t, tt.membership, tt.files)
			got, ok, err := c.Limit()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Limit() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || ok != tt.wantOK {
				t.Fatalf("Limit() = %d, %v, %v; want %d, %v, nil", got, ok, err, tt.want, tt.wantOK)
			}
		})
	}
	if _, _, err := (Cgroup{ProcCgroup: filepath.Join(t.TempDir(), "none"), Root: "/"}).Limit(); err == nil {
		t.Error("Limit() without a membership file: got no error")
	}
}

// keepRuntimeLimit restores the runtime's soft memory limit after a test
// that changes it.
func keepRuntimeLimit(t *testing.T) {
	t.Helper()
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
}

// unsetGOMEMLIMIT unsets GOMEMLIMIT for the test (t.Setenv restores it).
func unsetGOMEMLIMIT(t *testing.T) {
	t.Helper()
	t.Setenv("GOMEMLIMIT", "")
	if err := os.Unsetenv("GOMEMLIMIT"); err != nil {
		t.Fatal(err)
	}
}

func TestApplySetsNinetyPercentOfTheCgroupLimit(t *testing.T) {
	keepRuntimeLimit(t)
	unsetGOMEMLIMIT(t)
	debug.SetMemoryLimit(math.MaxInt64)
	c := fakeCgroup(t, "0::"+service+"\n", map[string]string{"system.slice/lambdascope-collector.service/memory.max": "1000000000\n"})
	var logs bytes.Buffer
	if got := Apply(c, slog.New(slog.NewTextHandler(&logs, nil))); got != 900_000_000 {
		t.Errorf("Apply() = %d, want 900000000", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 900_000_000 {
		t.Errorf("runtime soft memory limit = %d, want 900000000", got)
	}
	if !strings.Contains(logs.String(), "soft_limit_bytes=900000000") {
		t.Errorf("log does not give the limit set: %s", logs.String())
	}
}

func TestApplyLeavesTheRuntimeAlone(t *testing.T) {
	limited := map[string]string{"s/memory.max": "1000000000\n"}
	tests := []struct {
		name       string
		gomemlimit string // "" leaves GOMEMLIMIT unset
		membership string
		files      map[string]string
		wantLog    string
	}{
		{"GOMEMLIMIT set", "700MiB", "0::/s\n", limited, "gomemlimit=700MiB"},
		{"no cgroup limit", "", "0::/s\n", map[string]string{"s/memory.max": "max\n"}, ""},
		{"unreadable limit", "", "0::/s\n", map[string]string{"s/memory.max": "-1\n"}, "cannot read the cgroup's memory limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keepRuntimeLimit(t)
			debug.SetMemoryLimit(math.MaxInt64)
			if tt.gomemlimit != "" {
				t.Setenv("GOMEMLIMIT", tt.gomemlimit)
			} else {
				unsetGOMEMLIMIT(t)
			}
			var logs bytes.Buffer
			c := fakeCgroup(t, tt.membership, tt.files)
			if got := Apply(c, slog.New(slog.NewTextHandler(&logs, nil))); got != 0 {
				t.Errorf("Apply() = %d, want 0", got)
			}
			if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
				t.Errorf("runtime soft memory limit = %d, want it untouched", got)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q does not contain %q", logs.String(), tt.wantLog)
			}
		})
	}
}
