package extension_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/extension"
)

// deadPID returns the process ID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestWrapper runs the exec wrapper under each POSIX shell at hand with a
// "runtime" that prints its arguments and AWS_LAMBDA_RUNTIME_API. The
// runtime is pointed at the proxy only when it is announced by a live
// process and not turned off; otherwise it runs against the real API.
func TestWrapper(t *testing.T) {
	const real, proxy = "127.0.0.1:9001", "127.0.0.1:34567"
	tests := []struct {
		name     string
		announce string // file content; "" writes no file
		env      []string
		want     string
	}{
		{"announced by a live process", proxy + " " + strconv.Itoa(os.Getpid()) + "\n", nil, proxy},
		{"not announced (proxy not up)", "", nil, real},
		{"announced by a process that died", proxy + " " + strconv.Itoa(deadPID(t)) + "\n", nil, real},
		{"turned off", proxy + " " + strconv.Itoa(os.Getpid()) + "\n", []string{"LAMBDASCOPE_RUNTIME_PROXY=false"}, real},
		{"turned off with 0", proxy + " " + strconv.Itoa(os.Getpid()) + "\n", []string{"LAMBDASCOPE_RUNTIME_PROXY=0"}, real},
		{"explicitly on", proxy + " " + strconv.Itoa(os.Getpid()) + "\n", []string{"LAMBDASCOPE_RUNTIME_PROXY=true"}, proxy},
		{"empty announcement", "\n", nil, real},
		{"announcement without a process ID", proxy + "\n", nil, real},
	}
	wrapper := filepath.Join(t.TempDir(), extension.WrapperPath)
	if err := os.WriteFile(wrapper, []byte(extension.Wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, shell := range shells(t) {
		for _, tt := range tests {
			t.Run(filepath.Base(shell[0])+"/"+tt.name, func(t *testing.T) {
				tmp := t.TempDir()
				if tt.announce != "" {
					if err := os.WriteFile(filepath.Join(tmp, extension.RuntimeAPIFile), []byte(tt.announce), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				args := append(append([]string{}, shell[1:]...), wrapper, "/bin/sh", "-c", `printf '%s|%s|%s' "$AWS_LAMBDA_RUNTIME_API" "$1" "$2"; exit 7`, "runtime", "first arg", "*")
				cmd := exec.CommandContext(t.Context(), shell[0], args...)
				cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp, "AWS_LAMBDA_RUNTIME_API=" + real}, tt.env...)
				out, err := cmd.Output()
				if code := cmd.ProcessState.ExitCode(); code != 7 {
					t.Fatalf("exit code %d (%v), want the runtime's 7; output %q", code, err, out)
				}
				if want := tt.want + "|first arg|*"; string(out) != want {
					t.Errorf("runtime saw %q, want %q", out, want)
				}
			})
		}
	}
}

// TestWrapperWithoutCommand fails clearly rather than doing nothing.
func TestWrapperWithoutCommand(t *testing.T) {
	wrapper := filepath.Join(t.TempDir(), extension.WrapperPath)
	if err := os.WriteFile(wrapper, []byte(extension.Wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), wrapper)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 127 || !strings.Contains(string(out), "no command to run") {
		t.Errorf("exit %d, output %q", cmd.ProcessState.ExitCode(), out)
	}
}

// shells are the shells the wrapper runs under: /bin/sh always (dash on
// Debian, bash on Amazon Linux), bash in POSIX mode and busybox's sh when
// installed.
func shells(t *testing.T) [][]string {
	t.Helper()
	out := [][]string{{"/bin/sh"}}
	if p, err := exec.LookPath("bash"); err == nil {
		out = append(out, []string{p, "--posix"})
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		out = append(out, []string{p, "sh"})
	}
	return out
}

// TestWrapperIsExecutable: the layer build copies the file's mode.
func TestWrapperIsExecutable(t *testing.T) {
	info, err := os.Stat(extension.WrapperPath)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm()&0o111 == 0 {
		t.Error("extension/lambdascope-wrapper is not executable")
	}
}

// TestWrapperAsBootstrap runs the wrapper as an OS-only runtime's
// bootstrap: a link named bootstrap in the task root, started without
// arguments, as Lambda starts it. It runs bootstrap.real beside it, or
// the program LAMBDASCOPE_BOOTSTRAP names, pointed at the proxy when it is
// announced; a missing program fails clearly.
func TestWrapperAsBootstrap(t *testing.T) {
	const real, proxy = "127.0.0.1:9001", "127.0.0.1:34567"
	wrapper := filepath.Join(t.TempDir(), extension.WrapperPath)
	if err := os.WriteFile(wrapper, []byte(extension.Wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	program := func(name string) string {
		return "#!/bin/sh\nprintf '%s|%s|%s' " + name + ` "$AWS_LAMBDA_RUNTIME_API" "$#"; exit 7` + "\n"
	}
	other := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(other, []byte(program("elsewhere")), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		files    map[string]string // in the task root, with bootstrap linked to the wrapper
		env      []string
		announce bool
		want     string // output, or the error's text when code is 127
		code     int
	}{
		{"bootstrap.real, proxy up", map[string]string{"bootstrap.real": program("real")}, nil, true, "real|" + proxy + "|0", 7},
		{"bootstrap.real, proxy not up", map[string]string{"bootstrap.real": program("real")}, nil, false, "real|" + real + "|0", 7},
		{"named, relative", map[string]string{"app": program("app")}, []string{"LAMBDASCOPE_BOOTSTRAP=app"}, true, "app|" + proxy + "|0", 7},
		{"named, absolute", nil, []string{"LAMBDASCOPE_BOOTSTRAP=" + other}, true, "elsewhere|" + proxy + "|0", 7},
		{"program missing", nil, nil, true, "bootstrap.real is not an executable file", 127},
		{"program not executable", map[string]string{"bootstrap.real": "data"}, nil, true, "bootstrap.real is not an executable file", 127},
	}
	for _, shell := range shells(t) {
		for _, tt := range tests {
			t.Run(filepath.Base(shell[0])+"/"+tt.name, func(t *testing.T) {
				root, tmp := t.TempDir(), t.TempDir()
				if err := os.Symlink(wrapper, filepath.Join(root, "bootstrap")); err != nil {
					t.Fatal(err)
				}
				for name, content := range tt.files {
					mode := os.FileMode(0o755)
					if content == "data" {
						mode = 0o644
					}
					if err := os.WriteFile(filepath.Join(root, name), []byte(content), mode); err != nil {
						t.Fatal(err)
					}
				}
				if tt.announce {
					ann := proxy + " " + strconv.Itoa(os.Getpid()) + "\n"
					if err := os.WriteFile(filepath.Join(tmp, extension.RuntimeAPIFile), []byte(ann), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				args := append(append([]string{}, shell[1:]...), filepath.Join(root, "bootstrap"))
				cmd := exec.CommandContext(t.Context(), shell[0], args...)
				cmd.Dir = t.TempDir() // not the task root: the program is found through LAMBDA_TASK_ROOT
				cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp, "AWS_LAMBDA_RUNTIME_API=" + real,
					"LAMBDA_TASK_ROOT=" + root}, tt.env...)
				var stdout, stderr strings.Builder
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				_ = cmd.Run()
				if code := cmd.ProcessState.ExitCode(); code != tt.code {
					t.Fatalf("exit code %d, want %d; stdout %q stderr %q", code, tt.code, stdout.String(), stderr.String())
				}
				got := stdout.String()
				if tt.code == 127 {
					got = stderr.String()
					if !strings.Contains(got, tt.want) || !strings.Contains(got, root) {
						t.Errorf("error %q; want it to name %s/%s", got, root, "bootstrap.real")
					}
					return
				}
				if got != tt.want {
					t.Errorf("the program saw %q, want %q", got, tt.want)
				}
			})
		}
	}
}
