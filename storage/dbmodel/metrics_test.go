package dbmodel

import (
	"maps"
	"slices"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func TestFromExportMetrics(t *testing.T) {
	attr := []*commonpb.KeyValue{{Key: "route", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "/orders"}}}}
	ex := []*metricspb.Exemplar{{TraceId: traceID, Value: &metricspb.Exemplar_AsDouble{AsDouble: 7.5}}}
	metrics := []*metricspb.Metric{
		{Name: "queue.depth", Unit: "1", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
			{TimeUnixNano: 10, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 42}, Attributes: attr},
		}}}},
		{Name: "orders.placed", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA, IsMonotonic: true,
			DataPoints: []*metricspb.NumberDataPoint{{TimeUnixNano: 11, StartTimeUnixNano: 1, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 3}, Exemplars: ex}},
		}}},
		{Name: "http.duration", Unit: "ms", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
			DataPoints: []*metricspb.HistogramDataPoint{{TimeUnixNano: 12, Count: 4, Sum: new(20.0), Min: new(1.0), Max: new(9.0),
				BucketCounts: []uint64{1, 2, 1}, ExplicitBounds: []float64{5, 10}, Exemplars: ex}},
		}}},
		{Name: "exp", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
			DataPoints: []*metricspb.ExponentialHistogramDataPoint{{TimeUnixNano: 13, Count: 2, Sum: new(3.0)}},
		}}},
		{Name: "summary", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{
			DataPoints: []*metricspb.SummaryDataPoint{{TimeUnixNano: 14, Count: 5, Sum: 10,
				QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: 2}}}},
		}}},
	}
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "fn", Region: "eu-west-1"},
		ResourceMetrics: []*metricspb.ResourceMetrics{{
			Resource:     &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "svc"}}}}},
			ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: "meter"}, Metrics: metrics}},
		}},
	}
	b := FromExport(req)
	if len(b.Metrics) != 5 {
		t.Fatalf("got %d points, want 5", len(b.Metrics))
	}
	tests := []struct {
		name string
		ok   func(MetricPoint) bool
	}{
		{"gauge", func(p MetricPoint) bool {
			return p.Type == MetricTypeGauge && p.Name == "queue.depth" && p.Value == 42 && p.Unit == "1" &&
				p.ServiceName == "svc" && p.FunctionName == "fn" && p.Region == "eu-west-1" && p.ScopeName == "meter" &&
				p.Attributes.Map()["route"] == "/orders" && p.ResourceAttributes.Map()["service.name"] == "svc"
		}},
		{"sum", func(p MetricPoint) bool {
			return p.Type == MetricTypeSum && p.Value == 3 && p.Temporality == 1 && p.Monotonic && p.StartTimeUnixNano == 1 &&
				len(p.ExemplarTraceIDs) == 1 && p.ExemplarTraceIDs[0] == [16]byte(traceID) && p.ExemplarValues[0] == 7.5
		}},
		{"histogram", func(p MetricPoint) bool {
			return p.Type == MetricTypeHistogram && p.Count == 4 && p.Sum == 20 && p.Min == 1 && p.Max == 9 && p.Temporality == 2 &&
				slices.Equal(p.BucketCounts, []uint64{1, 2, 1}) && slices.Equal(p.ExplicitBounds, []float64{5, 10})
		}},
		{"exponential histogram", func(p MetricPoint) bool {
			return p.Type == MetricTypeExponentialHistogram && p.Count == 2 && p.Sum == 3 && p.TimeUnixNano == 13
		}},
		{"summary", func(p MetricPoint) bool {
			return p.Type == MetricTypeSummary && p.Count == 5 && p.Sum == 10 &&
				slices.Equal(p.ExplicitBounds, []float64{0.5}) && slices.Equal(p.QuantileValues, []float64{2})
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok(b.Metrics[i]) {
				t.Errorf("point = %+v", b.Metrics[i])
			}
		})
	}
}

func TestPromotedRequestIDRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		keys, vals []string
		wantStored []string // keys kept in the attributes column
	}{
		{"promoted", []string{"a", AttrInvocationID, "b"}, []string{"1", "req", "2"}, []string{"a", "b"}},
		{"faas.execution present", []string{AttrInvocationID, attrFaaSExecution}, []string{"req", "req"}, []string{AttrInvocationID, attrFaaSExecution}},
		{"only faas.execution", []string{attrFaaSExecution}, []string{"req"}, []string{attrFaaSExecution}},
		{"repeated key", []string{AttrInvocationID, AttrInvocationID}, []string{"req", "other"}, []string{AttrInvocationID, AttrInvocationID}},
		{"no request id", []string{"a"}, []string{"1"}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := KeyValues{Keys: tt.keys, Values: tt.vals}
			requestID := ""
			for _, k := range []string{AttrInvocationID, attrFaaSExecution} {
				if v, ok := kv.Get(k); ok {
					requestID = v
					break
				}
			}
			stored := kv.withoutPromotedRequestID(requestID)
			if !slices.Equal(stored.Keys, tt.wantStored) {
				t.Errorf("stored keys = %q, want %q", stored.Keys, tt.wantStored)
			}
			got := stored.Map()
			RestoreRequestID(got, requestID)
			if want := kv.Map(); !maps.Equal(got, want) {
				t.Errorf("restored attributes = %v, want %v", got, want)
			}
		})
	}
}
