package cli

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
)

// An invocation whose report gave only the duration shows its other
// figures as unknown, and cost prices it from an estimate it marks.
func TestUnknownFiguresShownAndEstimated(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	start := time.Now().Add(-5 * time.Minute)
	trace := []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:  []byte("mi-batch-0000001"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "mi", Version: "1", Architecture: "arm64", MemoryMb: 256},
		Invocations: []*ingestv1.Invocation{{
			RequestId: "mi-req-1", StartTimeUnixNano: uint64(start.UnixNano()), DurationMs: 12.3, Status: "success", TraceId: trace,
			UnknownFigures: uint32(ingestv1.Figure_FIGURE_BILLED_DURATION | ingestv1.Figure_FIGURE_MEMORY_SIZE | ingestv1.Figure_FIGURE_MAX_MEMORY_USED),
		}},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}

	r := run(t, env, "invocations", "--function", "mi", "--since", "1h")
	if r.code != ExitOK {
		t.Fatalf("invocations: exit %d, stderr %q", r.code, r.stderr)
	}
	line := lastLine(r.stdout)
	if !strings.Contains(line, "12.3ms    —") || !strings.Contains(line, "?/256 MB") || strings.Contains(line, "0ms") {
		t.Errorf("invocations line %q: want billed — and memory ?/256 MB", line)
	}

	r = run(t, env, "cost", "--since", "1h", "--function", "mi")
	if r.code != ExitOK {
		t.Fatalf("cost: exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "billed duration of 1 invocation; estimated") {
		t.Errorf("cost stderr %q: want the estimate noted", r.stderr)
	}
	// 13 ms at 256 MB: 0.00325 GB-seconds, shown as 0.003 and marked.
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 || !strings.Contains(lines[1], "0.003*") {
		t.Errorf("cost output:\n%s\nwant the function's GB-seconds 0.003*", r.stdout)
	}

	r = run(t, env, "cost", "4bf92f3577b34da6a3ce929d0e0e4736")
	if r.code != ExitOK || !strings.Contains(r.stdout, "13ms*") || !strings.Contains(r.stderr, "estimated") {
		t.Errorf("trace cost: exit %d, stdout %q, stderr %q; want billed 13ms*", r.code, r.stdout, r.stderr)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// The log records Lambda dropped are shown per function.
func TestDroppedLogsPerFunction(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	start := time.Now().Add(-10 * time.Minute)
	pt := func(at time.Time, v int64) *metricspb.NumberDataPoint {
		return &metricspb.NumberDataPoint{StartTimeUnixNano: uint64(start.UnixNano()), TimeUnixNano: uint64(at.UnixNano()),
			Value: &metricspb.NumberDataPoint_AsInt{AsInt: v}}
	}
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:  []byte("dropped-batch-01"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "noisy", Version: "1"},
		ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{
			Name: storage.LogsDroppedMetric, Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{IsMonotonic: true,
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
				DataPoints:             []*metricspb.NumberDataPoint{pt(start.Add(time.Minute), 23), pt(start.Add(5*time.Minute), 123)}}},
		}}}}}},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	r := run(t, env, "dropped", "--since", "1h")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != ExitOK || len(lines) != 2 || !strings.Contains(lines[0], "DROPPED RECORDS") || strings.Join(strings.Fields(lines[1]), " ") != "noisy 123 1" {
		t.Errorf("dropped: exit %d, stdout %q, stderr %q; want noisy with 123 records in 1 environment", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "dropped", "--since", "1h", "--function", "quiet"); r.code != ExitOK || !strings.Contains(r.stdout, "dropped no log records") {
		t.Errorf("dropped of a quiet function: exit %d, stdout %q", r.code, r.stdout)
	}
}

