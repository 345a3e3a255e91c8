package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lambdascope/lambdascope/deploy/grafana/dashboards/build"
	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin"
	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/frames"
)

// modelFields are the keys a query of the datasource may hold: the JSON
// fields of its query model and the ones Grafana adds.
var modelFields = func() map[string]bool {
	out := map[string]bool{"refId": true, "datasource": true, "hide": true, "intervalMs": true, "maxDataPoints": true}
	t := reflect.TypeFor[plugin.QueryModel]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}()

// checkTarget reports what in one query the datasource would refuse: an
// unknown query type, field, metric, spike series or grouping.
func checkTarget(t *testing.T, where string, target map[string]any) {
	t.Helper()
	qt, _ := target["queryType"].(string)
	if !slices.Contains(plugin.QueryTypes, qt) {
		t.Errorf("%s asks for query type %q", where, qt)
	}
	for k := range target {
		if !modelFields[k] {
			t.Errorf("%s has field %q, which the datasource does not read", where, k)
		}
	}
	names := func(key string, valid []string) {
		list, _ := target[key].([]any)
		for _, v := range list {
			if name, _ := v.(string); !slices.Contains(valid, name) {
				t.Errorf("%s asks for %s %v", where, key, v)
			}
		}
	}
	names("metrics", frames.MetricNames())
	names("spikeSeries", frames.SpikeSeriesNames)
	oneOf := func(key string, valid ...string) {
		if v, ok := target[key]; ok && !slices.Contains(valid, fmt.Sprint(v)) {
			t.Errorf("%s has %s %v, want one of %v", where, key, v, valid)
		}
	}
	oneOf("costBy", plugin.CostByValues...)
	oneOf("format", plugin.FormatTable, plugin.FormatTimeSeries)
	oneOf("status", "", "ok", "error", "unset")
}

// timeSeries reports whether a query answers with time series, which alert
// rules need.
func timeSeries(target map[string]any) bool {
	switch target["queryType"] {
	case plugin.QueryTypeMetrics:
		return true
	case plugin.QueryTypeSpikes, plugin.QueryTypeCompleteness:
		return target["format"] == plugin.FormatTimeSeries
	}
	return false
}

// fits reports whether a panel of the given type can show what the query
// answers.
func fits(panel string, target map[string]any) bool {
	switch panel {
	case "timeseries":
		return timeSeries(target) || target["queryType"] == plugin.QueryTypeCost && target["costBy"] == "day"
	case "traces":
		return target["queryType"] == plugin.QueryTypeTrace
	case "nodeGraph":
		return target["queryType"] == plugin.QueryTypeServiceMap
	case "logs":
		return target["queryType"] == plugin.QueryTypeLogs
	case "table":
		return !timeSeries(target) && target["queryType"] != plugin.QueryTypeServiceMap
	}
	return true
}

type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []map[string]any `json:"targets"`
	} `json:"panels"`
	Annotations struct {
		List []struct {
			Name       string `json:"name"`
			Datasource struct {
				Type string `json:"type"`
				UID  string `json:"uid"`
			} `json:"datasource"`
			Target map[string]any `json:"target"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Datasource *struct {
				Type string `json:"type"`
				UID  string `json:"uid"`
			} `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

// datasourceVariable is what every panel and variable names as its
// datasource: the dashboard's datasource variable, so that the dashboard
// works wherever it is imported, whatever the datasource's uid.
const datasourceVariable = "${datasource}"

func TestDashboards(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("dashboards", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards found: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			var d dashboard
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !strings.HasPrefix(d.UID, "lambdascope-") || len(d.Panels) == 0 {
				t.Errorf("uid %q, %d panels: want a lambdascope- uid and panels", d.UID, len(d.Panels))
			}
			hasVariable := false
			for _, v := range d.Templating.List {
				if v.Name == "datasource" {
					hasVariable = v.Type == "datasource" && v.Query == "lambdascope-lambdascope-datasource"
					continue
				}
				if v.Datasource != nil && (v.Datasource.Type != "lambdascope-lambdascope-datasource" || v.Datasource.UID != datasourceVariable) {
					t.Errorf("variable %q uses datasource %+v, not %s", v.Name, *v.Datasource, datasourceVariable)
				}
			}
			if !hasVariable {
				t.Errorf("no datasource variable of type datasource choosing among lambdascope-lambdascope-datasource")
			}
			for _, a := range d.Annotations.List {
				if a.Datasource.Type != "lambdascope-lambdascope-datasource" || a.Datasource.UID != datasourceVariable {
					t.Errorf("annotation %q uses datasource %+v, not %s", a.Name, a.Datasource, datasourceVariable)
				}
				checkTarget(t, "annotation "+a.Name, a.Target)
				if a.Target["queryType"] != plugin.QueryTypeAnnotations {
					t.Errorf("annotation %q runs a %v query", a.Name, a.Target["queryType"])
				}
			}
			for _, p := range d.Panels {
				if p.Datasource.Type != "lambdascope-lambdascope-datasource" || p.Datasource.UID != datasourceVariable {
					t.Errorf("panel %q uses datasource %+v, not %s", p.Title, p.Datasource, datasourceVariable)
				}
				for _, target := range p.Targets {
					checkTarget(t, "panel "+p.Title, target)
					if !fits(p.Type, target) {
						t.Errorf("panel %q of type %s shows a %v query", p.Title, p.Type, target["queryType"])
					}
				}
			}
		})
	}
}

