package query_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
)

// TestFunctionTotalsCoverTheRange reads "the last 15 minutes" 2 minutes
// after a quarter hour: the totals hold every invocation of those 15
// minutes, not only the 4 of the quarter hour just begun.
func TestFunctionTotalsCoverTheRange(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	now := time.Now().Add(-2 * time.Hour).Truncate(15 * time.Minute).Add(2 * time.Minute)
	r := query.TimeRange{Since: now.Add(-15 * time.Minute), Until: now}
	var invs []*ingestv1.Invocation
	add := func(at time.Time, status string, coldInitMs float64) {
		invs = append(invs, &ingestv1.Invocation{
			RequestId: fmt.Sprintf("req-%d", len(invs)), StartTimeUnixNano: uint64(at.UnixNano()),
			DurationMs: 100, BilledDurationMs: 100, MemorySizeMb: 256, MaxMemoryUsedMb: uint32(60 + len(invs)),
			Status: status, ColdStart: coldInitMs > 0, InitDurationMs: coldInitMs,
		})
	}
	add(r.Since.Add(-time.Second), "error", 0) // before the range
	for i := range 30 {                        // every 30 s, the first 10 failing
		status := "success"
		if i < 10 {
			status = "error"
		}
		init := 0.0
		if i == 3 || i == 29 {
			init = float64(100 * (i + 1)) // 400 and 3000 ms
		}
		add(r.Since.Add(time.Duration(i)*30*time.Second+time.Second), status, init)
	}
	add(now, "error", 0) // at the range's end: outside
	req := &ingestv1.ExportRequest{
		BatchId:     []byte("totals-batch-001"),
		Function:    &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "api", Version: "1", Architecture: "arm64", MemoryMb: 256},
		Invocations: invs, SentTimeUnixNano: uint64(now.UnixNano()),
	}
	if _, err := st.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("write: %v", err)
	}
	svc := query.NewService(st)

	for _, step := range []time.Duration{0, time.Minute, 15 * time.Minute} {
		t.Run(fmt.Sprintf("step %s", step), func(t *testing.T) {
			got, err := svc.FunctionTotals(t.Context(), query.FunctionQuery{TimeRange: r, Step: step})
			if err != nil {
				t.Fatalf("FunctionTotals: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("got %d points: %+v", len(got), got)
			}
			p := got[0]
			if p.FunctionName != "api" || !p.Start.Equal(r.Since) || p.Invocations != 30 || p.Errors != 10 || p.ErrorRate != 10.0/30 ||
				p.ColdStarts != 2 || p.InitDurationMs != 1700 || p.MaxMemoryUsedMB != 60+30 || p.MemoryConfiguredMB != 256 {
				t.Errorf("totals = %+v; want 30 invocations from %s, 10 errors, 2 cold starts of 1700 ms on average, 90 of 256 MB", p, r.Since)
			}
			// 30 invocations of 100 ms in 900 s.
			if want := 3.0 / 900; !near(p.Concurrency, want) {
				t.Errorf("concurrency = %g, want %g", p.Concurrency, want)
			}
		})
	}

	// What the quarter-hour buckets gave: the last holds 2 minutes, 4
	// invocations without an error.
	buckets, err := svc.FunctionFigures(t.Context(), query.FunctionQuery{TimeRange: r, Step: 15 * time.Minute})
	if err != nil {
		t.Fatalf("FunctionFigures: %v", err)
	}
	if last := buckets[len(buckets)-1]; !last.Start.Equal(now.Truncate(15*time.Minute)) || last.Invocations != 4 || last.Errors != 0 {
		t.Errorf("the last quarter-hour bucket = %+v, want 4 invocations from %s", last, now.Truncate(15*time.Minute))
	}
}
