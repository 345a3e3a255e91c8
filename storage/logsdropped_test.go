package storage

import (
	"testing"
	"time"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// droppedCounter is the extension's cumulative counter of one environment
// started at start, with a point of each value at the given times.
func droppedCounter(fn string, start time.Time, at []time.Time, values []int64) *ingestv1.ExportRequest {
	pts := make([]*metricspb.NumberDataPoint, len(at))
	for i := range at {
		pts[i] = &metricspb.NumberDataPoint{StartTimeUnixNano: uint64(start.UnixNano()), TimeUnixNano: uint64(at[i].UnixNano()),
			Value: &metricspb.NumberDataPoint_AsInt{AsInt: values[i]}}
	}
	return &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: fn, Region: "us-east-1"},
		ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{
			Name: LogsDroppedMetric, Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: pts, IsMonotonic: true,
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE}},
		}}}}}},
	}
}

func TestLogsDroppedPerFunction(t *testing.T) {
	s := openStore(t)
	since := time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC)
	until := since.Add(time.Hour)
	minute := func(m int) time.Time { return since.Add(time.Duration(m) * time.Minute) }
	for _, req := range []*ingestv1.ExportRequest{
		// Started in the range: all its drops count.
		droppedCounter("noisy", minute(5), []time.Time{minute(6), minute(20)}, []int64{5, 9}),
		// Started before: only what it dropped in the range.
		droppedCounter("noisy", minute(-30), []time.Time{minute(-10), minute(10), minute(30)}, []int64{100, 103, 110}),
		// Nothing dropped.
		droppedCounter("quiet", minute(1), []time.Time{minute(2), minute(40)}, []int64{0, 0}),
		// After the range.
		droppedCounter("late", minute(70), []time.Time{minute(71)}, []int64{4}),
	} {
		if _, err := s.WriteExport(t.Context(), req); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	got, err := s.LogsDropped(t.Context(), UsageFilter{Since: since, Until: until})
	if err != nil {
		t.Fatalf("LogsDropped: %v", err)
	}
	if len(got) != 1 || got[0] != (LogsDroppedRecord{FunctionName: "noisy", Records: 16, Environments: 2}) {
		t.Errorf("LogsDropped = %+v, want noisy: 16 records (9 + 110-103) in 2 environments", got)
	}
	if _, err := s.LogsDropped(t.Context(), UsageFilter{}); err == nil {
		t.Error("LogsDropped without a range: no error")
	}
}
