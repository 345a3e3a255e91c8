package frames

import (
	"fmt"
	"slices"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// SpikeSeriesNames are the figures a spikes query in time series form can
// show: the error rate of the window, the baseline's, the rate the window
// had to reach, and 1 where the detector fires (0 elsewhere).
var SpikeSeriesNames = []string{"errorRate", "baselineRate", "threshold", "firing"}

func spikeValue(name string, s *query.SpikeStatus) *float64 {
	var v float64
	switch name {
	case "errorRate":
		if s.Invocations == 0 {
			return nil
		}
		v = s.ErrorRate
	case "baselineRate":
		if s.BaselineInvocations == 0 {
			return nil
		}
		v = s.BaselineRate
	case "threshold":
		v = s.Threshold
	default:
		if s.Firing {
			v = 1
		}
	}
	return &v
}

// SpikeTable is a table of the detector's verdicts, one row per function,
// firing ones first.
func SpikeTable(statuses []query.SpikeStatus, cfg query.SpikeConfig) *data.Frame {
	statuses = slices.Clone(statuses)
	slices.SortStableFunc(statuses, func(a, b query.SpikeStatus) int {
		switch {
		case a.Firing == b.Firing:
			return 0
		case a.Firing:
			return -1
		}
		return 1
	})
	n := len(statuses)
	var (
		names, reasons         = make([]string, 0, n), make([]string, 0, n)
		firing, partial        = make([]bool, 0, n), make([]bool, 0, n)
		at                     = make([]time.Time, 0, n)
		inv, errs, bInv, bErrs = make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
		rates, bRates, thresh  = make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
	)
	for i := range statuses {
		s := &statuses[i]
		names = append(names, s.FunctionName)
		firing = append(firing, s.Firing)
		at = append(at, s.At.UTC())
		partial = append(partial, s.Partial)
		inv = append(inv, int64(s.Invocations))
		errs = append(errs, int64(s.Errors))
		rates = append(rates, s.ErrorRate)
		bInv = append(bInv, int64(s.BaselineInvocations))
		bErrs = append(bErrs, int64(s.BaselineErrors))
		bRates = append(bRates, s.BaselineRate)
		thresh = append(thresh, s.Threshold)
		reasons = append(reasons, s.Reason)
	}
	pct := &data.FieldConfig{Unit: "percentunit"}
	f := data.NewFrame("spikes",
		data.NewField("function", nil, names),
		data.NewField("firing", nil, firing),
		data.NewField("at", nil, at),
		data.NewField("partial", nil, partial).SetConfig(&data.FieldConfig{
			Description: "The window ends in the current step, judged with what it holds so far."}),
		data.NewField("invocations", nil, inv),
		data.NewField("errors", nil, errs),
		data.NewField("errorRate", nil, rates).SetConfig(pct),
		data.NewField("baselineInvocations", nil, bInv),
		data.NewField("baselineErrors", nil, bErrs),
		data.NewField("baselineRate", nil, bRates).SetConfig(pct),
		data.NewField("threshold", nil, thresh).SetConfig(pct),
		data.NewField("reason", nil, reasons),
	)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: fmt.Sprintf(
		"The last %s judged against the %s before, at steps of %s.", cfg.Window, cfg.Baseline, cfg.Step)})
	return f
}

// SpikeSeries is a multi time series in the data plane's timeseries-multi
// form: one frame per series name and function, labelled with the
// function, from verdicts per function in time order, every step apart
// (the time field's interval). A rate over no invocations is null, drawn
// as a gap rather than as 0 % errors.
func SpikeSeries(byFunction map[string][]query.SpikeStatus, series []string, every time.Duration) data.Frames {
	names := make([]string, 0, len(byFunction))
	for fn := range byFunction {
		names = append(names, fn)
	}
	slices.Sort(names)
	var out data.Frames
	for _, s := range series {
		unit := "percentunit"
		if s == "firing" {
			unit = "short"
		}
		for _, fn := range names {
			sts := byFunction[fn]
			times := make([]time.Time, len(sts))
			values := make([]*float64, len(sts))
			for i := range sts {
				times[i], values[i] = sts[i].At.UTC(), spikeValue(s, &sts[i])
			}
			f := data.NewFrame(s,
				timeField(times, every),
				data.NewField(s, data.Labels{"function": fn}, values).SetConfig(&data.FieldConfig{
					Unit: unit, DisplayNameFromDS: fn + " " + s,
				}),
			)
			f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
			out = append(out, f)
		}
		if len(names) == 0 {
			f := data.NewFrame(s, timeField([]time.Time{}, every), data.NewField(s, nil, []*float64{}))
			f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
			out = append(out, f)
		}
	}
	return out
}
