package aws

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Environment variables every template must give the function.
var requiredEnv = []string{"LAMBDASCOPE_ENDPOINT", "LAMBDASCOPE_API_KEY"}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

func loadTemplate(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := ParseTemplate(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tpl
}

// get walks nested mappings by key; nil when a step is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func stringList(v any) []string {
	s, _ := v.([]any)
	var out []string
	for _, e := range s {
		if str, ok := e.(string); ok {
			out = append(out, str)
		}
	}
	return out
}

// checkLayerArtifact asserts that artifact, relative to the template's
// directory, is the zip `make layer` writes for arch.
func checkLayerArtifact(t *testing.T, templateDir string, artifact any, arch string) {
	t.Helper()
	s, ok := artifact.(string)
	if !ok {
		t.Errorf("layer artifact for %s is %v, want a path", arch, artifact)
		return
	}
	abs, err := filepath.Abs(filepath.Join(templateDir, s))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(repoRoot(t), "dist", "lambdascope-extension-"+arch+".zip"); abs != want {
		t.Errorf("layer artifact for %s resolves to %s, want %s (built by make layer)", arch, abs, want)
	}
}

// walk calls fn on every value in v, depth first.
func walk(v any, fn func(any)) {
	fn(v)
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			walk(e, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

// refs returns the targets of every Ref in v.
func refs(v any) []string {
	var out []string
	walk(v, func(x any) {
		if m, ok := x.(map[string]any); ok && len(m) == 1 {
			if r, ok := m["Ref"].(string); ok {
				out = append(out, r)
			}
		}
	})
	return out
}

var subVarRE = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

func TestCloudFormationTemplate(t *testing.T) {
	const dir = "cloudformation"
	tpl := loadTemplate(t, filepath.Join(dir, "template.yaml"))

	if got := tpl["Transform"]; got != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform = %v, want the SAM transform", got)
	}
	params, _ := tpl["Parameters"].(map[string]any)
	resources, _ := tpl["Resources"].(map[string]any)
	conditions, _ := tpl["Conditions"].(map[string]any)
	if len(resources) == 0 {
		t.Fatal("no Resources")
	}

	t.Run("layers", func(t *testing.T) {
		var archs []string
		for name, r := range resources {
			if get(r, "Type") != "AWS::Serverless::LayerVersion" {
				continue
			}
			a := stringList(get(r, "Properties", "CompatibleArchitectures"))
			if len(a) != 1 {
				t.Errorf("%s: CompatibleArchitectures = %v, want exactly one (one zip per architecture)", name, a)
				continue
			}
			archs = append(archs, a[0])
			checkLayerArtifact(t, dir, get(r, "Properties", "ContentUri"), a[0])
			if len(stringList(get(r, "Properties", "CompatibleRuntimes"))) == 0 {
				t.Errorf("%s: no CompatibleRuntimes", name)
			}
		}
		slices.Sort(archs)
		if !slices.Equal(archs, []string{"arm64", "x86_64"}) {
			t.Errorf("layer architectures = %v, want arm64 and x86_64", archs)
		}
	})

	t.Run("function", func(t *testing.T) {
		var functions int
		for name, r := range resources {
			if get(r, "Type") != "AWS::Serverless::Function" {
				continue
			}
			functions++
			layerRefs := refs(get(r, "Properties", "Layers"))
			if len(layerRefs) == 0 {
				t.Errorf("%s: no layer attached", name)
			}
			for _, ref := range layerRefs {
				if get(resources[ref], "Type") != "AWS::Serverless::LayerVersion" {
					t.Errorf("%s: Layers refers to %s, not a layer of this template", name, ref)
				}
			}
			vars, _ := get(r, "Properties", "Environment", "Variables").(map[string]any)
			for _, k := range requiredEnv {
				if vars[k] == nil {
					t.Errorf("%s: environment lacks %s", name, k)
				}
			}
			key := vars["LAMBDASCOPE_API_KEY"]
			var fromSecret, fromParam bool
			walk(key, func(x any) {
				if s, ok := x.(string); ok && strings.Contains(s, "{{resolve:secretsmanager:") {
					fromSecret = true
				}
			})
			for _, ref := range refs(key) {
				if get(params[ref], "NoEcho") == true {
					fromParam = true
				}
			}
			if !fromSecret || !fromParam {
				t.Errorf("%s: LAMBDASCOPE_API_KEY from a Secrets Manager reference = %v, from a NoEcho parameter = %v; want both",
					name, fromSecret, fromParam)
			}
		}
		if functions == 0 {
			t.Error("no AWS::Serverless::Function uses the layer")
		}
	})

	t.Run("references resolve", func(t *testing.T) {
		known := func(name string) bool {
			_, p := params[name]
			_, r := resources[name]
			return p || r || strings.HasPrefix(name, "AWS::")
		}
		walk(tpl, func(x any) {
			m, ok := x.(map[string]any)
			if !ok || len(m) != 1 {
				return
			}
			if r, ok := m["Ref"].(string); ok && !known(r) {
				t.Errorf("Ref to unknown %q", r)
			}
			if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				if _, ok := resources[ga[0].(string)]; !ok {
					t.Errorf("GetAtt of unknown resource %v", ga[0])
				}
			}
			if c, ok := m["Fn::If"].([]any); ok && len(c) == 3 {
				if _, ok := conditions[c[0].(string)]; !ok {
					t.Errorf("If on unknown condition %v", c[0])
				}
			}
			if s, ok := m["Fn::Sub"].(string); ok {
				for _, sm := range subVarRE.FindAllStringSubmatch(s, -1) {
					if name, _, _ := strings.Cut(sm[1], "."); !known(name) {
						t.Errorf("Sub %q refers to unknown %q", s, sm[1])
					}
				}
			}
		})
	})

	t.Run("outputs", func(t *testing.T) {
		outputs, _ := tpl["Outputs"].(map[string]any)
		var layerOutputs int
		for _, o := range outputs {
			for _, ref := range refs(get(o, "Value")) {
				if get(resources[ref], "Type") == "AWS::Serverless::LayerVersion" {
					layerOutputs++
				}
			}
		}
		if layerOutputs != 2 {
			t.Errorf("%d outputs give a layer ARN, want 2", layerOutputs)
		}
	})
}
