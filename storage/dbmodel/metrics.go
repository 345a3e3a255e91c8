package dbmodel

import (
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Values of the metric_type column.
const (
	MetricTypeGauge                = "gauge"
	MetricTypeSum                  = "sum"
	MetricTypeHistogram            = "histogram"
	MetricTypeExponentialHistogram = "exponential_histogram"
	MetricTypeSummary              = "summary"
)

// MetricPoint is one row of the metric_points table: one OTLP data point
// with its metric's description and its producer's identity.
//
// Gauges and sums fill Value; histograms fill Count, Sum, Min, Max,
// BucketCounts and ExplicitBounds. Exponential histograms keep Count, Sum,
// Min and Max only (their buckets are not stored); summaries keep Count and
// Sum, with their quantiles in ExplicitBounds (the quantile) and
// QuantileValues (its value).
type MetricPoint struct {
	TimeUnixNano      uint64
	StartTimeUnixNano uint64

	ServiceName     string
	FunctionName    string
	FunctionVersion string
	AccountID       string
	Region          string
	ScopeName       string

	Name        string
	Type        string // one of the MetricType* constants
	Unit        string
	Temporality uint8 // OTLP AggregationTemporality: 0 unspecified, 1 delta, 2 cumulative
	Monotonic   bool
	Flags       uint32

	Value          float64
	Count          uint64
	Sum            float64
	Min, Max       float64
	BucketCounts   []uint64
	ExplicitBounds []float64
	QuantileValues []float64

	Attributes         KeyValues
	ResourceAttributes KeyValues

	ExemplarTraceIDs [][16]byte
	ExemplarValues   []float64
}

// metricRows converts every data point of a batch's ResourceMetrics.
func metricRows(req *ingestv1.ExportRequest) []MetricPoint {
	var out []MetricPoint
	fn := req.GetFunction()
	for _, rm := range req.GetResourceMetrics() {
		id := identityFor(fn, rm.GetResource())
		resAttrs := keyValues(rm.GetResource().GetAttributes())
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				base := MetricPoint{
					ServiceName: id.service, FunctionName: id.function, FunctionVersion: id.version,
					AccountID: id.account, Region: id.region, ScopeName: sm.GetScope().GetName(),
					Name: m.GetName(), Unit: m.GetUnit(), ResourceAttributes: resAttrs,
				}
				out = appendMetric(out, base, m)
			}
		}
	}
	return out
}

func appendMetric(out []MetricPoint, base MetricPoint, m *metricspb.Metric) []MetricPoint {
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Gauge:
		base.Type = MetricTypeGauge
		for _, dp := range d.Gauge.GetDataPoints() {
			out = append(out, numberPoint(base, dp))
		}
	case *metricspb.Metric_Sum:
		base.Type = MetricTypeSum
		base.Temporality = clampUint8(int64(d.Sum.GetAggregationTemporality()))
		base.Monotonic = d.Sum.GetIsMonotonic()
		for _, dp := range d.Sum.GetDataPoints() {
			out = append(out, numberPoint(base, dp))
		}
	case *metricspb.Metric_Histogram:
		base.Type = MetricTypeHistogram
		base.Temporality = clampUint8(int64(d.Histogram.GetAggregationTemporality()))
		for _, dp := range d.Histogram.GetDataPoints() {
			p := base
			p.TimeUnixNano, p.StartTimeUnixNano, p.Flags = dp.GetTimeUnixNano(), dp.GetStartTimeUnixNano(), dp.GetFlags()
			p.Count, p.Sum, p.Min, p.Max = dp.GetCount(), dp.GetSum(), dp.GetMin(), dp.GetMax()
			p.BucketCounts, p.ExplicitBounds = dp.GetBucketCounts(), dp.GetExplicitBounds()
			p.Attributes = keyValues(dp.GetAttributes())
			p.ExemplarTraceIDs, p.ExemplarValues = exemplars(dp.GetExemplars())
			out = append(out, p)
		}
	case *metricspb.Metric_ExponentialHistogram:
		base.Type = MetricTypeExponentialHistogram
		base.Temporality = clampUint8(int64(d.ExponentialHistogram.GetAggregationTemporality()))
		for _, dp := range d.ExponentialHistogram.GetDataPoints() {
			p := base
			p.TimeUnixNano, p.StartTimeUnixNano, p.Flags = dp.GetTimeUnixNano(), dp.GetStartTimeUnixNano(), dp.GetFlags()
			p.Count, p.Sum, p.Min, p.Max = dp.GetCount(), dp.GetSum(), dp.GetMin(), dp.GetMax()
			p.Attributes = keyValues(dp.GetAttributes())
			p.ExemplarTraceIDs, p.ExemplarValues = exemplars(dp.GetExemplars())
			out = append(out, p)
		}
	case *metricspb.Metric_Summary:
		base.Type = MetricTypeSummary
		for _, dp := range d.Summary.GetDataPoints() {
			p := base
			p.TimeUnixNano, p.StartTimeUnixNano, p.Flags = dp.GetTimeUnixNano(), dp.GetStartTimeUnixNano(), dp.GetFlags()
			p.Count, p.Sum = dp.GetCount(), dp.GetSum()
			for _, q := range dp.GetQuantileValues() {
				p.ExplicitBounds = append(p.ExplicitBounds, q.GetQuantile())
				p.QuantileValues = append(p.QuantileValues, q.GetValue())
			}
			p.Attributes = keyValues(dp.GetAttributes())
			out = append(out, p)
		}
	}
	return out
}

func numberPoint(base MetricPoint, dp *metricspb.NumberDataPoint) MetricPoint {
	p := base
	p.TimeUnixNano, p.StartTimeUnixNano, p.Flags = dp.GetTimeUnixNano(), dp.GetStartTimeUnixNano(), dp.GetFlags()
	switch v := dp.GetValue().(type) {
	case *metricspb.NumberDataPoint_AsDouble:
		p.Value = v.AsDouble
	case *metricspb.NumberDataPoint_AsInt:
		p.Value = float64(v.AsInt)
	}
	p.Attributes = keyValues(dp.GetAttributes())
	p.ExemplarTraceIDs, p.ExemplarValues = exemplars(dp.GetExemplars())
	return p
}

// exemplars keeps the trace ID and value of each exemplar; an exemplar
// without a well-formed trace ID keeps a zero ID.
func exemplars(exs []*metricspb.Exemplar) ([][16]byte, []float64) {
	if len(exs) == 0 {
		return nil, nil
	}
	ids := make([][16]byte, len(exs))
	vals := make([]float64, len(exs))
	for i, ex := range exs {
		if len(ex.GetTraceId()) == 16 {
			copy(ids[i][:], ex.GetTraceId())
		}
		switch v := ex.GetValue().(type) {
		case *metricspb.Exemplar_AsDouble:
			vals[i] = v.AsDouble
		case *metricspb.Exemplar_AsInt:
			vals[i] = float64(v.AsInt)
		}
	}
	return ids, vals
}
