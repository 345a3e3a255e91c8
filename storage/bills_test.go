package storage

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

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

// writeCostFixture stores, over three days, invocations of two functions
// in every configuration a cost report tells apart: SnapStart
// environments (some restored, two runtimes), invocations whose billed
// duration is an estimate, and plain on-demand ones.
func writeCostFixture(t *testing.T, s *Store, base time.Time) {
	t.Helper()
	unknownBilled := uint32(ingestv1.Figure_FIGURE_BILLED_DURATION)
	for fi, fn := range []string{"snapfn", "estfn"} {
		for _, init := range []string{"snap-start", "on-demand"} {
			for ver := range 2 {
				req := &ingestv1.ExportRequest{
					BatchId: []byte(fmt.Sprintf("cost-%s-%s-%d", fn, init, ver)),
					Function: &ingestv1.FunctionIdentity{Name: fn, Version: fmt.Sprint(ver + 1), Region: "us-east-1", AccountId: "111122223333",
						MemoryMb: 1024, Architecture: "x86_64", Runtime: []string{"python3.12", "java21"}[fi], InitializationType: init},
				}
				for i := range 300 {
					at := base.Add(time.Duration(i)*14*time.Minute + time.Duration(fi*37+ver*11)*time.Second)
					inv := &ingestv1.Invocation{RequestId: fmt.Sprintf("cost-%s-%s-%d-%d", fn, init, ver, i), StartTimeUnixNano: uint64(at.UnixNano()),
						DurationMs: float64(5 + i%40), BilledDurationMs: uint64(6 + i%40), MemorySizeMb: 1024, MaxMemoryUsedMb: uint32(60 + i%50),
						ColdStart: i%7 == 0, Status: "success", ProducedBytes: 200}
					// Every third response goes beyond the 6 MiB Lambda does
					// not charge for; the next one ends right at them.
					switch i % 3 {
					case 0:
						inv.ProducedBytes = StreamFreeBytes + uint64(1000*i+1)
						if i%2 == 0 {
							// runtimeDone lost: the proxy's count.
							inv.ProducedBytes, inv.ResponseSize = 0, StreamFreeBytes+uint64(1000*i+1)
						}
					case 1:
						inv.ProducedBytes = StreamFreeBytes
					}
					if (i+fi+ver)%5 == 0 {
						inv.BilledDurationMs, inv.UnknownFigures = 0, unknownBilled
					}
					req.Invocations = append(req.Invocations, inv)
				}
				if _, err := s.WriteExport(t.Context(), req); err != nil {
					t.Fatalf("write export: %v", err)
				}
			}
		}
	}
}

