package frames

import (
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// ObservabilityTable lists, per function and UTC day, what the extension
// added to the bill and what the same log lines would cost in CloudWatch
// Logs, as the CLI's cost --by observability does.
func ObservabilityTable(rep *query.ObservabilityReport) *data.Frame {
	n := len(rep.Lines)
	days := make([]time.Time, n)
	fns := make([]string, n)
	inv, measured, shipped, lines := make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
	addedMs, addedCost, initMs, initCost, transfer, total, cw := make([]float64, n), make([]float64, n), make([]float64, n),
		make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	coldMs, measuredCold := make([]float64, n), make([]uint64, n)
	for i, l := range rep.Lines {
		days[i], fns[i], inv[i], measured[i] = l.Day.UTC(), l.FunctionName, l.Invocations, l.Measured
		addedMs[i], addedCost[i], initMs[i], initCost[i] = l.AddedBilledMs, l.AddedCost, l.ExtensionInitMs, l.InitCost
		shipped[i], transfer[i], total[i], lines[i], cw[i] = l.BytesShipped, l.TransferCost, l.Total, l.LogLines, l.CloudWatchCost
		coldMs[i], measuredCold[i] = l.AddedColdBilledMs, l.MeasuredCold
	}
	money := &data.FieldConfig{Unit: currencyUnit(rep.Currency), Decimals: ptr(uint16(8))}
	f := data.NewFrame("observability cost",
		data.NewField("day", nil, days),
		data.NewField("function", nil, fns),
		data.NewField("invocations", nil, inv),
		data.NewField("measured", nil, measured),
		data.NewField("added billed time", nil, addedMs).SetConfig(&data.FieldConfig{Unit: "ms"}),
		// The part of it on cold starts (and how many), paid once per
		// execution environment.
		data.NewField("of it on cold starts", nil, coldMs).SetConfig(&data.FieldConfig{Unit: "ms"}),
		data.NewField("measured cold starts", nil, measuredCold),
		data.NewField("added cost", nil, addedCost).SetConfig(money),
		data.NewField("extension init", nil, initMs).SetConfig(&data.FieldConfig{Unit: "ms"}),
		data.NewField("init cost", nil, initCost).SetConfig(money),
		data.NewField("shipped", nil, shipped).SetConfig(&data.FieldConfig{Unit: "bytes"}),
		data.NewField("shipped cost", nil, transfer).SetConfig(money),
		data.NewField("total", nil, total).SetConfig(money),
		data.NewField("log lines", nil, lines),
		data.NewField("CloudWatch Logs", nil, cw).SetConfig(money),
	)
	if rep.Prices.LogClass == query.LogClassInfrequentAccess {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo,
			Text: "CloudWatch Logs is priced in the Infrequent Access log class."})
	}
	if len(rep.Prices.Unconfirmed) > 0 {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
			Text: "Not confirmed by an AWS page: " + strings.Join(rep.Prices.Unconfirmed, "; ") + "."})
	}
	return f
}
