package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
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
	// The WAL is on by default in the data directory: systemd must give the
	// service that directory.
	if u := parseUnit(t, "lambdascope-collector.service"); len(u["Service"]["StateDirectory"]) != 1 ||
		"/var/lib/"+u["Service"]["StateDirectory"][0] != collector.DefaultDataDir {
		t.Errorf("collector unit's StateDirectory %v is not the default data_dir %s", u["Service"]["StateDirectory"], collector.DefaultDataDir)
	}
	if u := parseUnit(t, "lambdascope-collector.service"); !strings.Contains(u["Service"]["ExecStart"][0], "--config /etc/lambdascope/collector.yaml") {
		t.Errorf("collector unit does not pass --config: %v", u["Service"]["ExecStart"])
	}
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed; units checked by the parser only")
		return
	}
	out, _ := exec.CommandContext(t.Context(), bin, "verify", "--man=no", "./lambdascope-collector.service", "./clickhouse-server.service").CombinedOutput()
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		// The binaries are not installed on a test machine.
		if line == "" || strings.Contains(line, "is not executable: No such file or directory") {
			continue
		}
		t.Errorf("systemd-analyze verify: %s", line)
	}
}
