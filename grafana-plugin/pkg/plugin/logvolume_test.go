package plugin

import (
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/plugintest"
)

// TestLogsVolume reads Explore's histogram of the fixture's log lines: a
// series per level, as Grafana reads the level (the label "level"), the
// lines counted in the steps they fall in and 0 elsewhere.
func TestLogsVolume(t *testing.T) {
	ds := fixtureDatasource(t)
	tr := backend.TimeRange{From: plugintest.Start.Add(-time.Minute), To: plugintest.Start.Add(2 * time.Minute)}
	tests := []struct {
		name  string
		model map[string]any
		want  map[string]float64 // lines per level
	}{
		{"every line", map[string]any{}, map[string]float64{"error": 1, "info": 1, "warning": 1, "unknown": 1}},
		{"one function", map[string]any{"functionName": "billing"}, map[string]float64{"error": 1}},
		{"ad hoc filter", adhocModel(AdhocFilter{Key: "function", Operator: "!=", Value: "billing"}),
			map[string]float64{"info": 1, "warning": 1, "unknown": 1}},
		{"text", map[string]any{"text": "declined"}, map[string]float64{"error": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := runQuery(t, ds, QueryTypeLogsVolume, tt.model, tr)
			if resp.Error != nil {
				t.Fatalf("query error: %v", resp.Error)
			}
			got := map[string]float64{}
			for _, f := range resp.Frames {
				if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti || len(f.Fields) != 2 {
					t.Fatalf("frame %s: meta %+v, %d fields; want timeseries-multi, time and count", f.Name, f.Meta, len(f.Fields))
				}
				if c := f.Fields[0].Config; c == nil || c.Interval != 1000 {
					t.Errorf("time field config = %+v, want a 1 s interval", c)
				}
				// 3 minutes from half a second: 181 whole seconds touched.
				if n := f.Fields[0].Len(); n != 181 {
					t.Errorf("%d steps, want 181 (3 minutes of 1 s steps, empty ones 0)", n)
				}
				level := f.Fields[1].Labels["level"]
				for i := range f.Fields[1].Len() {
					got[level] += f.Fields[1].At(i).(float64)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("levels = %v, want %v", got, tt.want)
			}
			for level, n := range tt.want {
				if got[level] != n {
					t.Errorf("%s: %v lines, want %v (all: %v)", level, got[level], n, got)
				}
			}
		})
	}
}
