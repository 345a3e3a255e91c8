// Package build builds the Grafana dashboards of deploy/grafana/dashboards
// with Grafana's foundation SDK. The queries are the datasource's own query
// model (plugin.QueryModel) and name its query types and metrics by the
// plugin's constants, checked against the plugin's lists, so that a
// dashboard cannot ask for what the datasource does not answer. Run
// `make dashboards` (or go generate) after a change here; the JSON files are
// generated, never edited by hand.
package build

// The classic dashboard schema (dashboard, not dashboardv2) is the one
// every Grafana the plugin supports (10.4 on) provisions from files.
//lint:file-ignore SA1019 the v2 schema needs Grafana 12.

//go:generate go run ../gen -dir ..

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin"
	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/frames"
)

// PluginID is the Lambdascope datasource's plugin id.
const PluginID = "lambdascope-lambdascope-datasource"

// schemaVersion is the dashboard schema the panels are written in.
const schemaVersion = 39

// File is one generated dashboard: its file name and JSON.
type File struct {
	Name string
	JSON []byte
}

// Dashboards builds every dashboard, in file name order.
func Dashboards() ([]File, error) {
	builders := []struct {
		name  string
		build func() (dashboard.Dashboard, error)
	}{
		{"cost.json", cost},
		{"fleet.json", fleet},
		{"function.json", function},
		{"traces.json", traces},
	}
	out := make([]File, 0, len(builders))
	for _, b := range builders {
		d, err := b.build()
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", b.name, err)
		}
		raw, err := render(d)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", b.name, err)
		}
		out = append(out, File{Name: b.name, JSON: raw})
	}
	return out, nil
}

// Write builds every dashboard into dir.
func Write(dir string) error {
	files, err := Dashboards()
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.JSON, 0o644); err != nil {
			return fmt.Errorf("write dashboard: %w", err)
		}
	}
	return nil
}

// render is the dashboard's JSON as committed: two-space indented, HTML
// characters left alone, ending in a newline.
func render(d dashboard.Dashboard) ([]byte, error) {
	d.SchemaVersion = schemaVersion
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encode dashboard: %w", err)
	}
	return buf.Bytes(), nil
}

// ds is the dashboard's datasource variable, which every panel, query,
// variable and annotation names, so that a dashboard works wherever it is
// imported, whatever the datasource's uid.
func ds() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr(PluginID), Uid: cog.ToPtr("${datasource}")}
}

// query is one query of the datasource: its query model with the reference
// and datasource Grafana keeps beside it.
type query struct {
	RefID      string                `json:"refId"`
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	plugin.QueryModel
}

func (q query) ImplementsDataqueryVariant() {}
func (q query) DataqueryType() string       { return PluginID }
func (q query) Equals(other variants.Dataquery) bool {
	o, ok := other.(query)
	if !ok {
		return false
	}
	a, errA := json.Marshal(q)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// Build checks the query against the datasource's lists: its query type,
// metrics and spike series.
func (q query) Build() (variants.Dataquery, error) {
	if err := q.check(); err != nil {
		return nil, cog.MakeBuildErrors("query", err)
	}
	return q, nil
}

// Validate checks the query against the datasource's lists.
func (q query) Validate() error { return q.check() }

func (q query) check() error {
	if !slices.Contains(plugin.QueryTypes, q.QueryType) {
		return fmt.Errorf("query %s: unknown query type %q", q.RefID, q.QueryType)
	}
	for _, m := range q.Metrics {
		if !slices.Contains(frames.MetricNames(), m) {
			return fmt.Errorf("query %s: unknown metric %q", q.RefID, m)
		}
	}
	for _, s := range q.SpikeSeries {
		if !slices.Contains(frames.SpikeSeriesNames, s) {
			return fmt.Errorf("query %s: unknown spike series %q", q.RefID, s)
		}
	}
	if q.Format != "" && q.Format != plugin.FormatTable && q.Format != plugin.FormatTimeSeries {
		return fmt.Errorf("query %s: unknown format %q", q.RefID, q.Format)
	}
	return nil
}

// target is the query of a panel: reference A on the datasource variable.
func target(m plugin.QueryModel) query {
	return query{RefID: "A", Datasource: cog.ToPtr(ds()), QueryModel: m}
}

// panel is what differs between the dashboards' panels.
type panel struct {
	id          uint32
	kind        string
	title       string
	description string
	x, y, w, h  uint32
	query       plugin.QueryModel
	// defaults are the field config defaults (unit, min, max, custom).
	defaults dashboard.FieldConfig
	options  map[string]any
}

func (p panel) builder() *dashboard.PanelBuilder {
	options := p.options
	if options == nil {
		options = map[string]any{}
	}
	b := dashboard.NewPanelBuilder().
		Id(p.id).
		Type(p.kind).
		Title(p.title).
		GridPos(dashboard.GridPos{X: p.x, Y: p.y, W: p.w, H: p.h}).
		Datasource(ds()).
		WithTarget(target(p.query)).
		FieldConfig(dashboard.FieldConfigSource{Defaults: p.defaults, Overrides: []dashboard.DashboardFieldConfigSourceOverrides{}}).
		Options(options)
	if p.description != "" {
		b.Description(p.description)
	}
	return b
}

// newDashboard is a dashboard with what all of them share: uid, title,
// tags, time range, the datasource variable first and the given variables
// after it, the annotations and the panels.
func newDashboard(uid, title string, tags []string, timezone, from string, vars []cog.Builder[dashboard.VariableModel], annotations []cog.Builder[dashboard.AnnotationQuery], panels []panel) (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Tags(tags).
		Timezone(timezone).
		Version(1).
		Editable().
		Time(from, "now").
		Refresh("").
		WithVariable(datasourceVariable())
	for _, v := range vars {
		b.WithVariable(v)
	}
	for _, a := range annotations {
		b.Annotation(a)
	}
	for _, p := range panels {
		b.WithPanel(p.builder())
	}
	d, err := b.Build()
	if err != nil {
		return dashboard.Dashboard{}, err
	}
	// The SDK's defaults that the dashboards leave to Grafana.
	d.GraphTooltip = nil
	d.FiscalYearStartMonth = nil
	for i, p := range d.Panels {
		// The SDK places a panel given at x 0, y 0 after the one before
		// it; each panel goes exactly where it is given.
		p.Panel.GridPos = &dashboard.GridPos{X: panels[i].x, Y: panels[i].y, W: panels[i].w, H: panels[i].h}
		p.Panel.RepeatDirection = nil
		p.Panel.Transparent = nil
	}
	for i := range d.Annotations.List {
		a := &d.Annotations.List[i]
		a.BuiltIn = nil
		a.Hide = nil
		// Placement would move the annotation's toggle into the controls
		// menu; the dashboards keep it beside the variables.
		a.Placement = nil
	}
	for i := range d.Templating.List {
		tidy(&d.Templating.List[i])
	}
	return d, nil
}

// tidy drops the SDK's variable defaults that only interval variables
// read, or that Grafana assumes anyway.
func tidy(v *dashboard.VariableModel) {
	v.SkipUrlSync = nil
	v.AllowCustomValue = nil
	v.Auto = nil
	v.AutoMin = nil
	v.AutoCount = nil
	if v.Type != dashboard.VariableTypeQuery {
		v.Multi = nil
		v.IncludeAll = nil
	}
	if v.Type == dashboard.VariableTypeDatasource {
		v.Refresh = cog.ToPtr(dashboard.VariableRefreshOnDashboardLoad)
	}
}

func option(text, value string) dashboard.VariableOption {
	return dashboard.VariableOption{
		Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(text)},
		Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(value)},
	}
}

