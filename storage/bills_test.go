package storage

import (
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
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
