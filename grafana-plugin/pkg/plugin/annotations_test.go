package plugin

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/plugintest"
)

// TestAnnotations reads the fixture's annotations the way Grafana reads an
// annotation frame: time, timeEnd, title, text, tags.
func TestAnnotations(t *testing.T) {
	ds := fixtureDatasource(t)
	minute := plugintest.Start.Truncate(time.Minute)
	tests := []struct {
		name  string
		model map[string]any
		tr    backend.TimeRange
		want  []string // "title [time, timeEnd]"
	}{
		{"error spikes", map[string]any{"annotation": "errorSpikes", "minInvocations": 1, "minErrors": 1}, spikeRange,
			[]string{fmt.Sprintf("Error spike: billing [%s, %s]", minute.Add(time.Minute).Format(time.TimeOnly), minute.Add(2*time.Minute).Format(time.TimeOnly))}},
		{"cold-start storms", map[string]any{"annotation": "coldStartStorms", "minColdStarts": 1}, fixtureRange,
			[]string{fmt.Sprintf("Cold-start storm: orders [%s, %s]", minute.Format(time.TimeOnly), minute.Add(time.Minute).Format(time.TimeOnly))}},
		{"no storm under the default of 10", map[string]any{"annotation": "coldStartStorms"}, fixtureRange, nil},
		{"deployments", map[string]any{"annotation": "deployments"}, fixtureRange, []string{
			fmt.Sprintf("Deployed: orders $LATEST [%s, %[1]s]", plugintest.Start.Add(-5*time.Millisecond).Format(time.TimeOnly)),
			fmt.Sprintf("Deployed: billing 7 [%s, %[1]s]", plugintest.Start.Add(25*time.Millisecond).Format(time.TimeOnly)),
		}},
		// orders ran before this range began: its invocation a minute
		// later is no deployment.
		{"a version seen before the range", map[string]any{"annotation": "deployments"},
			backend.TimeRange{From: plugintest.Start.Add(30 * time.Second), To: plugintest.Start.Add(time.Hour)}, nil},
		{"one function", map[string]any{"annotation": "deployments", "functionName": "billing"}, fixtureRange, []string{
			fmt.Sprintf("Deployed: billing 7 [%s, %[1]s]", plugintest.Start.Add(25*time.Millisecond).Format(time.TimeOnly)),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := runQuery(t, ds, QueryTypeAnnotations, tt.model, tt.tr)
			if resp.Error != nil {
				t.Fatalf("query error: %v", resp.Error)
			}
			f := resp.Frames[0]
			names := []string{}
			for _, fld := range f.Fields {
				names = append(names, fld.Name)
			}
			if !slices.Equal(names, []string{"time", "timeEnd", "title", "text", "tags"}) {
				t.Fatalf("fields = %v", names)
			}
			var got []string
			for i := range f.Rows() {
				start, end := f.Fields[0].At(i).(time.Time), f.Fields[1].At(i).(time.Time)
				got = append(got, fmt.Sprintf("%s [%s, %s]", f.Fields[2].At(i), start.Format(time.TimeOnly), end.Format(time.TimeOnly)))
				if f.Fields[3].At(i) == "" || f.Fields[4].At(i) == "" {
					t.Errorf("row %d has no text or tags", i)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("annotations = %q\nwant %q", got, tt.want)
			}
		})
	}
	t.Run("unknown kind", func(t *testing.T) {
		resp := runQuery(t, ds, QueryTypeAnnotations, map[string]any{"annotation": "eclipses"}, fixtureRange)
		if resp.Error == nil || resp.ErrorSource != backend.ErrorSourceDownstream {
			t.Errorf("error = %v (%s), want a downstream error", resp.Error, resp.ErrorSource)
		}
	})
}