// datasourceVariable chooses among the Lambdascope datasources (refreshed
// on load: see tidy).
func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("datasource").
		Label("Datasource").
		Type(PluginID).
		Current(option("Lambdascope", "lambdascope")).
		Hide(dashboard.VariableHideDontHide).
		Regex("")
}

// functionVariable is the function to show, from the datasource's list of
// functions; all lets the panels show every function.
func functionVariable(all bool) *dashboard.QueryVariableBuilder {
	b := dashboard.NewQueryVariableBuilder("function").
		Label("Function").
		Datasource(ds()).
		Query(dashboard.StringOrMap{String: cog.ToPtr("functions")}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		IncludeAll(all).
		Multi(false).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Hide(dashboard.VariableHideDontHide)
	if all {
		b.AllValue("").Current(option("All", "$__all"))
	}
	return b
}

// filtersVariable is the ad hoc filters the datasource applies.
func filtersVariable() *dashboard.AdHocVariableBuilder {
	return dashboard.NewAdHocVariableBuilder("filters").
		Label("Filters").
		Datasource(ds()).
		Hide(dashboard.VariableHideDontHide)
}

func textboxVariable(name, label string) *dashboard.TextBoxVariableBuilder {
	return dashboard.NewTextBoxVariableBuilder(name).
		Label(label).
		DefaultValue(dashboard.StringOrMap{String: cog.ToPtr("")}).
		Current(option("", "")).
		Hide(dashboard.VariableHideDontHide)
}

// markers are the annotations of the function's error spikes,
// deployments and cold-start storms.
func markers() []cog.Builder[dashboard.AnnotationQuery] {
	var out []cog.Builder[dashboard.AnnotationQuery]
	for _, m := range []struct{ name, color, annotation string }{
		{"Error spikes", "red", plugin.AnnotationErrorSpikes},
		{"Deployments", "blue", plugin.AnnotationDeployments},
		{"Cold-start storms", "orange", plugin.AnnotationColdStartStorms},
	} {
		out = append(out, dashboard.NewAnnotationQueryBuilder().
			Name(m.name).
			Enable(true).
			IconColor(m.color).
			Datasource(ds()).
			Target(query{RefID: "Anno", QueryModel: plugin.QueryModel{
				QueryType: plugin.QueryTypeAnnotations, Annotation: m.annotation, FunctionName: "${function}",
			}}))
	}
	return out
}

func unit(u string) dashboard.FieldConfig { return dashboard.FieldConfig{Unit: cog.ToPtr(u)} }

// bars draws a time series as bars.
func bars() dashboard.FieldConfig {
	return dashboard.FieldConfig{Custom: map[string]any{"drawStyle": "bars", "fillOpacity": 60}}
}
