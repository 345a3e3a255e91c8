package build

//lint:file-ignore SA1019 the classic schema: see build.go.

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin"
)

// traces is one trace: the traces of a function to pick from, the chosen
// trace (else the latest failed one), its logs, invocations and cost.
func traces() (dashboard.Dashboard, error) {
	return newDashboard("lambdascope-traces", "Lambdascope / Traces", []string{"lambdascope", "traces"}, "browser", "now-1h",
		[]cog.Builder[dashboard.VariableModel]{functionVariable(true), textboxVariable("trace_id", "Trace ID"), filtersVariable()},
		nil,
		[]panel{
			{id: 1, kind: "table", title: "Traces of ${function} (click a trace ID to open it)", w: 24, h: 10, y: 0,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeSearch, FunctionName: "${function}", Limit: 100}},
			{id: 2, kind: "traces", title: "Trace ${trace_id}", w: 24, h: 18, y: 10,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeTrace, TraceID: "${trace_id}", OrLatest: true}},
			{id: 3, kind: "logs", title: "Logs of trace ${trace_id}", w: 24, h: 10, y: 28,
				query:   plugin.QueryModel{QueryType: plugin.QueryTypeLogs, TraceID: "${trace_id}", Limit: 500},
				options: map[string]any{"showTime": true, "wrapLogMessage": true, "sortOrder": "Ascending"}},
			{id: 4, kind: "table", title: "Invocations of ${function}", w: 24, h: 10, y: 38,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeInvocations, FunctionName: "${function}", Limit: 200}},
			{id: 5, kind: "table", title: "Cost of trace ${trace_id}", w: 24, h: 8, y: 48,
				query: plugin.QueryModel{QueryType: plugin.QueryTypeTraceCost, TraceID: "${trace_id}"}},
		})
}
