package telemetry

import "testing"

// The parser tells a figure reported as 0 from a figure not reported.
func TestMetricsGiven(t *testing.T) {
	tests := []struct {
		metrics string
		want    Figures
	}{
		{`{}`, 0},
		{`{"durationMs": 0}`, FigureDuration},
		{`{"durationMs": 1.5, "billedDurationMs": null}`, FigureDuration},
		{`{"durationMs": 1, "billedDurationMs": 2, "memorySizeMB": 128, "maxMemoryUsedMB": 0, "initDurationMs": 3, "restoreDurationMs": 4, "producedBytes": 0}`,
			FigureDuration | FigureBilledDuration | FigureMemorySize | FigureMaxMemoryUsed | FigureInitDuration | FigureRestoreDuration | FigureProducedBytes},
	}
	for _, tt := range tests {
		t.Run(tt.metrics, func(t *testing.T) {
			evs, err := Parse([]byte(`[{"time": "2025-03-01T10:00:00Z", "type": "platform.report", "record": {"requestId": "r", "metrics": ` + tt.metrics + `}}]`))
			if err != nil {
				t.Fatal(err)
			}
			if evs[0].Kind != KindPlatform {
				t.Fatalf("kind = %v, want platform", evs[0].Kind)
			}
			if got := evs[0].Platform.Metrics.Given; got != tt.want {
				t.Errorf("given = %07b, want %07b", got, tt.want)
			}
		})
	}
	// A figure of the wrong type makes the event unknown, not a zero.
	evs, err := Parse([]byte(`[{"type": "platform.report", "record": {"metrics": {"durationMs": "fast"}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Kind != KindUnknown {
		t.Errorf("kind = %v, want unknown", evs[0].Kind)
	}
}
