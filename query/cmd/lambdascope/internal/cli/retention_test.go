package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
)

func TestRetentionUsage(t *testing.T) {
	tests := []struct {
		name                   string
		args                   []string
		env                    map[string]string
		wantCode               int
		wantStdout, wantStderr string
	}{
		{name: "help says dry run", args: []string{"retention", "--help"}, wantStdout: "deletes nothing (a\ndry run)"},
		{name: "help lists tables", args: []string{"help", "retention"}, wantStdout: "spans, logs, invocations"},
		{name: "root lists it", args: []string{"help"}, wantStdout: "retention"},
		{name: "no days", args: []string{"retention"}, wantCode: ExitUsage, wantStderr: "retention needs --days"},
		{name: "unknown table", args: []string{"retention", "--days", "span=7"}, wantCode: ExitUsage, wantStderr: "retention_days.span: no such table"},
		{name: "zero days from env", args: []string{"retention"}, env: map[string]string{EnvRetentionDays: "default=0"}, wantCode: ExitUsage, wantStderr: "retention_days.default must be at least 1"},
		{name: "not table=days", args: []string{"retention", "--days", "30"}, wantCode: ExitUsage, wantStderr: `"30" must be table=days`},
		{name: "arguments", args: []string{"retention", "--days", "spans=7", "now"}, wantCode: ExitUsage, wantStderr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stdout %q / stderr %q; want %q / %q", r.stdout, r.stderr, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestRetentionDryRunThenApply(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	now := time.Now()
	old := now.AddDate(0, 0, -10)
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "ret"},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "old", StartTimeUnixNano: uint64(old.UnixNano())},
			{RequestId: "new", StartTimeUnixNano: uint64(now.UnixNano())},
		},
	}
	if _, err := st.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	left := func() []string {
		t.Helper()
		recs, err := st.Invocations(t.Context(), storage.InvocationFilter{FunctionName: "ret"})
		if err != nil {
			t.Fatalf("Invocations: %v", err)
		}
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.RequestID)
		}
		return ids
	}
	env := map[string]string{EnvDSN: dsn, EnvRetentionDays: "invocations=3"}
	oldDay := old.UTC().Format("2006-01-02")

	r := run(t, env, "retention")
	if r.code != ExitOK || !strings.Contains(r.stdout, "Would drop 1 partitions (dry run") || !strings.Contains(r.stdout, "invocations  "+oldDay) {
		t.Fatalf("dry run: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := left(); len(got) != 2 {
		t.Fatalf("the dry run deleted: invocations left %q", got)
	}

	r = run(t, env, "retention", "--apply")
	if r.code != ExitOK || !strings.Contains(r.stdout, "Dropped 1 partitions") || !strings.Contains(r.stdout, oldDay) {
		t.Fatalf("apply: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := left(); len(got) != 1 || got[0] != "new" {
		t.Fatalf("after --apply invocations left %q, want [new]", got)
	}

	r = run(t, env, "retention", "--apply")
	if r.code != ExitOK || !strings.Contains(r.stdout, "Nothing to drop") {
		t.Fatalf("second apply: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
