package agent

import (
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// An invocation whose runtime finished but whose platform.report never
// came is shipped at shutdown, marked incomplete, beside the complete one.
func TestInvocationWithoutReportShippedAtShutdown(t *testing.T) {
	collector := collectortest.Start(t)
	pushed := []string{
		`{"time":"2025-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"with-report"}}`,
		`{"time":"2025-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"without-report"}}`,
		`{"time":"2025-03-01T10:00:00.050Z","type":"platform.runtimeDone","record":{"requestId":"with-report","status":"success","metrics":{"durationMs":50}}}`,
		`{"time":"2025-03-01T10:00:00.060Z","type":"platform.report","record":{"requestId":"with-report","status":"success","metrics":{"durationMs":50,"billedDurationMs":50,"memorySizeMB":2048,"maxMemoryUsedMB":90}}}`,
		`{"time":"2025-03-01T10:00:00.070Z","type":"platform.runtimeDone","record":{"requestId":"without-report","status":"error","errorType":"Function.Unhandled","metrics":{"durationMs":70}}}`,
	}
	shutdown := func(int) (extapi.Event, []string) {
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "Spindown", DeadlineMs: time.Now().Add(time.Second).UnixMilli()}, nil
	}
	f := &fakeLambda{script: shutdown, beforeFirstNext: pushed}
	if _, err := runAgent(t, f, func(o *Options) { o.Config.Endpoint = collector.Addr }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := map[string]*ingestv1.Invocation{}
	for _, req := range collector.Accepted() {
		for _, inv := range req.GetInvocations() {
			got[inv.GetRequestId()] = inv
		}
	}
	if len(got) != 2 {
		t.Fatalf("shipped %d invocations, want 2: %v", len(got), got)
	}
	if inv := got["with-report"]; inv.GetIncomplete() || inv.GetBilledDurationMs() != 50 {
		t.Errorf("with report = %v", inv)
	}
	if inv := got["without-report"]; !inv.GetIncomplete() || inv.GetDurationMs() != 70 || inv.GetStatus() != "error" ||
		inv.GetUnknownFigures()&uint32(ingestv1.Figure_FIGURE_BILLED_DURATION) == 0 {
		t.Errorf("without report = %v, want incomplete, 70 ms, error, billed unknown", inv)
	}
}
