package build

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin"
)

// TestQueryChecked: a panel asking the datasource for what it does not
// answer fails the build, naming what.
func TestQueryChecked(t *testing.T) {
	tests := []struct {
		name  string
		query plugin.QueryModel
		want  string
	}{
		{"query type", plugin.QueryModel{QueryType: "tracez"}, `unknown query type "tracez"`},
		{"metric", plugin.QueryModel{QueryType: plugin.QueryTypeMetrics, Metrics: []string{"invocations", "durationP42"}}, `unknown metric "durationP42"`},
		{"spike series", plugin.QueryModel{QueryType: plugin.QueryTypeSpikes, SpikeSeries: []string{"baseline"}}, `unknown spike series "baseline"`},
		{"format", plugin.QueryModel{QueryType: plugin.QueryTypeSpikes, Format: "graph"}, `unknown format "graph"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newDashboard("lambdascope-test", "Test", nil, "browser", "now-1h", nil, nil,
				[]panel{{id: 1, kind: "table", title: "T", w: 24, h: 8, query: tt.query}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("build: %v, want an error saying %s", err, tt.want)
			}
		})
	}
	if _, err := newDashboard("lambdascope-test", "Test", nil, "browser", "now-1h", nil, nil,
		[]panel{{id: 1, kind: "timeseries", title: "T", w: 24, h: 8, query: plugin.QueryModel{QueryType: plugin.QueryTypeMetrics, Metrics: []string{"invocations"}}}}); err != nil {
		t.Errorf("build a valid panel: %v", err)
	}
}

// TestLayoutKept: a panel keeps the position it is given, even at x 0 and
// y 0 after another panel (where the SDK would place it itself).
func TestLayoutKept(t *testing.T) {
	d, err := newDashboard("lambdascope-test", "Test", nil, "browser", "now-1h", nil, nil, []panel{
		{id: 1, kind: "table", title: "A", w: 12, h: 8, x: 12, y: 0, query: plugin.QueryModel{QueryType: plugin.QueryTypeCatalog}},
		{id: 2, kind: "table", title: "B", w: 12, h: 8, x: 0, y: 0, query: plugin.QueryModel{QueryType: plugin.QueryTypeCatalog}},
	})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	want := []dashboard.GridPos{{X: 12, Y: 0, W: 12, H: 8}, {X: 0, Y: 0, W: 12, H: 8}}
	for i, p := range d.Panels {
		got, _ := json.Marshal(p.Panel.GridPos)
		w, _ := json.Marshal(want[i])
		if string(got) != string(w) {
			t.Errorf("panel %d at %s, want %s", i+1, got, w)
		}
	}
}
