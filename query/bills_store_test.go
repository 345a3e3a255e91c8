package query_test

import (
	"testing"
	"time"

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
