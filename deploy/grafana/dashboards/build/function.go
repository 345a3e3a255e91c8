package build

//lint:file-ignore SA1019 the classic schema: see build.go.

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin"
)

// function is one function in depth: invocations and errors against the
// spike detector, duration, cold starts, memory, cost, right-sizing,
// traces, invocations and logs.
func function() (dashboard.Dashboard, error) {
	fn := "${function}"
	metrics := func(names ...string) plugin.QueryModel {
		return plugin.QueryModel{QueryType: plugin.QueryTypeMetrics, FunctionName: fn, Metrics: names}
	}
	return newDashboard("lambdascope-function", "Lambdascope / One function", []string{"lambdascope", "function"}, "browser", "now-6h",
		[]cog.Builder[dashboard.VariableModel]{functionVariable(false), filtersVariable()},
		markers(),
		[]panel{
			{id: 1, kind: "timeseries", title: "Invocations and errors", w: 12, h: 8, x: 0, y: 0, query: metrics("invocations", "errors", "timeouts")},
			{id: 2, kind: "timeseries", title: "Error rate against baseline (spike detector)", w: 12, h: 8, x: 12, y: 0, defaults: unit("percentunit"),
				query: plugin.QueryModel{QueryType: plugin.QueryTypeSpikes, Format: plugin.FormatTimeSeries, FunctionName: fn, SpikeSeries: []string{"errorRate", "baselineRate", "threshold"}}},
			{id: 3, kind: "timeseries", title: "Duration p50 / p95 / p99", w: 12, h: 8, x: 0, y: 8, defaults: unit("ms"),
				query: metrics("durationP50", "durationP95", "durationP99")},
			{id: 4, kind: "timeseries", title: "Cold starts and init duration", w: 12, h: 8, x: 12, y: 8, query: metrics("coldStarts", "initDuration")},
			{id: 5, kind: "timeseries", title: "Memory used vs configured", w: 12, h: 8, x: 0, y: 16, defaults: unit("decmbytes"),
				query: metrics("maxMemoryUsed", "memoryConfigured")},
			{id: 6, kind: "timeseries", title: "Cost per day", w: 12, h: 8, x: 12, y: 16, defaults: bars(),
				query: plugin.QueryModel{QueryType: plugin.QueryTypeCost, CostBy: "day", FunctionName: fn}},
			{id: 7, kind: "table", title: "Right-sizing advice", w: 24, h: 6, x: 0, y: 24,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeRightsize, FunctionName: fn}},
			{id: 8, kind: "table", title: "Traces (click a trace ID to open it)", w: 12, h: 10, x: 0, y: 30,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeSearch, FunctionName: fn, Limit: 50}},
			{id: 9, kind: "table", title: "Costliest traces", w: 12, h: 10, x: 12, y: 30,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeTraceCost, FunctionName: fn, Limit: 20}},
			{id: 10, kind: "table", title: "Invocations", w: 24, h: 10, x: 0, y: 40,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeInvocations, FunctionName: fn, Limit: 200}},
			{id: 11, kind: "logs", title: "Logs", w: 24, h: 12, x: 0, y: 50,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeLogs, FunctionName: fn, Limit: 500}},
		})
}
