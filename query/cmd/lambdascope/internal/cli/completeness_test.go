package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// completeness prints stored against expected per function and hour and
// names the stage that lost items; --below keeps the hours under it.
func TestCompletenessCommand(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	start := time.Now().Add(-2 * time.Minute)
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:  []byte("complete-batch-1"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "lossy", Version: "1", MemoryMb: 128},
		Invocations: []*ingestv1.Invocation{{
			RequestId: "lossy-1", StartTimeUnixNano: uint64(start.UnixNano()), DurationMs: 5, BilledDurationMs: 5, MemorySizeMb: 128,
			Status: "success", Telemetry: &ingestv1.TelemetryCounts{LogLinesReceived: 4, LogLinesDropped: 4},
		}},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	r := run(t, env, "completeness", "--since", "3h")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != ExitOK || len(lines) != 2 || !strings.Contains(lines[0], "MISSING AT") ||
		!strings.Contains(lines[1], "0/4") || !strings.Contains(lines[1], "0.00 %") || !strings.Contains(lines[1], "extension buffer: 4 logs") {
		t.Errorf("completeness: exit %d, stdout %q, stderr %q; want lossy at 0 %% with 4 logs lost in the buffer", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "completeness", "--since", "3h", "--function", "other"); r.code != ExitOK || !strings.Contains(r.stdout, "No invocation records") {
		t.Errorf("completeness of another function: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := run(t, env, "completeness", "--since", "3h", "--where", "function!~lo.*"); r.code != ExitOK || !strings.Contains(r.stdout, "No invocation records") {
		t.Errorf("completeness with lossy left out: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := run(t, env, "completeness", "--below", "101"); r.code == ExitOK {
		t.Errorf("--below 101: exit %d, want a usage error", r.code)
	}
}

// cost --by observability prints the extension's added billed time, its
// start, what it shipped and the CloudWatch Logs comparison per function
// and day.
func TestObservabilityCostCommand(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	start := time.Now().Add(-2 * time.Minute)
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:  []byte("overhead-batch-2"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "obs", Version: "1", Architecture: "x86_64", MemoryMb: 2048},
		Invocations: []*ingestv1.Invocation{{
			RequestId: "obs-1", StartTimeUnixNano: uint64(start.UnixNano()), DurationMs: 19.5, BilledDurationMs: 20, MemorySizeMb: 2048,
			Status: "success", ColdStart: true, RuntimeDurationMs: 14.2, ExtensionInitMs: 6.5,
			Telemetry: &ingestv1.TelemetryCounts{BytesShipped: 3 << 20},
		}},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	r := run(t, env, "cost", "--since", "1h", "--by", "observability")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != ExitOK || len(lines) != 3 || !strings.Contains(lines[0], "CLOUDWATCH") {
		t.Fatalf("cost --by observability: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "unconfirmed price: CloudWatch Logs") {
		t.Errorf("stderr %q, want the CloudWatch Logs prices said to be unconfirmed", r.stderr)
	}
	// 20 - ceil(14.2) = 5 ms added; 3 MiB shipped.
	if f := strings.Join(strings.Fields(lines[1]), " "); !strings.Contains(f, "obs 1 1 5ms") || !strings.Contains(f, "3.0 MiB") {
		t.Errorf("line %q: want obs with 1 invocation measured, 5ms added, 3.0 MiB shipped", lines[1])
	}

	// The Infrequent Access class is said on stderr, with its own tiers'
	// note; a class that does not exist, or the flag on another --by, is
	// a usage error.
	r = run(t, env, "cost", "--since", "1h", "--by", "observability", "--log-class", "infrequent-access", "--output", "json")
	if r.code != ExitOK || !strings.Contains(r.stdout, `"logClass": "infrequent_access"`) ||
		!strings.Contains(r.stderr, "Infrequent Access log class") || !strings.Contains(r.stderr, "unconfirmed price: CloudWatch Logs prices, Infrequent Access") {
		t.Errorf("--log-class infrequent-access: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{
		{"cost", "--since", "1h", "--by", "observability", "--log-class", "glacier"},
		{"cost", "--since", "1h", "--log-class", "standard"},
	} {
		if r := run(t, env, args...); r.code != ExitUsage || !strings.Contains(r.stderr, "--log-class") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error naming --log-class", args, r.code, r.stderr)
		}
	}
}

// After retention dropped spans' old days, completeness starts where
// every table it compares is whole and says so, instead of reading the
// old day's spans as lost.
func TestCompletenessCommandAfterRetention(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	old := today.AddDate(0, 0, -3).Add(5 * time.Hour)
	counts := &ingestv1.TelemetryCounts{SpansReceived: 2, LogLinesReceived: 1}
	if _, err := st.WriteExport(t.Context(), storagetest.CompletenessExport("orders", "req-old", old, counts, 2, 1)); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	if r := run(t, env, "completeness", "--since", "7d"); r.code != ExitOK || !strings.Contains(r.stdout, old.Format("2006-01-02 15:00")) || r.stderr != "" {
		t.Fatalf("completeness before retention: exit %d, stdout %q, stderr %q; want the old hour", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "retention", "--days", "spans=2", "--apply", "--merge=false"); r.code != ExitOK {
		t.Fatalf("retention: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r := run(t, env, "completeness", "--since", "7d")
	cutoff := today.AddDate(0, 0, -2).Format("2006-01-02 15:04")
	if r.code != ExitOK || strings.Contains(r.stdout, old.Format("2006-01-02 15:00")) || !strings.Contains(r.stdout, "No invocation records") ||
		!strings.Contains(r.stderr, "retention dropped spans") || !strings.Contains(r.stderr, "starts "+cutoff) {
		t.Errorf("completeness after retention: exit %d, stdout %q, stderr %q; want no old hour and a note that it starts at %s", r.code, r.stdout, r.stderr, cutoff)
	}
}
