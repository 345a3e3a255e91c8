package query_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
)

// A stored SnapStart restore reaches the cost report, and a stored tenant
// the tenant report.
func TestCostReadsRestoresAndTenants(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	ctx := t.Context()
	at := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "snappy", Version: "7", Region: "us-east-1", MemoryMb: 2048, Architecture: "x86_64",
			Runtime: "dotnet8", InitializationType: "snap-start"},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "a", StartTimeUnixNano: uint64(at.UnixNano()), DurationMs: 9, BilledDurationMs: 10, MemorySizeMb: 2048, ColdStart: true,
				Status: "success", TenantId: "acme"},
			{RequestId: "b", StartTimeUnixNano: uint64(at.Add(time.Second).UnixNano()), DurationMs: 9, BilledDurationMs: 10, MemorySizeMb: 2048,
				Status: "error", TenantId: "acme"},
		},
	}
	if _, err := st.WriteExport(ctx, req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	svc := query.NewService(st)
	prices := query.DefaultPrices()
	q := query.CostQuery{TimeRange: query.TimeRange{Since: at.Add(-time.Hour), Until: at.Add(time.Hour)}}
	rep, err := svc.Cost(ctx, &prices, q)
	if err != nil {
		t.Fatalf("Cost: %v", err)
	}
	if len(rep.SnapStart) != 1 || rep.SnapStart[0].Restores != 1 || rep.SnapStart[0].Runtime != "dotnet8" || rep.SnapStart[0].Free {
		t.Fatalf("SnapStart = %+v, want one dotnet8 version with 1 restore", rep.SnapStart)
	}
	// Two hours of cache of 2 GB and one 2 GB restore.
	want := 2*7200*0.0000015046 + 2*0.0001397998
	if !near(rep.Total.SnapStart, want) || rep.Total.Restores != 1 {
		t.Errorf("total = %+v, want SnapStart %g", rep.Total, want)
	}

	tr, err := svc.TenantCosts(ctx, &prices, q)
	if err != nil {
		t.Fatalf("TenantCosts: %v", err)
	}
	if len(tr.Tenants) != 1 || tr.Tenants[0].TenantID != "acme" || tr.Tenants[0].Invocations != 2 || tr.Tenants[0].ColdStarts != 1 ||
		tr.Tenants[0].Errors != 1 {
		t.Errorf("tenants = %+v, want acme with 2 invocations, 1 cold start, 1 error", tr.Tenants)
	}
}

// A durable execution's cost is summed over its invocations, which share
// the trace the extension derives from the execution's ARN, plus its
// operations.
func TestDurableCosts(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	ctx := t.Context()
	at := time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC)
	arn := "arn:aws:lambda:us-east-1:111122223333:function:flow:1/durable-execution/order-7/0f1e"
	trace := []byte("durable-trace-02")
	var spans []*tracepb.Span
	var invs []*ingestv1.Invocation
	for i, ops := range []int64{0, 4, 9} {
		start := at.Add(time.Duration(i) * time.Minute)
		id := []byte{byte(i + 1), 0, 0, 0, 0, 0, 0, 2}
		spans = append(spans, &tracepb.Span{TraceId: trace, SpanId: id, Name: "flow", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.Add(time.Second).UnixNano()),
			Attributes: []*commonpb.KeyValue{
				{Key: "aws.lambda.durable.execution.arn", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: arn}}},
				{Key: "aws.lambda.durable.replay", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: i > 0}}},
				{Key: "aws.lambda.durable.operations", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: ops}}},
			}})
		invs = append(invs, &ingestv1.Invocation{RequestId: fmt.Sprintf("d%d", i), TraceId: trace, StartTimeUnixNano: uint64(start.UnixNano()),
			DurationMs: 999, BilledDurationMs: 1000, MemorySizeMb: 512, Status: "success"})
	}
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "flow", Version: "1", Region: "us-east-1", AccountId: "111122223333", MemoryMb: 512,
			Architecture: "x86_64"},
		ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}},
		Invocations:   invs,
	}
	if _, err := st.WriteExport(ctx, req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	prices := query.DefaultPrices()
	rep, err := query.NewService(st).DurableCosts(ctx, &prices, query.DurableQuery{TimeRange: query.TimeRange{Since: at.Add(-time.Hour), Until: at.Add(time.Hour)}})
	if err != nil {
		t.Fatalf("DurableCosts: %v", err)
	}
	if len(rep.Executions) != 1 {
		t.Fatalf("executions = %+v, want one", rep.Executions)
	}
	e := rep.Executions[0]
	// Three invocations of 1 s at 512 MB: 1.5 GB-s × $0.0000166667 and
	// 3 × $0.0000002 of requests; 9 operations at $8.00 per million.
	inv := 1.5*0.0000166667 + 3*0.0000002
	if e.ExecutionARN != arn || e.Invocations != 3 || e.Replays != 2 || e.Operations != 9 || !near(e.InvocationsCost, inv) ||
		!near(e.OperationsCost, 9*8.0/1e6) || !near(e.Total, inv+9*8.0/1e6) {
		t.Errorf("execution = %+v, want invocations %g and operations %g", e, inv, 9*8.0/1e6)
	}
	// The report says what it leaves out.
	if len(rep.Notes) != 2 || !strings.Contains(rep.Notes[1], "not priced: data written") || !strings.Contains(rep.Notes[1], "GB-month") {
		t.Errorf("notes = %q, want what is priced and what is not", rep.Notes)
	}
}