// invocations --tenant keeps the invocations of one tenant.
func TestInvocationsOfATenant(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	start := time.Now().Add(-5 * time.Minute)
	var invs []*ingestv1.Invocation
	for i, tenant := range []string{"BlueTenant", "GreenTenant", ""} {
		invs = append(invs, &ingestv1.Invocation{RequestId: "req-" + tenant, StartTimeUnixNano: uint64(start.Add(time.Duration(i) * time.Second).UnixNano()),
			DurationMs: 10, BilledDurationMs: 10, MemorySizeMb: 128, MaxMemoryUsedMb: 50, Status: "success", TenantId: tenant})
	}
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{BatchId: []byte("tenant-batch-001"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "saas", Version: "1"}, Invocations: invs}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	r := run(t, env, "invocations", "--tenant", "BlueTenant", "--output", "json")
	if r.code != ExitOK || strings.Count(r.stdout, `"requestId"`) != 1 || !strings.Contains(r.stdout, `"tenantId": "BlueTenant"`) {
		t.Errorf("invocations --tenant: exit %d, stdout %q, stderr %q; want the one invocation of BlueTenant", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "invocations", "--tenant", "' OR 1=1 --"); r.code != ExitOK || strings.Contains(r.stdout, "req-") {
		t.Errorf("hostile tenant: exit %d, stdout %q", r.code, r.stdout)
	}
}

// invocations --failed keeps the invocations that count as errors: a
// failed status, or a success whose proxy integration answered 5xx.
func TestInvocationsFailed(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	start := time.Now().Add(-5 * time.Minute)
	var invs []*ingestv1.Invocation
	for i, inv := range []*ingestv1.Invocation{
		{RequestId: "req-ok", Status: "success", HttpStatusCode: 200},
		{RequestId: "req-error", Status: "error", ErrorType: "Runtime.Unknown", ErrorMessage: "insufficient stock"},
		{RequestId: "req-timeout", Status: "timeout"},
		{RequestId: "req-502", Status: "success", HttpStatusCode: 502},
		{RequestId: "req-404", Status: "success", HttpStatusCode: 404},
	} {
		inv.StartTimeUnixNano = uint64(start.Add(time.Duration(i) * time.Second).UnixNano())
		inv.DurationMs, inv.BilledDurationMs, inv.MemorySizeMb, inv.MaxMemoryUsedMb = 10, 10, 128, 50
		invs = append(invs, inv)
	}
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{BatchId: []byte("failed-batch-0001"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "shop", Version: "1"}, Invocations: invs}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	r := run(t, env, "invocations", "--function", "shop", "--failed", "--output", "json")
	if r.code != ExitOK {
		t.Fatalf("invocations --failed: exit %d, stderr %q", r.code, r.stderr)
	}
	var got []struct {
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, r.stdout)
	}
	var ids []string
	for _, g := range got {
		ids = append(ids, g.RequestID)
	}
	if want := []string{"req-502", "req-timeout", "req-error"}; !slices.Equal(ids, want) {
		t.Errorf("invocations --failed listed %q, want %q (newest first)", ids, want)
	}
	if r := run(t, env, "invocations", "--function", "shop"); r.code != ExitOK || strings.Count(r.stdout, "req-") != 5 {
		t.Errorf("invocations without --failed: exit %d, stdout %q; want all five", r.code, r.stdout)
	}
}

// invocations --error-type keeps the invocations whose error has that
// type, the platform's or the function's own; the table shows the
// function's type beside the platform's, escaped, and JSON names it.
func TestInvocationsErrorType(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	start := time.Now().Add(-5 * time.Minute)
	var invs []*ingestv1.Invocation
	for i, inv := range []*ingestv1.Invocation{
		{RequestId: "req-go", Status: "error", ErrorType: "Runtime.Unknown", FunctionErrorType: "errorString", ErrorMessage: "sku SKU-404 not found"},
		{RequestId: "req-node", Status: "error", ErrorType: "Runtime.Unknown", FunctionErrorType: "TypeError\x1b[2J"},
		{RequestId: "req-exit", Status: "error", ErrorType: "Runtime.ExitError"},
		{RequestId: "req-ok", Status: "success"},
	} {
		inv.StartTimeUnixNano = uint64(start.Add(time.Duration(i) * time.Second).UnixNano())
		inv.DurationMs, inv.BilledDurationMs, inv.MemorySizeMb, inv.MaxMemoryUsedMb = 10, 10, 128, 50
		invs = append(invs, inv)
	}
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{BatchId: []byte("errtype-batch-001"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "inventory", Version: "1"}, Invocations: invs}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	ids := func(args ...string) ([]string, []string) {
		t.Helper()
		r := run(t, env, append([]string{"invocations", "--function", "inventory", "--output", "json"}, args...)...)
		if r.code != ExitOK {
			t.Fatalf("invocations %q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		var got []struct {
			RequestID         string `json:"requestId"`
			FunctionErrorType string `json:"functionErrorType"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("JSON output: %v\n%s", err, r.stdout)
		}
		var ids, types []string
		for _, g := range got {
			ids, types = append(ids, g.RequestID), append(types, g.FunctionErrorType)
		}
		return ids, types
	}
	for _, tt := range []struct {
		errType string
		want    []string
	}{
		{"errorString", []string{"req-go"}},
		{"Runtime.Unknown", []string{"req-node", "req-go"}},
		{"Runtime.ExitError", []string{"req-exit"}},
		{"' OR 1=1 --", nil},
	} {
		if got, _ := ids("--error-type", tt.errType); !slices.Equal(got, tt.want) {
			t.Errorf("invocations --error-type %q listed %q, want %q", tt.errType, got, tt.want)
		}
	}
	if got, types := ids(); !slices.Equal(types, []string{"", "", "TypeError\x1b[2J", "errorString"}) {
		t.Errorf("JSON function error types of %q = %q", got, types)
	}
	r := run(t, env, "invocations", "--function", "inventory")
	if r.code != ExitOK {
		t.Fatalf("invocations: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{"ERROR Runtime.Unknown (errorString): sku SKU-404 not found", `ERROR Runtime.Unknown (TypeError\x1b[2J)`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("table holds a terminal control:\n%q", r.stdout)
	}
}