// TestDashboardsGenerated fails when a committed dashboard differs from
// what package build makes of it (a hand edit, or a build change not
// regenerated: run `make dashboards`), or when a dashboard is not built
// there at all.
func TestDashboardsGenerated(t *testing.T) {
	files, err := build.Dashboards()
	if err != nil {
		t.Fatalf("build dashboards: %v", err)
	}
	built := map[string]bool{}
	for _, f := range files {
		built[f.Name] = true
		committed, err := os.ReadFile(filepath.Join("dashboards", f.Name))
		if err != nil {
			t.Errorf("dashboard %s is built but not committed: %v", f.Name, err)
			continue
		}
		if string(committed) != string(f.JSON) {
			t.Errorf("dashboards/%s differs from what deploy/grafana/dashboards/build makes of it; change the build package, not the JSON, and run make dashboards", f.Name)
		}
	}
	paths, err := filepath.Glob(filepath.Join("dashboards", "*.json"))
	if err != nil {
		t.Fatalf("list dashboards: %v", err)
	}
	for _, path := range paths {
		if !built[filepath.Base(path)] {
			t.Errorf("%s is not built by deploy/grafana/dashboards/build", path)
		}
	}
}

func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("provisioning", "alerting", "lambdascope-alerts.yaml"))
	if err != nil {
		t.Fatalf("read alert rules: %v", err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				UID       string `yaml:"uid"`
				Condition string `yaml:"condition"`
				Data      []struct {
					RefID         string         `yaml:"refId"`
					DatasourceUID string         `yaml:"datasourceUid"`
					Model         map[string]any `yaml:"model"`
				} `yaml:"data"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("decode alert rules: %v", err)
	}
	rules := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules++
			refs := map[string]bool{}
			queries := 0
			for _, d := range r.Data {
				refs[d.RefID] = true
				switch d.DatasourceUID {
				case "lambdascope":
					queries++
					checkTarget(t, "rule "+r.UID, d.Model)
					if !timeSeries(d.Model) {
						t.Errorf("rule %s: query %s does not answer with time series", r.UID, d.RefID)
					}
					// A rule on "the last N minutes" must read those minutes
					// whatever the clock, not the buckets the clock began.
					if d.Model["queryType"] == "metrics" && d.Model["wholeRange"] != true {
						t.Errorf("rule %s: metrics query %s does not read the whole range (wholeRange: true)", r.UID, d.RefID)
					}
				case "__expr__":
				default:
					t.Errorf("rule %s queries datasource %q", r.UID, d.DatasourceUID)
				}
			}
			if queries == 0 || !refs[r.Condition] {
				t.Errorf("rule %s: %d Lambdascope queries, condition %q among %v", r.UID, queries, r.Condition, refs)
			}
		}
	}
	if rules == 0 {
		t.Fatal("no alert rules")
	}
}
