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
	Name string
	Unit string
	// Count marks a figure that is 0 in a bucket without invocations;
	// the others (rates, durations, memory) are undefined there.
	Count bool
	value func(*query.FunctionPoint) float64
}

// Metrics are the function figures a metrics query can ask for, by name.
var Metrics = []Metric{
	{"invocations", "short", true, func(p *query.FunctionPoint) float64 { return float64(p.Invocations) }},
	{"errors", "short", true, func(p *query.FunctionPoint) float64 { return float64(p.Errors) }},
	{"timeouts", "short", true, func(p *query.FunctionPoint) float64 { return float64(p.Timeouts) }},
	{"errorRate", "percentunit", false, func(p *query.FunctionPoint) float64 { return p.ErrorRate }},
	{"coldStarts", "short", true, func(p *query.FunctionPoint) float64 { return float64(p.ColdStarts) }},
	{"coldStartRate", "percentunit", false, func(p *query.FunctionPoint) float64 { return p.ColdStartRate }},
	{"initDuration", "ms", false, func(p *query.FunctionPoint) float64 { return p.InitDurationMs }},
	{"durationP50", "ms", false, func(p *query.FunctionPoint) float64 { return p.P50Ms }},
	{"durationP95", "ms", false, func(p *query.FunctionPoint) float64 { return p.P95Ms }},
	{"durationP99", "ms", false, func(p *query.FunctionPoint) float64 { return p.P99Ms }},
	{"concurrency", "short", true, func(p *query.FunctionPoint) float64 { return p.Concurrency }},
	{"maxMemoryUsed", "decmbytes", false, func(p *query.FunctionPoint) float64 { return float64(p.MaxMemoryUsedMB) }},
	{"memoryConfigured", "decmbytes", false, func(p *query.FunctionPoint) float64 { return float64(p.MemoryConfiguredMB) }},
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
// sorted by time. The time field carries the step as its interval, so
// Grafana draws a gap where a bucket has no point rather than a line
// across it; count figures (Metric.Count) have a 0 in every bucket of r
// without invocations instead.
func FunctionMetrics(points []query.FunctionPoint, metrics []Metric, r query.TimeRange, step time.Duration) data.Frames {
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
	buckets := bucketStarts(r, step)
	var out data.Frames
	for _, m := range metrics {
		for _, fn := range names {
			ps := byFunction[fn]
			slices.SortStableFunc(ps, func(a, b *query.FunctionPoint) int { return a.Start.Compare(b.Start) })
			var times []time.Time
			var values []float64
			if m.Count && buckets != nil {
				times, values = filledCounts(ps, m, buckets)
			} else {
				times = make([]time.Time, len(ps))
				values = make([]float64, len(ps))
				for i, p := range ps {
					times[i], values[i] = p.Start.UTC(), m.value(p)
				}
			}
			f := data.NewFrame(m.Name,
				timeField(times, step),
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
				timeField([]time.Time{}, step),
				data.NewField(m.Name, nil, []float64{}),
			)
			f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
			out = append(out, f)
		}
	}
	return out
}

// timeField is a time field whose config tells Grafana the expected step
// between values, so that a missing value is drawn as a gap.
func timeField(times []time.Time, step time.Duration) *data.Field {
	f := data.NewField("time", nil, times)
	if step > 0 {
		f.SetConfig(&data.FieldConfig{Interval: float64(step.Milliseconds())})
	}
	return f
}

// maxFilledBuckets bounds the buckets a count series is filled to.
const maxFilledBuckets = 100_000

// bucketStarts lists the starts of the step-wide buckets (aligned on the
// Unix epoch, as the query reads them) that meet r; nil when there is no
// step, the range is empty or it holds too many buckets to fill.
func bucketStarts(r query.TimeRange, step time.Duration) []time.Time {
	sec := int64(step / time.Second)
	if sec <= 0 || !r.Since.Before(r.Until) {
		return nil
	}
	since, until := r.Since.Unix(), r.Until.Unix()
	if r.Until.Nanosecond() > 0 {
		until++
	}
	first := since - ((since%sec)+sec)%sec
	n := (until - first + sec - 1) / sec
	if n <= 0 || n > maxFilledBuckets {
		return nil
	}
	out := make([]time.Time, 0, n)
	for t := first; t < until; t += sec {
		out = append(out, time.Unix(t, 0).UTC())
	}
	return out
}

// filledCounts is m over every bucket of buckets, 0 where ps has no point;
// a point outside buckets is kept at its place.
func filledCounts(ps []*query.FunctionPoint, m Metric, buckets []time.Time) ([]time.Time, []float64) {
	at := make(map[int64]*query.FunctionPoint, len(ps))
	for _, p := range ps {
		at[p.Start.Unix()] = p
	}
	times := make([]time.Time, 0, len(buckets))
	values := make([]float64, 0, len(buckets))
	for _, b := range buckets {
		v := 0.0
		if p, ok := at[b.Unix()]; ok {
			v = m.value(p)
			delete(at, b.Unix())
		}
		times, values = append(times, b), append(values, v)
	}
	for _, p := range ps {
		if _, ok := at[p.Start.Unix()]; ok {
			times, values = append(times, p.Start.UTC()), append(values, m.value(p))
		}
	}
	if len(times) > len(buckets) {
		idx := make([]int, len(times))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return times[a].Compare(times[b]) })
		st, sv := make([]time.Time, len(idx)), make([]float64, len(idx))
		for i, j := range idx {
			st[i], sv[i] = times[j], values[j]
		}
		times, values = st, sv
	}
	return times, values
}

// FunctionTotals is FunctionMetrics for query.FunctionTotals: one point
// per function and metric, at the range's start, its time field's interval
// the range's length (the point covers the whole range).
func FunctionTotals(points []query.FunctionPoint, metrics []Metric, r query.TimeRange) data.Frames {
	out := FunctionMetrics(points, metrics, r, 0)
	for _, f := range out {
		f.Fields[0].SetConfig(&data.FieldConfig{Interval: float64(r.Until.Sub(r.Since).Milliseconds())})
	}
	return out
}
