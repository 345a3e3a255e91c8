package ingestv1_test

import (
	"testing"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func TestCountItems(t *testing.T) {
	spans := func(n int) *tracepb.ScopeSpans { return &tracepb.ScopeSpans{Spans: make([]*tracepb.Span, n)} }
	logs := func(n int) *logspb.ScopeLogs { return &logspb.ScopeLogs{LogRecords: make([]*logspb.LogRecord, n)} }
	metric := func(m *metricspb.Metric) *metricspb.ResourceMetrics {
		return &metricspb.ResourceMetrics{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{m}}}}
	}
	every := &metricspb.ResourceMetrics{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
		{Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: make([]*metricspb.NumberDataPoint, 1)}}},
		{Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: make([]*metricspb.NumberDataPoint, 2)}}},
		{Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{DataPoints: make([]*metricspb.HistogramDataPoint, 3)}}},
		{Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{DataPoints: make([]*metricspb.ExponentialHistogramDataPoint, 4)}}},
		{Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: make([]*metricspb.SummaryDataPoint, 5)}}},
	}}}}
	tests := []struct {
		name string
		req  *ingestv1.ExportRequest
		want ingestv1.Items
	}{
		{"nil batch", nil, ingestv1.Items{}},
		{"empty batch", &ingestv1.ExportRequest{}, ingestv1.Items{}},
		{"spans over resources and scopes", &ingestv1.ExportRequest{ResourceSpans: []*tracepb.ResourceSpans{
			{ScopeSpans: []*tracepb.ScopeSpans{spans(2), spans(3)}}, {ScopeSpans: []*tracepb.ScopeSpans{spans(1)}}, nil,
		}}, ingestv1.Items{Spans: 6}},
		{"logs over resources and scopes", &ingestv1.ExportRequest{ResourceLogs: []*logspb.ResourceLogs{
			{ScopeLogs: []*logspb.ScopeLogs{logs(4), nil}}, {ScopeLogs: []*logspb.ScopeLogs{logs(1)}},
		}}, ingestv1.Items{Logs: 5}},
		{"points of every metric type", &ingestv1.ExportRequest{ResourceMetrics: []*metricspb.ResourceMetrics{every}},
			ingestv1.Items{Points: 15}},
		{"a metric without data holds no point", &ingestv1.ExportRequest{ResourceMetrics: []*metricspb.ResourceMetrics{metric(&metricspb.Metric{Name: "empty"})}},
			ingestv1.Items{}},
		{"invocations", &ingestv1.ExportRequest{Invocations: make([]*ingestv1.Invocation, 7)}, ingestv1.Items{Invocations: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ingestv1.CountItems(tt.req)
			if got != tt.want {
				t.Fatalf("CountItems = %+v, want %+v", got, tt.want)
			}
			if got.Total() != tt.want.Spans+tt.want.Logs+tt.want.Points+tt.want.Invocations {
				t.Fatalf("Total = %d for %+v", got.Total(), got)
			}
		})
	}
}
