package storage

import (
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// SnapStart restores and tenants are read back per configuration from the
// raw invocations.
func TestSnapStartAndTenantUsage(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	at := time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC)
	inv := func(id string, sec int, cold bool, tenant, status string) *ingestv1.Invocation {
		return &ingestv1.Invocation{RequestId: id, StartTimeUnixNano: uint64(at.Add(time.Duration(sec) * time.Second).UnixNano()),
			DurationMs: 10, BilledDurationMs: 11, MemorySizeMb: 1024, ColdStart: cold, TenantId: tenant, Status: status}
	}
	fn := func(init string) *ingestv1.FunctionIdentity {
		return &ingestv1.FunctionIdentity{Name: "snapfn", Version: "3", Region: "us-east-1", MemoryMb: 1024, Architecture: "x86_64",
			Runtime: "python3.12", InitializationType: init}
	}
	for _, req := range []*ingestv1.ExportRequest{
		{Function: fn("snap-start"), Invocations: []*ingestv1.Invocation{
			inv("r1", 0, true, "blue", "success"), inv("r2", 1, false, "blue", "error"), inv("r3", 2, true, "green", "success"),
		}},
		{Function: fn("on-demand"), Invocations: []*ingestv1.Invocation{inv("o1", 3, true, "", "success")}},
	} {
		if _, err := s.WriteExport(ctx, req); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	f := UsageFilter{Since: at.Add(-time.Hour), Until: at.Add(time.Hour), FunctionName: "snapfn"}

	snaps, err := s.SnapStartUsage(ctx, f)
	if err != nil {
		t.Fatalf("SnapStartUsage: %v", err)
	}
	if len(snaps) != 1 || snaps[0].Invocations != 3 || snaps[0].Restores != 2 || snaps[0].Runtime != "python3.12" ||
		snaps[0].FunctionVersion != "3" || snaps[0].MemorySizeMB != 1024 || !snaps[0].Day.Equal(at.Truncate(24*time.Hour)) {
		t.Errorf("SnapStartUsage = %+v, want one row of 3 invocations, 2 restores, python3.12", snaps)
	}

	tenants, err := s.TenantUsage(ctx, f)
	if err != nil {
		t.Fatalf("TenantUsage: %v", err)
	}
	got := map[string]TenantRecord{}
	for _, r := range tenants {
		got[r.TenantID] = r
	}
	if b := got["blue"]; len(tenants) != 2 || b.Invocations != 2 || b.ColdStarts != 1 || b.Errors != 1 || b.BilledDurationMs != 22 {
		t.Errorf("TenantUsage = %+v, want blue (2 invocations, 1 cold, 1 error, 22 ms) and green", tenants)
	}
	if g := got["green"]; g.Invocations != 1 || g.ColdStarts != 1 || g.Errors != 0 {
		t.Errorf("green = %+v", g)
	}
}

// The inferred spans of a durable execution's invocations, which share a
// trace, are read back as one execution.
func TestDurableExecutions(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	arn := "arn:aws:lambda:us-east-1:111122223333:function:flow:1/durable-execution/order-7/0f1e"
	trace := []byte("durable-trace-01")
	span := func(id byte, sec int, replay bool, ops int64) *tracepb.Span {
		return &tracepb.Span{TraceId: trace, SpanId: []byte{id, 0, 0, 0, 0, 0, 0, 1}, Name: "flow durable-execution", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: uint64(at.Add(time.Duration(sec) * time.Second).UnixNano()),
			EndTimeUnixNano:   uint64(at.Add(time.Duration(sec)*time.Second + 100*time.Millisecond).UnixNano()),
			Attributes: []*commonpb.KeyValue{
				{Key: "aws.lambda.durable.execution.arn", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: arn}}},
				{Key: "aws.lambda.durable.replay", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: replay}}},
				{Key: "aws.lambda.durable.operations", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: ops}}},
			}}
	}
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "flow", Version: "1", Region: "us-east-1", AccountId: "111122223333"},
		ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			span(1, 0, false, 0), span(2, 60, true, 4), span(3, 120, true, 9),
		}}}}},
	}
	if _, err := s.WriteExport(ctx, req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	got, err := s.DurableExecutions(ctx, DurableFilter{Since: at.Add(-time.Hour), Until: at.Add(time.Hour)})
	if err != nil {
		t.Fatalf("DurableExecutions: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("executions = %+v, want one", got)
	}
	e := got[0]
	if string(e.TraceID[:]) != string(trace) || e.ExecutionARN != arn || e.FunctionName != "flow" || e.Invocations != 3 || e.Replays != 2 ||
		e.Operations != 9 || !e.Start.Equal(at) || !e.End.Equal(at.Add(120*time.Second+100*time.Millisecond)) {
		t.Errorf("execution = %+v", e)
	}
	if _, err := s.DurableExecutions(ctx, DurableFilter{}); err == nil {
		t.Error("no range: want an error")
	}
}
