package query_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
)

// TestSpikesJudgeTheCurrentMinute stores an hour of quiet traffic and a
// burst of failures in the current minute, 20 s old: Spikes at that moment
// fires on it, marked partial, instead of waiting for the minute to end.
func TestSpikesJudgeTheCurrentMinute(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	now := time.Now().Add(-2 * time.Hour).Truncate(time.Minute).Add(20 * time.Second)
	var invs []*ingestv1.Invocation
	add := func(at time.Time, status string) {
		invs = append(invs, &ingestv1.Invocation{
			RequestId: fmt.Sprintf("req-%d", len(invs)), StartTimeUnixNano: uint64(at.UnixNano()),
			DurationMs: 10, BilledDurationMs: 10, MemorySizeMb: 128, Status: status,
		})
	}
	for m := 65; m > 0; m-- { // quiet: 2 a minute, no errors
		add(now.Truncate(time.Minute).Add(-time.Duration(m)*time.Minute+5*time.Second), "success")
		add(now.Truncate(time.Minute).Add(-time.Duration(m)*time.Minute+35*time.Second), "success")
	}
	for i := range 30 { // the burst, in the 20 s of the current minute
		status := "error"
		if i%3 == 0 {
			status = "success"
		}
		add(now.Truncate(time.Minute).Add(time.Duration(i)*500*time.Millisecond), status)
	}
	req := &ingestv1.ExportRequest{
		BatchId:     []byte("spike-batch-0001"),
		Function:    &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "api", Version: "1", Architecture: "arm64", MemoryMb: 128},
		Invocations: invs, SentTimeUnixNano: uint64(now.UnixNano()),
	}
	if _, err := st.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("write: %v", err)
	}
	svc := query.NewService(st)
	got, err := svc.Spikes(t.Context(), query.DefaultSpikeConfig(), now)
	if err != nil {
		t.Fatalf("Spikes: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d verdicts: %+v", len(got), got)
	}
	s := got[0]
	// The window is the 4 whole minutes before and the current one so far.
	if !s.Firing || !s.Partial || s.Errors != 20 || s.Invocations != 30+8 || !s.At.Equal(now) {
		t.Errorf("verdict = %+v; want firing, partial, 20 errors in 38 invocations, at %s", s, now)
	}
	if s.BaselineInvocations != 120 || s.BaselineErrors != 0 {
		t.Errorf("baseline = %d invocations, %d errors; want the hour before the window: 120, 0", s.BaselineInvocations, s.BaselineErrors)
	}

	// On a step boundary nothing is partial and the window is 5 whole
	// minutes.
	whole, err := svc.Spikes(t.Context(), query.DefaultSpikeConfig(), now.Truncate(time.Minute))
	if err != nil {
		t.Fatalf("Spikes: %v", err)
	}
	if len(whole) != 1 || whole[0].Partial || whole[0].Firing || whole[0].Invocations != 10 {
		t.Errorf("at the minute = %+v; want 10 invocations, not partial, not firing", whole)
	}
}
