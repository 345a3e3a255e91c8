package rie_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestClassicRecordsThroughTheProxy runs the Go function under AWS's
// emulator in classic mode, where the Telemetry API is not supported, with
// the runtime talking to the layer's Runtime API proxy. No platform report
// comes, yet every call has exactly one invocation record in ClickHouse,
// built from what the extension saw: its status (a failing call too) and
// error type from the answer, the duration from the INVOKE event to the
// answer, the billed duration estimated and the memory used unknown, the
// record marked incomplete, the first call the cold start.
func TestClassicRecordsThroughTheProxy(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	fn := functionName("rie-classic-records")
	sb, out := wrappedGoSandbox(t, ctx, fn, 5*time.Second)
	var calls []*call
	for i := range 4 {
		c := newCall(fmt.Sprintf("recorded-%d", i), 1)
		c.fail = i == 2
		c.invoke(ctx, sb)
		c.checkAnswer(t)
		calls = append(calls, c)
	}
	if err := sb.Shutdown(ctx); err != nil {
		t.Errorf("shut down: %v", err)
	}
	m := regexp.MustCompile(`extension shut down.*records_from_own_view=(\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the agent logged no records built from its own view at shutdown:\n%s", out.String())
	}
	if n, _ := strconv.Atoi(m[1]); n != len(calls) {
		t.Errorf("the agent built %d records from its own view, want %d", n, len(calls))
	}

	// One record per call, with its status, error type and figures.
	checkRecords(t, ctx, fn, calls)
	if t.Failed() {
		t.Logf("emulator, runtime and extension output:\n%s", out.String())
	}

	// What checkRecords does not read: the record says it holds what was
	// known without the platform's report, and the cold start is the
	// first call's.
	var recs []struct {
		RequestID  string `json:"requestId"`
		Incomplete bool   `json:"incomplete"`
		ColdStart  bool   `json:"coldStart"`
		Trigger    string `json:"trigger"`
	}
	cli(t, ctx, &recs, "invocations", "--function", fn, "--limit", "100")
	byID := map[string]int{}
	for i, r := range recs {
		byID[r.RequestID] = i
	}
	for i, c := range calls {
		j, ok := byID[c.requestID]
		if !ok {
			continue // reported by checkRecords
		}
		r := recs[j]
		if !r.Incomplete {
			t.Errorf("%s: record not marked incomplete, though no platform report came", c.name)
		}
		if r.ColdStart != (i == 0) {
			t.Errorf("%s: cold start %v, want %v", c.name, r.ColdStart, i == 0)
		}
		if r.Trigger != "direct" {
			t.Errorf("%s: trigger %q, want direct (what the proxy read of the event)", c.name, r.Trigger)
		}
	}
}
