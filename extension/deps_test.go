package extension

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNothingLinksTheBackend: the extension's programs and their tests link
// no ClickHouse driver and no Grafana SDK; the extension stays small, and
// its tests build without the backend (the test CA is internal/testca, not
// storage/chtest).
func TestNothingLinksTheBackend(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "-test", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps -test ./...: %v\n%s", err, out)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		for _, banned := range []string{"github.com/ClickHouse/", "github.com/grafana/", "github.com/lambdascope/lambdascope/storage", "github.com/lambdascope/lambdascope/query"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("the extension's packages or tests link %s", dep)
			}
		}
	}
}
