package invocation

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
)

// MetricSink is the optional part of a Sink that takes the metric points
// of CloudWatch Embedded Metric Format log lines.
type MetricSink interface {
	AddMetrics([]*metricspb.ResourceMetrics) int
}

// AttrEMFNamespace is the attribute carrying an EMF metric's namespace.
const AttrEMFNamespace = "aws.cloudwatch.namespace"

// Bounds from the EMF specification, so one line cannot blow up the buffer.
const (
	emfMaxMetrics    = 100
	emfMaxValues     = 100
	emfMaxDimensions = 30
)

// emfDocument returns the JSON document of a function log line in the
// CloudWatch Embedded Metric Format (a top-level "_aws" object with
// "CloudWatchMetrics"), or nil.
func emfDocument(l *telemetry.LogRecord) map[string]any {
	doc := l.Fields
	if doc == nil {
		text := strings.TrimSpace(l.Text)
		if !strings.HasPrefix(text, "{") || !strings.Contains(text, "CloudWatchMetrics") {
			return nil
		}
		if err := json.Unmarshal([]byte(text), &doc); err != nil {
			return nil
		}
	}
	aws, ok := doc["_aws"].(map[string]any)
	if !ok {
		return nil
	}
	if _, ok := aws["CloudWatchMetrics"].([]any); !ok {
		return nil
	}
	return doc
}

// emfMetrics turns an EMF document into gauge metrics: one metric per
// declared name, one point per value and dimension set, the dimensions
// and the namespace as attributes. Malformed parts are skipped.
func emfMetrics(doc map[string]any, fallback time.Time) []*metricspb.Metric {
	aws := doc["_aws"].(map[string]any)
	ts := fallback
	if ms, ok := number(aws["Timestamp"]); ok && ms > 0 {
		ts = time.UnixMilli(int64(ms))
	}
	t := uint64(ts.UnixNano())
	var out []*metricspb.Metric
	for _, d := range aws["CloudWatchMetrics"].([]any) {
		dir, ok := d.(map[string]any)
		if !ok {
			continue
		}
		namespace, _ := dir["Namespace"].(string)
		dimSets := emfDimensionSets(dir["Dimensions"], doc)
		defs, _ := dir["Metrics"].([]any)
		for _, def := range defs {
			if len(out) >= emfMaxMetrics {
				return out
			}
			m, ok := def.(map[string]any)
			if !ok {
				continue
			}
			name, _ := m["Name"].(string)
			if name == "" {
				continue
			}
			unit, _ := m["Unit"].(string)
			values := emfValues(doc[name])
			if len(values) == 0 {
				continue
			}
			var pts []*metricspb.NumberDataPoint
			for _, dims := range dimSets {
				attrs := append([]*commonpb.KeyValue{strAttr(AttrEMFNamespace, namespace)}, dims...)
				for _, v := range values {
					pts = append(pts, &metricspb.NumberDataPoint{
						Attributes: attrs, TimeUnixNano: t,
						Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v},
					})
				}
			}
			out = append(out, &metricspb.Metric{Name: name, Unit: unit, Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: pts}}})
		}
	}
	return out
}

// emfDimensionSets resolves the dimension key sets against the document;
// with none declared there is one empty set.
func emfDimensionSets(v any, doc map[string]any) [][]*commonpb.KeyValue {
	sets, _ := v.([]any)
	var out [][]*commonpb.KeyValue
	for _, s := range sets {
		keys, ok := s.([]any)
		if !ok {
			continue
		}
		var attrs []*commonpb.KeyValue
		for _, k := range keys {
			key, ok := k.(string)
			if !ok || len(attrs) >= emfMaxDimensions {
				continue
			}
			val, ok := doc[key]
			if !ok {
				continue
			}
			s, isString := val.(string)
			if !isString {
				s = fmt.Sprint(val)
			}
			attrs = append(attrs, strAttr(key, s))
		}
		out = append(out, attrs)
		if len(out) >= emfMaxDimensions {
			break
		}
	}
	if len(out) == 0 {
		out = [][]*commonpb.KeyValue{nil}
	}
	return out
}

func emfValues(v any) []float64 {
	if f, ok := number(v); ok {
		return []float64{f}
	}
	list, _ := v.([]any)
	var out []float64
	for _, e := range list {
		if f, ok := number(e); ok && len(out) < emfMaxValues {
			out = append(out, f)
		}
	}
	return out
}

// number reads a JSON number decoded either as float64 or as json.Number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}
