package frames

import (
	"fmt"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// Metric is one figure of FunctionPoint that a time series can show.
type Metric struct {
	Name  string
	Unit  string
	value func(*query.FunctionPoint) float64
}

// Metrics are the function figures a metrics query can ask for, by name.
var Metrics = []Metric{
	{"invocations", "short", func(p *query.FunctionPoint) float64 { return float64(p.Invocations) }},
	{"errors", "short", func(p *query.FunctionPoint) float64 { return float64(p.Errors) }},
	{"timeouts", "short", func(p *query.FunctionPoint) float64 { return float64(p.Timeouts) }},
	{"errorRate", "percentunit", func(p *query.FunctionPoint) float64 { return p.ErrorRate }},
	{"coldStarts", "short", func(p *query.FunctionPoint) float64 { return float64(p.ColdStarts) }},
	{"coldStartRate", "percentunit", func(p *query.FunctionPoint) float64 { return p.ColdStartRate }},
	{"initDuration", "ms", func(p *query.FunctionPoint) float64 { return p.InitDurationMs }},
	{"durationP50", "ms", func(p *query.FunctionPoint) float64 { return p.P50Ms }},
	{"durationP95", "ms", func(p *query.FunctionPoint) float64 { return p.P95Ms }},
	{"durationP99", "ms", func(p *query.FunctionPoint) float64 { return p.P99Ms }},
	{"concurrency", "short", func(p *query.FunctionPoint) float64 { return p.Concurrency }},
	{"maxMemoryUsed", "decmbytes", func(p *query.FunctionPoint) float64 { return float64(p.MaxMemoryUsedMB) }},
	{"memoryConfigured", "decmbytes", func(p *query.FunctionPoint) float64 { return float64(p.MemoryConfiguredMB) }},
}

// MetricByName finds a metric of Metrics.
func MetricByName(name string) (Metric, bool) {
	i := slices.IndexFunc(Metrics, func(m Metric) bool { return m.Name == name })
	if i < 0 {
		return Metric{}, false
	}
	return Metrics[i], true
}

// MetricNames lists the names of Metrics.
func MetricNames() []string {
	out := make([]string, len(Metrics))
	for i, m := range Metrics {
		out[i] = m.Name
	}
	return out
}

// FunctionMetrics is a multi time series in the data plane's
// timeseries-multi form: one frame per function and metric, a time field
// and a numeric value field named after the metric and labelled with the
// function, so alert rules and transformations use it as it is. Points are
// sorted by time; a bucket without invocations has no point.
func FunctionMetrics(points []query.FunctionPoint, metrics []Metric) data.Frames {
	byFunction := map[string][]*query.FunctionPoint{}
	var names []string
	for i := range points {
		p := &points[i]
		if _, ok := byFunction[p.FunctionName]; !ok {
			names = append(names, p.FunctionName)
		}
		byFunction[p.FunctionName] = append(byFunction[p.FunctionName], p)
	}
	slices.Sort(names)
	var out data.Frames
	for _, m := range metrics {
		for _, fn := range names {
			ps := byFunction[fn]
			slices.SortStableFunc(ps, func(a, b *query.FunctionPoint) int { return a.Start.Compare(b.Start) })
			times := make([]time.Time, len(ps))
			values := make([]float64, len(ps))
			for i, p := range ps {
				times[i], values[i] = p.Start.UTC(), m.value(p)
			}
			f := data.NewFrame(m.Name,
				data.NewField("time", nil, times),
				data.NewField(m.Name, data.Labels{"function": fn}, values).SetConfig(&data.FieldConfig{
					Unit: m.Unit, DisplayNameFromDS: fmt.Sprintf("%s %s", fn, m.Name),
				}),
			)
			f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
			out = append(out, f)
		}
		if len(names) == 0 {
			// No data is an empty series of the right shape, not no frame.
			f := data.NewFrame(m.Name,
				data.NewField("time", nil, []time.Time{}),
				data.NewField(m.Name, nil, []float64{}),
			)
			f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
			out = append(out, f)
		}
	}
	return out
}
