package frames

import (
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// CompletenessSeries is the share of expected spans and log lines that was
// stored, per function and UTC hour, in the data plane's timeseries-multi
// form: one frame per function, labelled with it, in percent. Alert rules
// compare it with a threshold.
func CompletenessSeries(cs []query.Completeness) data.Frames {
	byFn := map[string][]query.Completeness{}
	for _, c := range cs {
		byFn[c.FunctionName] = append(byFn[c.FunctionName], c)
	}
	names := make([]string, 0, len(byFn))
	for fn := range byFn {
		names = append(names, fn)
	}
	slices.Sort(names)
	const name = "completeness"
	var out data.Frames
	for _, fn := range names {
		rows := byFn[fn]
		times := make([]time.Time, len(rows))
		values := make([]float64, len(rows))
		for i, c := range rows {
			times[i], values[i] = c.Hour.UTC(), c.Percent
		}
		f := data.NewFrame(name,
			timeField(times, time.Hour),
			data.NewField(name, data.Labels{"function": fn}, values).SetConfig(&data.FieldConfig{
				Unit: "percent", DisplayNameFromDS: fn,
			}),
		)
		f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		out = append(out, f)
	}
	if len(names) == 0 {
		f := data.NewFrame(name, timeField([]time.Time{}, time.Hour), data.NewField(name, nil, []float64{}))
		f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		out = append(out, f)
	}
	return out
}

// CompletenessTable lists the function hours with what was expected and
// stored and where anything went missing, as the CLI's completeness
// command does.
func CompletenessTable(cs []query.Completeness) *data.Frame {
	n := len(cs)
	hours := make([]time.Time, n)
	fns := make([]string, n)
	inv, spansExp, spansSt, logsExp, logsSt := make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
	pct := make([]float64, n)
	lost := make([]string, n)
	for i, c := range cs {
		hours[i], fns[i], inv[i] = c.Hour.UTC(), c.FunctionName, c.Invocations
		spansExp[i], spansSt[i], logsExp[i], logsSt[i] = c.SpansExpected, c.SpansStored, c.LogLinesExpected, c.LogLinesStored
		pct[i] = c.Percent
		parts := make([]string, 0, len(c.Lost))
		for _, l := range c.Lost {
			parts = append(parts, l.Stage)
		}
		lost[i] = strings.Join(parts, ", ")
	}
	return data.NewFrame("completeness",
		data.NewField("hour", nil, hours),
		data.NewField("function", nil, fns),
		data.NewField("invocations", nil, inv),
		data.NewField("spans expected", nil, spansExp),
		data.NewField("spans stored", nil, spansSt),
		data.NewField("logs expected", nil, logsExp),
		data.NewField("logs stored", nil, logsSt),
		data.NewField("complete", nil, pct).SetConfig(&data.FieldConfig{Unit: "percent"}),
		data.NewField("missing at", nil, lost),
	)
}
