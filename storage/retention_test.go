package storage

import (
	"slices"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func TestDropBefore(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	day1 := time.Date(2026, 2, 1, 23, 59, 59, 0, time.UTC)
	day2 := time.Date(2026, 2, 2, 0, 0, 1, 0, time.UTC)
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "ret"},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "old", StartTimeUnixNano: uint64(day1.UnixNano())},
			{RequestId: "new", StartTimeUnixNano: uint64(day2.UnixNano())},
		},
	}
	if _, err := s.WriteExport(ctx, req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}

	tests := []struct {
		name        string
		cutoff      time.Time
		wantDropped int
		wantLeft    []string
	}{
		{"cutoff inside day 2 keeps day 2", day2.Add(12 * time.Hour), 1, []string{"new"}},
		{"repeated drop is a no-op", day2.Add(12 * time.Hour), 0, []string{"new"}},
		{"cutoff after day 2", day2.Add(24 * time.Hour), 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dropped, err := s.DropBefore(ctx, tt.cutoff)
			if err != nil {
				t.Fatalf("DropBefore: %v", err)
			}
			if len(dropped) != tt.wantDropped {
				t.Errorf("dropped %+v, want %d partitions", dropped, tt.wantDropped)
			}
			recs, err := s.Invocations(ctx, InvocationFilter{FunctionName: "ret"})
			if err != nil {
				t.Fatalf("Invocations: %v", err)
			}
			var left []string
			for _, r := range recs {
				left = append(left, r.RequestID)
			}
			if !slices.Equal(left, tt.wantLeft) {
				t.Errorf("invocations left = %q, want %q", left, tt.wantLeft)
			}
		})
	}
}
