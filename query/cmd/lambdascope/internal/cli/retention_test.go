package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
)

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

func TestRetentionMergesClosedDays(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	day := time.Now().UTC().AddDate(0, 0, -2)
	// Each export is written by its own insert: two parts of one closed day.
	for _, id := range []string{"first", "second"} {
		req := &ingestv1.ExportRequest{
			Function:    &ingestv1.FunctionIdentity{Name: "merge"},
			Invocations: []*ingestv1.Invocation{{RequestId: id, StartTimeUnixNano: uint64(day.UnixNano())}},
		}
		if _, err := st.WriteExport(t.Context(), req); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	env := map[string]string{EnvDSN: dsn, EnvRetentionDays: "invocations=30"}

	r := run(t, env, "retention", "--apply", "--merge=false")
	if r.code != ExitOK || strings.Contains(r.stdout, "Merged") || strings.Contains(r.stdout, "Nothing to merge") {
		t.Fatalf("--merge=false: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "retention", "--apply")
	if r.code != ExitOK || !strings.Contains(r.stdout, "Merged 1 closed partitions") || !strings.Contains(r.stdout, "invocations  "+day.Format("2006-01-02")) {
		t.Fatalf("apply: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	recs, err := st.Invocations(t.Context(), storage.InvocationFilter{FunctionName: "merge"})
	if err != nil || len(recs) != 2 {
		t.Fatalf("after the merge: %d invocations, %v; want both", len(recs), err)
	}
	r = run(t, env, "retention", "--apply")
	if r.code != ExitOK || !strings.Contains(r.stdout, "Nothing to merge") {
		t.Fatalf("second apply: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "retention", "--merge-timeout", "0s")
	if r.code == ExitOK || !strings.Contains(r.stderr, "--merge-timeout") {
		t.Fatalf("--merge-timeout 0s: code %d, stderr %q", r.code, r.stderr)
	}
}
