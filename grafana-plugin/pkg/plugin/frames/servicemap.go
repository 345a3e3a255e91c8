package frames

import (
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// ServiceMap is the node graph of who calls whom: a nodes frame and an
// edges frame, with the field names Grafana's node graph reads. A
// function's calls are its invocations, whoever called (see
// query.MapNode).
func ServiceMap(m *query.ServiceMap) data.Frames {
	nn := len(m.Nodes)
	var (
		ids     = make([]string, 0, nn)
		titles  = make([]string, 0, nn)
		kinds   = make([]string, 0, nn)
		calls   = make([]float64, 0, nn)
		errs    = make([]float64, 0, nn)
		outside = make([]float64, 0, nn)
		arcOK   = make([]float64, 0, nn)
		arcErrs = make([]float64, 0, nn)
	)
	for _, n := range m.Nodes {
		ids = append(ids, n.Name)
		titles = append(titles, n.Name)
		kinds = append(kinds, n.Kind)
		calls = append(calls, float64(n.Calls))
		errs = append(errs, float64(n.Errors))
		outside = append(outside, float64(n.Unmapped))
		ok, bad := 1.0, 0.0
		if n.Calls > 0 {
			bad = float64(n.Errors) / float64(n.Calls)
			ok = 1 - bad
		}
		arcOK = append(arcOK, ok)
		arcErrs = append(arcErrs, bad)
	}
	color := func(c string) *data.FieldConfig {
		return &data.FieldConfig{Color: map[string]any{"mode": "fixed", "fixedColor": c}}
	}
	nodes := data.NewFrame("nodes",
		data.NewField("id", nil, ids),
		data.NewField("title", nil, titles),
		data.NewField("subtitle", nil, kinds),
		data.NewField("mainstat", nil, calls).SetConfig(&data.FieldConfig{DisplayName: "Calls"}),
		data.NewField("secondarystat", nil, errs).SetConfig(&data.FieldConfig{DisplayName: "Errors"}),
		data.NewField("arc__ok", nil, arcOK).SetConfig(color("green")),
		data.NewField("arc__errors", nil, arcErrs).SetConfig(color("red")),
		data.NewField("detail__kind", nil, kinds).SetConfig(&data.FieldConfig{DisplayName: "Kind"}),
		data.NewField("detail__unmapped", nil, outside).SetConfig(&data.FieldConfig{DisplayName: "Calls from untraced callers and triggers"}),
	)
	nodes.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeNodeGraph}

	ne := len(m.Edges)
	var (
		edgeIDs   = make([]string, 0, ne)
		sources   = make([]string, 0, ne)
		targets   = make([]string, 0, ne)
		rates     = make([]float64, 0, ne)
		errRates  = make([]float64, 0, ne)
		edgeCalls = make([]float64, 0, ne)
		p50       = make([]float64, 0, ne)
		p95       = make([]float64, 0, ne)
		p99       = make([]float64, 0, ne)
	)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, e := range m.Edges {
		edgeIDs = append(edgeIDs, e.Caller+"->"+e.Callee)
		sources = append(sources, e.Caller)
		targets = append(targets, e.Callee)
		rates = append(rates, e.RatePerSecond)
		errRates = append(errRates, e.ErrorRate*100)
		edgeCalls = append(edgeCalls, float64(e.Calls))
		p50 = append(p50, ms(e.P50))
		p95 = append(p95, ms(e.P95))
		p99 = append(p99, ms(e.P99))
	}
	edges := data.NewFrame("edges",
		data.NewField("id", nil, edgeIDs),
		data.NewField("source", nil, sources),
		data.NewField("target", nil, targets),
		data.NewField("mainstat", nil, rates).SetConfig(&data.FieldConfig{DisplayName: "Calls/s", Unit: "reqps"}),
		data.NewField("secondarystat", nil, errRates).SetConfig(&data.FieldConfig{DisplayName: "Errors", Unit: "percent"}),
		data.NewField("detail__calls", nil, edgeCalls).SetConfig(&data.FieldConfig{DisplayName: "Calls"}),
		data.NewField("detail__p50", nil, p50).SetConfig(&data.FieldConfig{DisplayName: "p50", Unit: "ms"}),
		data.NewField("detail__p95", nil, p95).SetConfig(&data.FieldConfig{DisplayName: "p95", Unit: "ms"}),
		data.NewField("detail__p99", nil, p99).SetConfig(&data.FieldConfig{DisplayName: "p99", Unit: "ms"}),
	)
	edges.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeNodeGraph}
	return data.Frames{nodes, edges}
}
