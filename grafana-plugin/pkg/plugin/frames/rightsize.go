package frames

import (
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// Rightsize is a table of memory advice, one row per function
// configuration, biggest saving first.
func Rightsize(advice []query.Advice, currency string) *data.Frame {
	n := len(advice)
	var (
		fns, accounts, regions, arches, actions, reasons = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		configured, maxUsed, p99, suggested              = make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
		invocations                                      = make([]int64, 0, n)
		p95, now, then, saving                           = make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
	)
	for i := range advice {
		a := &advice[i]
		fns = append(fns, a.FunctionName)
		accounts = append(accounts, a.AccountID)
		regions = append(regions, a.Region)
		arches = append(arches, a.Architecture)
		configured = append(configured, float64(a.ConfiguredMB))
		maxUsed = append(maxUsed, float64(a.MaxUsedMB))
		p99 = append(p99, a.P99UsedMB)
		suggested = append(suggested, float64(a.SuggestedMB))
		actions = append(actions, a.Action)
		invocations = append(invocations, int64(a.Invocations))
		p95 = append(p95, a.DurationP95Ms)
		now = append(now, a.MonthlyCostNow)
		then = append(then, a.MonthlyCostThen)
		saving = append(saving, a.MonthlySaving)
		reasons = append(reasons, a.Reason)
	}
	mb := &data.FieldConfig{Unit: "decmbytes"}
	money := &data.FieldConfig{Unit: currencyUnit(currency), Decimals: ptr(uint16(4))}
	f := data.NewFrame("rightsize",
		data.NewField("function", nil, fns),
		data.NewField("accountId", nil, accounts),
		data.NewField("region", nil, regions),
		data.NewField("architecture", nil, arches),
		data.NewField("configuredMemory", nil, configured).SetConfig(mb),
		data.NewField("maxMemoryUsed", nil, maxUsed).SetConfig(mb),
		data.NewField("p99MemoryUsed", nil, p99).SetConfig(mb),
		data.NewField("suggestedMemory", nil, suggested).SetConfig(mb),
		data.NewField("action", nil, actions),
		data.NewField("invocations", nil, invocations),
		data.NewField("durationP95", nil, p95).SetConfig(&data.FieldConfig{Unit: "ms"}),
		data.NewField("monthlyCostNow", nil, now).SetConfig(money),
		data.NewField("monthlyCostSuggested", nil, then).SetConfig(money),
		data.NewField("monthlySaving", nil, saving).SetConfig(money),
		data.NewField("reason", nil, reasons),
	)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return f
}
