package storage

import (
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// Figures the platform did not report are stored as unknown; the billed
// duration then holds what AWS would bill, and the reads say so.
func TestUnknownFiguresRoundTrip(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	at := time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC)
	unknown := uint32(ingestv1.Figure_FIGURE_BILLED_DURATION | ingestv1.Figure_FIGURE_MEMORY_SIZE | ingestv1.Figure_FIGURE_MAX_MEMORY_USED)
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "mi", Region: "us-east-1", MemoryMb: 256, Architecture: "arm64"},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "partial", StartTimeUnixNano: uint64(at.UnixNano()), DurationMs: 12.3, UnknownFigures: unknown, Status: "success",
				Incomplete: true},
			{RequestId: "whole", StartTimeUnixNano: uint64(at.Add(time.Second).UnixNano()), DurationMs: 20.5, BilledDurationMs: 21,
				MemorySizeMb: 256, MaxMemoryUsedMb: 80, Status: "success", TenantId: "BlueTenant"},
		},
	}
	if _, err := s.WriteExport(ctx, req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	recs, err := s.Invocations(ctx, InvocationFilter{FunctionName: "mi"})
	if err != nil {
		t.Fatalf("Invocations: %v", err)
	}
	got := map[string]InvocationRecord{}
	for _, r := range recs {
		got[r.RequestID] = r
	}
	p, w := got["partial"], got["whole"]
	if want := dbmodel.FigureBilledDuration | dbmodel.FigureMaxMemoryUsed; p.UnknownFigures != want {
		t.Errorf("partial: unknown figures = %04b, want %04b (memory size is known from the function)", p.UnknownFigures, want)
	}
	if p.BilledDurationMs != 13 || p.MemorySizeMB != 256 || p.MaxMemoryUsedMB != 0 {
		t.Errorf("partial: billed %d ms, memory %d/%d MB; want 13 ms (estimate), 0/256", p.BilledDurationMs, p.MaxMemoryUsedMB, p.MemorySizeMB)
	}
	if !p.Incomplete || w.Incomplete {
		t.Errorf("incomplete: partial %v, whole %v; want true, false", p.Incomplete, w.Incomplete)
	}
	if w.UnknownFigures != 0 || w.BilledDurationMs != 21 {
		t.Errorf("whole: unknown figures %04b, billed %d; want 0, 21", w.UnknownFigures, w.BilledDurationMs)
	}

	if w.TenantID != "BlueTenant" || p.TenantID != "" {
		t.Errorf("tenants: whole %q, partial %q; want BlueTenant and none", w.TenantID, p.TenantID)
	}
	blue, err := s.Invocations(ctx, InvocationFilter{FunctionName: "mi", TenantID: "BlueTenant"})
	if err != nil || len(blue) != 1 || blue[0].RequestID != "whole" {
		t.Errorf("invocations of BlueTenant = %+v (%v), want whole", blue, err)
	}

	f := UsageFilter{Since: at.Add(-time.Hour), Until: at.Add(time.Hour), FunctionName: "mi"}
	est, err := s.BilledEstimates(ctx, f)
	if err != nil {
		t.Fatalf("BilledEstimates: %v", err)
	}
	if len(est) != 1 || est[0].Invocations != 1 || est[0].BilledDurationMs != 13 || est[0].FunctionName != "mi" {
		t.Errorf("BilledEstimates = %+v, want one row of 1 invocation, 13 ms", est)
	}
	usage, err := s.Usage(ctx, f)
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if len(usage) != 1 || usage[0].BilledDurationMs != 34 || usage[0].Invocations != 2 {
		t.Errorf("Usage = %+v, want 2 invocations billed 34 ms", usage)
	}
	profiles, err := s.MemoryProfiles(ctx, f)
	if err != nil {
		t.Fatalf("MemoryProfiles: %v", err)
	}
	if len(profiles) != 1 || profiles[0].Invocations != 1 || profiles[0].MaxMemoryUsedMB != 80 {
		t.Errorf("MemoryProfiles = %+v, want the one invocation whose memory use is known", profiles)
	}
}

func TestBilledEstimate(t *testing.T) {
	for _, tt := range []struct {
		ms   float64
		want uint64
	}{{0, 0}, {-1, 0}, {0.2, 1}, {12, 12}, {12.0001, 13}} {
		if got := dbmodel.BilledEstimate(tt.ms); got != tt.want {
			t.Errorf("BilledEstimate(%v) = %d, want %d", tt.ms, got, tt.want)
		}
	}
}
