package selfmetrics

import (
	"testing"
	"time"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func TestBuild(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	now := start.Add(time.Minute)
	snap := Snapshot{
		Received:                 buffer.Counts{buffer.Spans: 10, buffer.Logs: 4},
		Sent:                     buffer.Counts{buffer.Spans: 7},
		Dropped:                  buffer.Counts{buffer.Logs: 1},
		Spooled:                  buffer.Counts{buffer.Spans: 3},
		SampledOut:               buffer.Counts{buffer.Spans: 5},
		TelemetryUnknown:         2,
		TelemetryMalformed:       1,
		OTLPMalformed:            3,
		LambdaLogsDropped:        9,
		RuntimeDoneLate:          4,
		LogsUnattributed:         6,
		Redacted:                 7,
		RecordsFromOwnView:       11,
		ReportsAfterOwnRecords:   12,
		InvocationsUnrecorded:    13,
		ErrorTextsCut:            14,
		InferredSpansLost:        15,
		InferredSpansUnanswered:  16,
		AnswersAfterInferredSpan: 17,
		ErrorBodiesTooLarge:      18,
		BufferBytes:              512,
		SpoolBytes:               2048,
	}
	rm := Build(&resourcepb.Resource{}, snap, start, now)
	if got := ingestv1.PointsIn(rm); got != 6*4+17+2 {
		t.Errorf("%d points, want 43", got)
	}
	byName := map[string]*metricspb.Metric{}
	for _, m := range rm.GetScopeMetrics()[0].GetMetrics() {
		byName[m.GetName()] = m
	}
	value := func(name, signal string) int64 {
		t.Helper()
		m := byName[name]
		if m == nil {
			t.Fatalf("metric %s missing", name)
		}
		pts := m.GetSum().GetDataPoints()
		if g := m.GetGauge(); g != nil {
			pts = g.GetDataPoints()
		}
		for _, p := range pts {
			if signal == "" || (len(p.GetAttributes()) == 1 && p.GetAttributes()[0].GetValue().GetStringValue() == signal) {
				if p.GetTimeUnixNano() != uint64(now.UnixNano()) {
					t.Errorf("%s time = %d", name, p.GetTimeUnixNano())
				}
				return p.GetAsInt()
			}
		}
		t.Fatalf("metric %s has no point for %q", name, signal)
		return 0
	}
	tests := []struct {
		name, signal string
		want         int64
	}{
		{Received, "spans", 10},
		{Received, "logs", 4},
		{Sent, "spans", 7},
		{Dropped, "logs", 1},
		{Spooled, "spans", 3},
		{SampledOut, "spans", 5},
		{Replayed, "spans", 0},
		{TelemetryUnknown, "", 2},
		{TelemetryMalform, "", 1},
		{OTLPMalformed, "", 3},
		{LambdaLogsDropped, "", 9},
		{RuntimeDoneLate, "", 4},
		{LogsUnattributed, "", 6},
		{Redacted, "", 7},
		{RecordsFromOwnView, "", 11},
		{ReportsAfterOwnRecords, "", 12},
		{InvocationsUnrecorded, "", 13},
		{ErrorTextsCut, "", 14},
		{InferredSpansLost, "", 15},
		{InferredSpansUnanswered, "", 16},
		{AnswersAfterInferredSpan, "", 17},
		{ErrorBodiesTooLarge, "", 18},
		{BufferBytes, "", 512},
		{SpoolBytes, "", 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.signal, func(t *testing.T) {
			if got := value(tt.name, tt.signal); got != tt.want {
				t.Errorf("%s{%s} = %d, want %d", tt.name, tt.signal, got, tt.want)
			}
		})
	}
	if s := byName[Sent].GetSum(); !s.GetIsMonotonic() || s.GetAggregationTemporality() != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
		t.Errorf("sent is not a cumulative monotonic sum: %v", s)
	}
}
