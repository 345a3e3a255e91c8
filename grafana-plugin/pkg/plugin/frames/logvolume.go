package frames

import (
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// LogVolume is the histogram of a log search, as Explore draws it above
// the lines: one data plane timeseries-multi frame per level (the number
// field labelled level, Grafana's name for it, "unknown" where the record
// names none), a count per step over the range, 0 in steps without lines.
func LogVolume(points []query.LogVolumePoint, r query.TimeRange, step time.Duration) data.Frames {
	buckets := bucketStarts(r, step)
	counts := map[string]map[int64]float64{}
	for i := range points {
		p := &points[i]
		level := severity(&query.LogLine{SeverityNumber: p.SeverityNumber, Severity: p.Severity})
		if level == "" {
			level = "unknown"
		}
		if counts[level] == nil {
			counts[level] = map[int64]float64{}
		}
		counts[level][p.Start.Unix()] += float64(p.Lines)
	}
	levels := make([]string, 0, len(counts))
	for l := range counts {
		levels = append(levels, l)
	}
	slices.Sort(levels)
	out := make(data.Frames, 0, len(levels))
	for _, level := range levels {
		byStart := counts[level]
		times := make([]time.Time, 0, len(buckets))
		values := make([]float64, 0, len(buckets))
		for _, b := range buckets {
			times, values = append(times, b), append(values, byStart[b.Unix()])
		}
		f := data.NewFrame("logVolume",
			timeField(times, step),
			data.NewField("count", data.Labels{"level": level}, values).SetConfig(&data.FieldConfig{DisplayNameFromDS: level}),
		)
		f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		out = append(out, f)
	}
	return out
}
