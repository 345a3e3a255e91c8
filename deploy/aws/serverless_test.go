package aws

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestServerlessFrameworkExample(t *testing.T) {
	const dir = "serverless"
	cfg := loadTemplate(t, filepath.Join(dir, "serverless.yml"))

	if get(cfg, "provider", "name") != "aws" {
		t.Errorf("provider.name = %v, want aws", get(cfg, "provider", "name"))
	}
	arch, _ := get(cfg, "provider", "architecture").(string)
	layers, _ := cfg["layers"].(map[string]any)
	if len(layers) == 0 {
		t.Fatal("no layers")
	}
	// The Framework names a layer's CloudFormation resource
	// <TitleCasedName>LambdaLayer.
	layerResources := map[string]bool{}
	for name, l := range layers {
		archs := stringList(get(l, "compatibleArchitectures"))
		if len(archs) != 1 {
			t.Errorf("layer %s: compatibleArchitectures = %v, want exactly one", name, archs)
			continue
		}
		if archs[0] != arch {
			t.Errorf("layer %s is for %s, the functions run on %q", name, archs[0], arch)
		}
		checkLayerArtifact(t, dir, get(l, "package", "artifact"), archs[0])
		layerResources[strings.ToUpper(name[:1])+name[1:]+"LambdaLayer"] = true
	}

	functions, _ := cfg["functions"].(map[string]any)
	if len(functions) == 0 {
		t.Fatal("no functions")
	}
	for name, fn := range functions {
		layerRefs := refs(get(fn, "layers"))
		if len(layerRefs) == 0 {
			t.Errorf("function %s: no layer attached", name)
		}
		for _, ref := range layerRefs {
			if !layerResources[ref] {
				t.Errorf("function %s: layer reference %s names no layer of this service", name, ref)
			}
		}
		for _, k := range requiredEnv {
			v := get(fn, "environment", k)
			if v == nil {
				v = get(cfg, "provider", "environment", k)
			}
			if s, ok := v.(string); !ok || s == "" {
				t.Errorf("function %s: environment %s = %v, want a value", name, k, v)
			}
		}
	}
	for _, ref := range refs(get(cfg, "resources", "Outputs")) {
		if !layerResources[ref] {
			t.Errorf("output refers to %s, not a layer", ref)
		}
	}
}