// What CostUsage reads for whole hours from cost_hours (migration 30) is
// what the raw invocations give, whatever the range's edges and filters;
// hours before the view's horizon are read elsewhere.
func TestCostUsageFromViewMatchesRawRows(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)
	writeCostFixture(t, s, base)
	raw := func(t *testing.T, f UsageFilter) CostUsage {
		t.Helper()
		var out CostUsage
		var err error
		if out.Usage, err = s.usageRaw(t.Context(), f); err != nil {
			t.Fatalf("raw usage: %v", err)
		}
		query, args := snapStartUsageSQL(s.database, f)
		if err := s.scanAll(t.Context(), "raw", query, args, func(rows driver.Rows) error {
			var r SnapStartRecord
			err := rows.Scan(&r.Day, &r.AccountID, &r.Region, &r.FunctionName, &r.FunctionVersion, &r.Architecture,
				&r.MemorySizeMB, &r.EphemeralStorageMB, &r.Runtime, &r.Invocations, &r.Restores)
			r.Day = r.Day.UTC()
			out.SnapStart = append(out.SnapStart, r)
			return err
		}); err != nil {
			t.Fatalf("raw SnapStart usage: %v", err)
		}
		query, args = streamingSQL(s.database, f)
		if err := s.scanAll(t.Context(), "raw", query, args, func(rows driver.Rows) error {
			var r StreamingRecord
			err := rows.Scan(&r.Day, &r.AccountID, &r.Region, &r.FunctionName, &r.FunctionVersion, &r.Streamed, &r.BilledBytes)
			r.Day = r.Day.UTC()
			out.Streaming = append(out.Streaming, r)
			return err
		}); err != nil {
			t.Fatalf("raw streaming usage: %v", err)
		}
		query, args = billedEstimatesSQL(s.database, f)
		if err := s.scanAll(t.Context(), "raw", query, args, func(rows driver.Rows) error {
			var r BilledEstimateRecord
			err := rows.Scan(&r.Day, &r.AccountID, &r.Region, &r.FunctionName, &r.FunctionVersion, &r.Invocations, &r.BilledDurationMs)
			r.Day = r.Day.UTC()
			out.Estimates = append(out.Estimates, r)
			return err
		}); err != nil {
			t.Fatalf("raw billed estimates: %v", err)
		}
		return out
	}
	ranges := []struct {
		name string
		f    UsageFilter
	}{
		{"whole days", UsageFilter{Since: base, Until: base.AddDate(0, 0, 4)}},
		{"ragged edges", UsageFilter{Since: base.Add(5*time.Hour + 17*time.Minute + 3*time.Second), Until: base.Add(50*time.Hour + 500*time.Millisecond)}},
		{"inside one hour", UsageFilter{Since: base.Add(30*time.Hour + 5*time.Minute), Until: base.Add(30*time.Hour + 55*time.Minute)}},
		{"one function", UsageFilter{Since: base.Add(-time.Hour), Until: base.Add(80 * time.Hour), FunctionName: "estfn"}},
		{"every filter", UsageFilter{Since: base.Add(90 * time.Minute), Until: base.Add(60 * time.Hour), FunctionName: "snapfn",
			FunctionVersion: "2", AccountID: "111122223333", Region: "us-east-1"}},
	}
	check := func(t *testing.T) {
		t.Helper()
		for _, rg := range ranges {
			got, err := s.CostUsage(t.Context(), rg.f)
			if err != nil {
				t.Fatalf("%s: CostUsage: %v", rg.name, err)
			}
			want := raw(t, rg.f)
			if len(want.Usage) == 0 || len(want.SnapStart) == 0 || len(want.Estimates) == 0 || len(want.Streaming) == 0 || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: CostUsage =\n%+v\nraw rows =\n%+v", rg.name, got, want)
			}
		}
	}
	check(t)

	// The whole hours come from the view: a row written while it is
	// detached is missing from them until the horizon says its hour may
	// miss rows.
	for _, v := range []string{"cost_hours_mv", "streaming_hours_mv"} {
		if err := s.conn.Exec(t.Context(), "DETACH TABLE "+s.database+"."+v); err != nil {
			t.Fatalf("detach view: %v", err)
		}
	}
	late := &ingestv1.ExportRequest{
		BatchId: []byte("cost-late"),
		Function: &ingestv1.FunctionIdentity{Name: "snapfn", Version: "1", Region: "us-east-1", AccountId: "111122223333",
			MemoryMb: 1024, Architecture: "x86_64", Runtime: "python3.12", InitializationType: "snap-start"},
		Invocations: []*ingestv1.Invocation{{RequestId: "cost-late-1", StartTimeUnixNano: uint64(base.Add(80*time.Hour + time.Minute).UnixNano()),
			DurationMs: 10, MemorySizeMb: 1024, ColdStart: true, Status: "success",
			UnknownFigures: uint32(ingestv1.Figure_FIGURE_BILLED_DURATION), ProducedBytes: StreamFreeBytes + 5}},
	}
	if _, err := s.WriteExport(t.Context(), late); err != nil {
		t.Fatalf("write export: %v", err)
	}
	for _, v := range []string{"cost_hours_mv", "streaming_hours_mv"} {
		if err := s.conn.Exec(t.Context(), "ATTACH TABLE "+s.database+"."+v); err != nil {
			t.Fatalf("attach view: %v", err)
		}
	}
	whole := UsageFilter{Since: base, Until: base.AddDate(0, 0, 4)}
	got, err := s.CostUsage(t.Context(), whole)
	if err != nil {
		t.Fatalf("CostUsage: %v", err)
	}
	want := raw(t, whole)
	if reflect.DeepEqual(got.Usage, want.Usage) || reflect.DeepEqual(got.SnapStart, want.SnapStart) || reflect.DeepEqual(got.Estimates, want.Estimates) ||
		reflect.DeepEqual(got.Streaming, want.Streaming) {
		t.Fatal("CostUsage holds the row written while the view was detached: it did not read the view")
	}
	for _, v := range []string{"cost_hours", "streaming_hours"} {
		if err := s.conn.Exec(t.Context(), "INSERT INTO "+s.database+".view_horizons (view, horizon_unix_nano) "+
			"SELECT ?, max(start_unix_nano) FROM "+s.database+".invocations", v); err != nil {
			t.Fatalf("record horizon: %v", err)
		}
	}
	check(t)
}
