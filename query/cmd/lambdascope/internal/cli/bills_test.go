package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query/querytest"
)

// cost shows SnapStart restores, Managed Instances fleets and tenants.
func TestCostSnapStartManagedAndTenants(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	start := time.Now().Add(-5 * time.Minute)
	fn := &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "snappy", Version: "4", Architecture: "x86_64",
		MemoryMb: 1024, Runtime: "python3.13", InitializationType: "snap-start"}
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId: []byte("bills-batch-0001"), Function: fn,
		Invocations: []*ingestv1.Invocation{
			{RequestId: "s1", StartTimeUnixNano: uint64(start.UnixNano()), DurationMs: 5, BilledDurationMs: 5, MemorySizeMb: 1024,
				ColdStart: true, Status: "success", TenantId: "umbrella"},
		},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	prices := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(prices, []byte("capacity_providers:\n  - name: web\n    instance_type: m7g.large\n    instances: 1\n    functions: [snappy]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	trace := []byte("durable-trace-03")
	arn := "arn:aws:lambda:us-east-1:111122223333:function:flow:1/durable-execution/order-9/aa11"
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:  []byte("bills-batch-0002"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "flow", Version: "1", Architecture: "x86_64", MemoryMb: 512},
		ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: trace, SpanId: []byte("durspan1"), Name: "flow", StartTimeUnixNano: uint64(start.UnixNano()),
			EndTimeUnixNano: uint64(start.Add(time.Second).UnixNano()),
			Attributes: []*commonpb.KeyValue{
				{Key: "aws.lambda.durable.execution.arn", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: arn}}},
				{Key: "aws.lambda.durable.operations", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 5}}},
			},
		}}}}}},
		Invocations: []*ingestv1.Invocation{{RequestId: "d1", TraceId: trace, StartTimeUnixNano: uint64(start.UnixNano()), DurationMs: 900,
			BilledDurationMs: 900, MemorySizeMb: 512, Status: "success"}},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	tests := []struct {
		args             []string
		want, wantStderr []string
		notWant          []string // in neither stdout nor stderr
	}{
		{args: []string{"cost", "--since", "1h", "--by", "snapstart"}, want: []string{"snappy", "python3.13", "1 "}},
		// One cold start of 1 GB on x86: $0.000167 of tenant isolation.
		{args: []string{"cost", "--since", "1h", "--by", "tenant"}, want: []string{"umbrella", "snappy", "ISOLATION", "0.000167"}},
		// m7g.large's default price, $0.0816 (AWS's Price List, dated
		// transcriptions read 2026-12-07), plus the 15 % fee: $0.09384 an
		// hour, not marked unconfirmed.
		{args: []string{"cost", "--since", "1h", "--by", "managed", "--prices", prices}, want: []string{"web", "m7g.large", "0.09384", "2025-12-01"},
			notWant: []string{"0.09384?", "unconfirmed"}},
		{args: []string{"cost", "--since", "1h", "--by", "durable"}, want: []string{arn, "flow", "64757261626c652d74726163652d3033"},
			wantStderr: []string{"not priced: data written", "GB-month"}},
	}
	for _, tt := range tests {
		t.Run(tt.args[4], func(t *testing.T) {
			r := run(t, env, tt.args...)
			if r.code != ExitOK {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output:\n%s\nwant %q", r.stdout, w)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr:\n%s\nwant %q", r.stderr, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(r.stdout, w) || strings.Contains(r.stderr, w) {
					t.Errorf("stdout:\n%s\nstderr:\n%s\nwant no %q", r.stdout, r.stderr, w)
				}
			}
		})
	}
}

// The cost table shows, in columns of their own, the charge for streamed
// bytes past a response's first 6 MiB and what a Savings Plan took off.
func TestCostStreamingAndSavingsPlanColumns(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	start := time.Now().Add(-5 * time.Minute)
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:  []byte("bills-streaming1"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "streamer", Version: "1", Architecture: "x86_64", MemoryMb: 1024},
		// 1 GB-s, and 1 GiB streamed past the first 6 MiB: $0.008.
		Invocations: []*ingestv1.Invocation{{RequestId: "st1", StartTimeUnixNano: uint64(start.UnixNano()), DurationMs: 999.5, BilledDurationMs: 1000,
			MemorySizeMb: 1024, Status: "success", ProducedBytes: 1<<30 + 6<<20}},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	prices := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(prices, []byte("savings_plan:\n  discount: 0.5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "cost", "--since", "1h", "--prices", prices)
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	// Half of 1 GB-s at $0.0000166667 taken off compute.
	for _, w := range []string{"STREAMING", "SAVINGS PLAN", "0.00800000 USD", "-0.00000833 USD"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("output:\n%s\nwant %q", r.stdout, w)
		}
	}
}
