package build

//lint:file-ignore SA1019 the classic schema: see build.go.

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin"
)

// cost is what the functions cost over the last 30 days (UTC days, as AWS
// bills them): per day, function and version, the costliest traces,
// right-sizing, what observability itself costs, and the cost per tenant.
func cost() (dashboard.Dashboard, error) {
	fn := "${function}"
	return newDashboard("lambdascope-cost", "Lambdascope / Cost", []string{"lambdascope", "cost"}, "utc", "now-30d/d",
		[]cog.Builder[dashboard.VariableModel]{functionVariable(true), filtersVariable()},
		nil,
		[]panel{
			{id: 1, kind: "timeseries", title: "Cost per day", w: 24, h: 9, y: 0, defaults: bars(),
				query: plugin.QueryModel{QueryType: plugin.QueryTypeCost, CostBy: "day", FunctionName: fn}},
			{id: 2, kind: "table", title: "Cost per function", w: 24, h: 10, y: 9,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeCost, CostBy: "function", FunctionName: fn}},
			{id: 3, kind: "table", title: "Cost per version", w: 24, h: 10, y: 19,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeCost, CostBy: "version", FunctionName: fn}},
			{id: 4, kind: "timeseries", title: "Memory used vs configured (right-sizing)", w: 24, h: 8, y: 29, defaults: unit("decmbytes"),
				query: plugin.QueryModel{QueryType: plugin.QueryTypeMetrics, FunctionName: fn, Metrics: []string{"maxMemoryUsed", "memoryConfigured"}}},
			{id: 5, kind: "table", title: "Costliest traces (click a trace ID to open it)", w: 24, h: 10, y: 37,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeTraceCost, FunctionName: fn, Limit: 20}},
			{id: 6, kind: "table", title: "Right-sizing advice", w: 24, h: 10, y: 47,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeRightsize, FunctionName: fn}},
			{id: 7, kind: "table", title: "What observability costs (extension overhead, beside CloudWatch Logs)", w: 24, h: 10, y: 57,
				description: "Per function and day: billed time after the runtime was done (every extension's), the extension's start within billed INIT (an upper bound), the bytes it shipped at data transfer out prices (before compression: an upper bound), and what the stored log lines would cost in CloudWatch Logs at its tiered prices for Lambda logs (bodies only: a lower bound). us-east-1 prices as of 2025-05-01.",
				query:       plugin.QueryModel{QueryType: plugin.QueryTypeCost, CostBy: "observability", FunctionName: fn}},
			{id: 8, kind: "table", title: "Cost per tenant (tenant isolation mode)", w: 24, h: 10, y: 67,
				description: "Per tenant and function, for invocations the platform gave a tenant ID: invocations, cold starts, errors, GB-seconds and cost at list (first-tier) prices, with the tenant isolation charge of each execution environment created (a cold start). An architecture without a known isolation price is marked 'isolation unpriced'.",
				query:       plugin.QueryModel{QueryType: plugin.QueryTypeCost, CostBy: "tenant", FunctionName: fn}},
		})
}
