package build

//lint:file-ignore SA1019 the classic schema: see build.go.

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin"
)

// fleet is every function at a glance: the RED metrics, cold starts,
// concurrency and memory, the service map, the catalog, error spikes and
// telemetry completeness.
func fleet() (dashboard.Dashboard, error) {
	fn := "${function}"
	metrics := func(names ...string) plugin.QueryModel {
		return plugin.QueryModel{QueryType: plugin.QueryTypeMetrics, FunctionName: fn, Metrics: names}
	}
	return newDashboard("lambdascope-fleet", "Lambdascope / Fleet overview", []string{"lambdascope", "fleet"}, "browser", "now-6h",
		[]cog.Builder[dashboard.VariableModel]{functionVariable(true), filtersVariable()},
		markers(),
		[]panel{
			{id: 1, kind: "timeseries", title: "Invocations", w: 12, h: 8, x: 0, y: 0, defaults: unit("short"), query: metrics("invocations")},
			{id: 2, kind: "timeseries", title: "Error rate", w: 12, h: 8, x: 12, y: 0, defaults: unit("percentunit"), query: metrics("errorRate")},
			{id: 3, kind: "timeseries", title: "Duration p99", w: 12, h: 8, x: 0, y: 8, defaults: unit("ms"), query: metrics("durationP99")},
			{id: 4, kind: "timeseries", title: "Cold starts", w: 12, h: 8, x: 12, y: 8, defaults: unit("short"), query: metrics("coldStarts")},
			{id: 5, kind: "timeseries", title: "Concurrency", w: 12, h: 8, x: 0, y: 16, defaults: unit("short"), query: metrics("concurrency")},
			{id: 6, kind: "timeseries", title: "Memory used vs configured", w: 12, h: 8, x: 12, y: 16, defaults: unit("decmbytes"),
				query: metrics("maxMemoryUsed", "memoryConfigured")},
			{id: 7, kind: "nodeGraph", title: "Service map", w: 24, h: 14, x: 0, y: 24,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeServiceMap}},
			{id: 8, kind: "table", title: "Functions", w: 24, h: 10, x: 0, y: 38,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeCatalog}},
			{id: 9, kind: "timeseries", title: "Error rate against baseline (spike detector)", w: 12, h: 8, x: 0, y: 48, defaults: unit("percentunit"),
				query: plugin.QueryModel{QueryType: plugin.QueryTypeSpikes, Format: plugin.FormatTimeSeries, SpikeSeries: []string{"errorRate", "baselineRate", "threshold"}, FunctionName: fn}},
			{id: 10, kind: "table", title: "Error spikes now", w: 12, h: 8, x: 12, y: 48,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeSpikes, Format: plugin.FormatTable, FunctionName: fn}},
			{id: 11, kind: "timeseries", title: "Telemetry completeness (stored / sent, per hour)", w: 12, h: 8, x: 0, y: 56,
				description: "Spans and log lines stored against what the extensions received (less sampling, plus what Lambda dropped), per function and hour. Below 100 %: lambdascope completeness names where they went missing.",
				defaults:    dashboard.FieldConfig{Unit: cog.ToPtr("percent"), Min: cog.ToPtr(0.0), Max: cog.ToPtr(100.0)},
				query:       plugin.QueryModel{QueryType: plugin.QueryTypeCompleteness, Format: plugin.FormatTimeSeries, FunctionName: fn}},
			{id: 12, kind: "table", title: "Where telemetry went missing", w: 12, h: 8, x: 12, y: 56,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeCompleteness, Format: plugin.FormatTable, FunctionName: fn}},
		})
}