// Response streaming: Lambda charges the bytes of a streamed response
// beyond its first 6 MB, $0.008 per GB in us-east-1, and the first 100 GB
// a month are free. AWS's pricing page gives no worked example of it that
// could be read here; the price is as Scalar's "How to host an MCP server:
// options compared (2026)" quotes aws.amazon.com/lambda/pricing ("streamed
// responses beyond 6 MB per request cost $0.008 per GB after a 100 GB
// monthly allowance"; its prices checked against AWS's pages on
// 2026-10-07, read here on 2026-12-06), the size of a response from
// platform.runtimeDone's metrics.producedBytes (Telemetry API schema
// reference, docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html,
// read 2026-12-06). Worked by hand: 100 responses of 16 MiB each stream
// 10 MiB past the free 6 MiB, 1,000 MiB in all, 0.9765625 GB: $0.0078125.
// A response of exactly 6 MiB, and a buffered one of 200 bytes, cost
// nothing more.
func TestResponseStreamingCharge(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	ctx := t.Context()
	day := time.Date(2026, 6, 3, 0, 0, 0, 0, time.UTC)
	const mib = 1 << 20
	req := &ingestv1.ExportRequest{
		BatchId:  []byte("streaming-charge"),
		Function: &ingestv1.FunctionIdentity{Name: "streamer", Version: "3", Region: "us-east-1", AccountId: "111122223333", MemoryMb: 1024, Architecture: "x86_64"},
	}
	inv := func(id string, at time.Duration, produced uint64) *ingestv1.Invocation {
		return &ingestv1.Invocation{RequestId: id, StartTimeUnixNano: uint64(day.Add(at).UnixNano()), DurationMs: 99.5, BilledDurationMs: 100,
			MemorySizeMb: 1024, Status: "success", ProducedBytes: produced, TraceId: []byte(fmt.Sprintf("%016d", len(id)))}
	}
	for i := range 100 {
		// Spread over the day, so that the report reads whole hours from
		// the view and the edges raw.
		req.Invocations = append(req.Invocations, inv(fmt.Sprintf("s%03d", i), time.Duration(i)*14*time.Minute+7*time.Second, 16*mib))
	}
	// One whose runtimeDone was lost: its size is the Runtime API proxy's
	// count.
	req.Invocations[7].ProducedBytes, req.Invocations[7].ResponseSize = 0, 16*mib
	req.Invocations = append(req.Invocations, inv("exactly-6", 23*time.Hour, 6*mib), inv("buffered", 23*time.Hour+time.Minute, 200))
	if _, err := st.WriteExport(ctx, req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	svc := query.NewService(st)
	prices := query.DefaultPrices()
	for _, rg := range []struct {
		name         string
		since, until time.Time
	}{
		{"whole day", day, day.AddDate(0, 0, 1)},
		{"ragged edges", day.Add(-17 * time.Minute), day.Add(24*time.Hour + 3*time.Minute)},
	} {
		rep, err := svc.Cost(ctx, &prices, query.CostQuery{TimeRange: query.TimeRange{Since: rg.since, Until: rg.until}})
		if err != nil {
			t.Fatalf("%s: Cost: %v", rg.name, err)
		}
		const want = 0.0078125
		if rep.Total.StreamedBytes != 1000*mib || !near(rep.Total.Streaming, want) {
			t.Errorf("%s: total streamed %d bytes for $%g, want %d for $%g", rg.name, rep.Total.StreamedBytes, rep.Total.Streaming, 1000*mib, want)
		}
		if len(rep.ByVersion) != 1 || !near(rep.ByVersion[0].Streaming, want) || rep.ByVersion[0].Version != "3" {
			t.Errorf("%s: by version %+v, want version 3 with $%g streaming", rg.name, rep.ByVersion, want)
		}
		// 102 requests and 102 × 0.1 GB-s at list prices, and the
		// streaming.
		total := 102*0.20/1e6 + 102*0.1*0.0000166667 + want
		if !near(rep.Total.Total, total) {
			t.Errorf("%s: total $%.10f, want $%.10f", rg.name, rep.Total.Total, total)
		}
		if len(rep.FreeTier) != 1 || !near(rep.FreeTier[0].StreamedGB, 0.9765625) || !near(rep.FreeTier[0].StreamingValue, want) {
			t.Errorf("%s: free tier %+v, want 0.9765625 GB of streaming worth $%g (shown, not subtracted)", rg.name, rep.FreeTier, want)
		}
	}

	// A trace's cost holds its invocations' streamed bytes too (the 100
	// streamed invocations share a trace): 10 MiB each.
	tc, err := svc.TraceCost(ctx, &prices, query.TraceID([]byte(fmt.Sprintf("%016d", 4))))
	if err != nil {
		t.Fatalf("TraceCost: %v", err)
	}
	if want := 100*0.20/1e6 + 100*0.1*0.0000166667 + 100*10.0/1024*0.008; len(tc.Invocations) != 100 || !near(tc.Total, want) {
		t.Errorf("trace cost $%.10f over %d invocations, want $%.10f over 100", tc.Total, len(tc.Invocations), want)
	}
}
