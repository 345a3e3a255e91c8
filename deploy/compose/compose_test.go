package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lambdascope/lambdascope/collector"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Build       *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("parse compose.yaml: %v", err)
	}
	for _, svc := range []string{"clickhouse", "collector", "grafana"} {
		if _, ok := c.Services[svc]; !ok {
			t.Fatalf("compose.yaml lacks service %q", svc)
		}
	}
	col := c.Services["collector"]
	if col.Build == nil {
		t.Fatal("collector service has no build section")
	}
	if _, err := os.Stat(filepath.Join(col.Build.Context, col.Build.Dockerfile)); err != nil {
		t.Errorf("collector Dockerfile: %v", err)
	}
	// Every bind-mounted host path must exist in the repository, except the
	// plugin build output, which `npm run build` makes.
	for name, svc := range c.Services {
		for _, v := range svc.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") {
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s: named volume %q not declared", name, src)
				}
				continue
			}
			if strings.HasSuffix(src, "grafana-plugin/dist") {
				continue
			}
			if _, err := os.Stat(src); err != nil {
				t.Errorf("%s mounts %s: %v", name, src, err)
			}
		}
	}
	if !strings.Contains(strings.Join(c.Services["grafana"].Volumes, " "), "/etc/grafana/provisioning") {
		t.Error("grafana does not mount the provisioning directory")
	}
}

func TestExampleCollectorConfigIsValid(t *testing.T) {
	cfg, err := collector.LoadConfig("../collector.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("collector.example.yaml: %v", err)
	}
	if cfg.WALDir() == "" || cfg.HTTPAddr != ":4318" {
		t.Fatalf("example does not show the WAL and OTLP/HTTP: %+v", cfg)
	}
}
