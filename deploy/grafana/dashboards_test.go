package grafana

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// queryTypes are the query types the datasource answers
// (grafana-plugin/pkg/plugin QueryType*).
var queryTypes = map[string]bool{
	"trace": true, "search": true, "invocations": true, "logs": true,
	"metrics": true, "serviceMap": true, "catalog": true, "cost": true,
}

// metrics are the figures a metrics query can show
// (grafana-plugin/pkg/plugin/frames Metrics).
var metrics = map[string]bool{
	"invocations": true, "errors": true, "timeouts": true, "errorRate": true, "coldStarts": true,
	"coldStartRate": true, "initDuration": true, "durationP50": true, "durationP95": true,
	"durationP99": true, "concurrency": true, "maxMemoryUsed": true, "memoryConfigured": true,
}

// checkTarget reports what in one query the datasource would refuse.
func checkTarget(t *testing.T, where string, target map[string]any) {
	t.Helper()
	if qt, _ := target["queryType"].(string); !queryTypes[qt] {
		t.Errorf("%s asks for query type %q", where, qt)
	}
	ms, _ := target["metrics"].([]any)
	for _, m := range ms {
		if name, _ := m.(string); !metrics[name] {
			t.Errorf("%s asks for metric %v", where, m)
		}
	}
}

type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Title      string `json:"title"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []map[string]any `json:"targets"`
	} `json:"panels"`
}

func TestDashboards(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("dashboards", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards found: %v", err)
	}
	provisioned, err := os.ReadFile(filepath.Join("provisioning", "datasources", "lambdascope.yaml"))
	if err != nil {
		t.Fatalf("read datasource provisioning: %v", err)
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
			for _, p := range d.Panels {
				if p.Datasource.Type != "lambdascope-lambdascope-datasource" ||
					!strings.Contains(string(provisioned), "uid: "+p.Datasource.UID+"\n") {
					t.Errorf("panel %q uses datasource %+v, not the provisioned one", p.Title, p.Datasource)
				}
				for _, target := range p.Targets {
					checkTarget(t, "panel "+p.Title, target)
				}
			}
		})
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
