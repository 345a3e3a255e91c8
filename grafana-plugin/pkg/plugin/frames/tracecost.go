package frames

import (
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// TraceCostInvocations is a table of what each invocation of one trace
// cost, with the trace's total in a notice.
func TraceCostInvocations(tc *query.TraceCost) *data.Frame {
	n := len(tc.Invocations)
	var (
		fns, requests, arches = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		memory, billed, costs = make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
	)
	for _, inv := range tc.Invocations {
		fns = append(fns, inv.FunctionName)
		requests = append(requests, inv.RequestID)
		arches = append(arches, inv.Architecture)
		memory = append(memory, float64(inv.MemorySizeMB))
		billed = append(billed, float64(inv.BilledDurationMs))
		costs = append(costs, inv.Cost)
	}
	f := data.NewFrame("traceCost",
		data.NewField("function", nil, fns),
		data.NewField("requestId", nil, requests),
		data.NewField("architecture", nil, arches),
		data.NewField("memorySize", nil, memory).SetConfig(&data.FieldConfig{Unit: "decmbytes"}),
		data.NewField("billedDuration", nil, billed).SetConfig(&data.FieldConfig{Unit: "ms"}),
		data.NewField("cost", nil, costs).SetConfig(&data.FieldConfig{Unit: currencyUnit(tc.Currency), Decimals: ptr(uint16(8))}),
	)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: fmt.Sprintf(
		"Trace %s cost %.8f %s over %d invocations, at list prices.", tc.TraceID, tc.Total, tc.Currency, n)})
	estimated := 0
	for _, inv := range tc.Invocations {
		if inv.BilledEstimated {
			estimated++
		}
	}
	if estimated > 0 {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: fmt.Sprintf(
			"The platform did not report the billed duration of %d of them; it is estimated from the duration rounded up to 1 ms.", estimated)})
	}
	return f
}

// TracePrice is one found trace with what it cost.
type TracePrice struct {
	Summary query.TraceSummary
	Cost    *query.TraceCost
}

// TraceCosts is a table of traces with what each cost, in the given order,
// whose trace IDs link to the trace view.
func TraceCosts(rows []TracePrice, currency string, link TraceLink) *data.Frame {
	n := len(rows)
	var (
		ids, roots, sources = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		starts              = make([]time.Time, 0, n)
		durations, totals   = make([]float64, 0, n), make([]float64, 0, n)
		invocations         = make([]int64, 0, n)
	)
	for _, r := range rows {
		ids = append(ids, r.Summary.TraceID.String())
		starts = append(starts, r.Summary.Start.UTC())
		durations = append(durations, float64(r.Summary.Duration)/float64(time.Millisecond))
		roots = append(roots, r.Summary.RootName)
		sources = append(sources, strings.Join(r.Summary.Sources, ", "))
		invocations = append(invocations, int64(len(r.Cost.Invocations)))
		totals = append(totals, r.Cost.Total)
	}
	traceField := data.NewField("traceId", nil, ids)
	if cfg := link.config(); cfg != nil {
		traceField.SetConfig(cfg)
	}
	f := data.NewFrame("traceCosts",
		traceField,
		data.NewField("start", nil, starts),
		data.NewField("duration", nil, durations).SetConfig(&data.FieldConfig{Unit: "ms"}),
		data.NewField("rootSpan", nil, roots),
		data.NewField("sources", nil, sources),
		data.NewField("invocations", nil, invocations),
		data.NewField("cost", nil, totals).SetConfig(&data.FieldConfig{Unit: currencyUnit(currency), Decimals: ptr(uint16(8))}),
	)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return f
}
