package invocation

import (
	"testing"

	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func parseEvents(t *testing.T, body string) []telemetry.Event {
	t.Helper()
	evs, err := telemetry.Parse([]byte(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return evs
}

// A figure platform.report leaves out is sent as unknown, not as 0.
func TestReportFiguresLeftOutAreUnknown(t *testing.T) {
	const (
		billed = uint32(ingestv1.Figure_FIGURE_BILLED_DURATION)
		memory = uint32(ingestv1.Figure_FIGURE_MEMORY_SIZE)
		used   = uint32(ingestv1.Figure_FIGURE_MAX_MEMORY_USED)
		dur    = uint32(ingestv1.Figure_FIGURE_DURATION)
	)
	tests := []struct {
		name        string
		runtimeDone string
		metrics     string
		wantUnknown uint32
		wantMs      float64
	}{
		{"every figure", ``, `{"durationMs": 12.5, "billedDurationMs": 13, "memorySizeMB": 256, "maxMemoryUsedMB": 0}`, 0, 12.5},
		{"duration only (Managed Instances)", ``, `{"durationMs": 12.5}`, billed | memory | used, 12.5},
		{"figures given as null", ``, `{"durationMs": 12.5, "billedDurationMs": null, "maxMemoryUsedMB": null, "memorySizeMB": 256}`, billed | used, 12.5},
		{"no metrics", ``, `{}`, dur | billed | memory | used, 0},
		{"duration from runtimeDone", `{"durationMs": 9.5}`, `{}`, billed | memory | used, 9.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{}
			tr := New(s, nil, nil)
			body := `[{"time": "2025-03-01T10:00:02.000Z", "type": "platform.start", "record": {"requestId": "r1"}},`
			if tt.runtimeDone != "" {
				body += `{"time": "2025-03-01T10:00:02.010Z", "type": "platform.runtimeDone", "record": {"requestId": "r1", "status": "success", "metrics": ` + tt.runtimeDone + `}},`
			}
			body += `{"time": "2025-03-01T10:00:02.020Z", "type": "platform.report", "record": {"requestId": "r1", "status": "success", "metrics": ` + tt.metrics + `}}]`
			tr.HandleTelemetry(parseEvents(t, body))
			if len(s.invocations) != 1 {
				t.Fatalf("got %d invocations, want 1", len(s.invocations))
			}
			inv := s.invocations[0]
			if inv.GetUnknownFigures() != tt.wantUnknown {
				t.Errorf("unknown figures = %04b, want %04b", inv.GetUnknownFigures(), tt.wantUnknown)
			}
			if inv.GetDurationMs() != tt.wantMs {
				t.Errorf("duration = %v, want %v", inv.GetDurationMs(), tt.wantMs)
			}
		})
	}
}
