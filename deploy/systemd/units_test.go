package systemd

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/collector"
)

// parseUnit reads a unit file into section -> keys, failing on lines that
// are neither comments, sections nor key=value pairs.
func parseUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	units := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			units[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			units[section][k] = append(units[section][k], v)
		}
	}
	return units
}

func TestUnits(t *testing.T) {
	paths, _ := filepath.Glob("*.service")
	if len(paths) != 2 {
		t.Fatalf("found units %v, want the collector's and ClickHouse's", paths)
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			u := parseUnit(t, p)
			for _, want := range []struct{ section, key string }{
				{"Unit", "Description"}, {"Service", "ExecStart"}, {"Service", "Restart"}, {"Install", "WantedBy"},
			} {
				if len(u[want.section][want.key]) == 0 {
					t.Errorf("%s lacks [%s] %s", p, want.section, want.key)
				}
			}
		})
	}
	u := parseUnit(t, "lambdascope-collector.service")
	if got := u["Service"]["ExecStart"]; len(got) != 1 || !strings.Contains(got[0], "--config %d/collector.yaml") {
		t.Errorf("collector unit does not pass --config from its credentials: %v", got)
	}
	// The WAL sits in the state directory, the only place the service may
	// write, and memory is capped (the binary derives GOMEMLIMIT from it).
	for _, want := range []struct{ key, value string }{
		{"StateDirectory", "lambdascope-collector"},
		{"Environment", "LAMBDASCOPE_DATA_DIR=" + collector.DefaultDataDir},
		{"StateDirectory", strings.TrimPrefix(collector.DefaultDataDir, "/var/lib/")},
		{"LoadCredential", "collector.yaml:/etc/lambdascope/collector.yaml"},
		{"ProtectSystem", "strict"},
		{"UMask", "0077"},
	} {
		if !slices.Contains(u["Service"][want.key], want.value) {
			t.Errorf("collector unit: [Service] %s = %v, want %q among them", want.key, u["Service"][want.key], want.value)
		}
	}
	if len(u["Service"]["MemoryMax"]) == 0 {
		t.Error("collector unit sets no MemoryMax")
	}
}

// maxExposure is the highest overall exposure systemd-analyze security may
// give a unit: 0 is fully sandboxed, 10 not at all ("OK" ends at 4.9).
const maxExposure = 2.0

// systemdAnalyze finds systemd-analyze. Under CI=true its absence fails the
// test; elsewhere the units are then checked by the parser only.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze not installed (Debian package systemd); make deps installs it")
		}
		t.Skip("systemd-analyze not installed; units checked by the parser only")
	}
	return bin
}

// TestUnitsVerify runs systemd-analyze verify, which needs no running
// systemd: it loads each unit from its file and reports unknown keys, bad
// values and missing executables.
func TestUnitsVerify(t *testing.T) {
	bin := systemdAnalyze(t)
	paths, _ := filepath.Glob("*.service")
	args := append([]string{"verify", "--man=no"}, prefixDot(paths)...)
	out, _ := exec.CommandContext(t.Context(), bin, args...).CombinedOutput()
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		// The binaries are not installed on a test machine.
		if line == "" || strings.Contains(line, "is not executable: No such file or directory") {
			continue
		}
		t.Errorf("systemd-analyze verify: %s", line)
	}
}

// TestUnitsSandboxed runs systemd-analyze security on the unit files
// (--offline=true: no running systemd needed) and holds each unit's overall
// exposure at or below maxExposure.
func TestUnitsSandboxed(t *testing.T) {
	bin := systemdAnalyze(t)
	paths, _ := filepath.Glob("*.service")
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), bin, "security", "--offline=true", "--no-pager", "./"+p).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze security %s: %v\n%s", p, err, out)
			}
			exposure, err := overallExposure(string(out))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			t.Logf("%s: overall exposure %.1f", p, exposure)
			if exposure > maxExposure {
				t.Errorf("%s: overall exposure %.1f, want at most %.1f; what counts:\n%s", p, exposure, maxExposure, exposed(string(out)))
			}
		})
	}
}

var overallRe = regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+\.[0-9]+)`)

// overallExposure reads the overall exposure from systemd-analyze
// security's report.
func overallExposure(report string) (float64, error) {
	m := overallRe.FindStringSubmatch(report)
	if m == nil {
		return 0, errors.New("no overall exposure level in the systemd-analyze security report")
	}
	return strconv.ParseFloat(m[1], 64)
}

// exposed keeps the report's lines of settings that add to the exposure.
func exposed(report string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(report, "\n") {
		if strings.HasPrefix(line, "✗") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func prefixDot(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = "./" + p
	}
	return out
}
