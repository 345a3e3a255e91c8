package aws

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// tfModule is the top-level content of one Terraform module directory.
type tfModule struct {
	blocks []*hclsyntax.Block
	// vars holds every var.<name> referenced anywhere in the module.
	vars map[string]hcl.Range
}

func loadTerraform(t *testing.T, dir string) tfModule {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files in %s (%v)", dir, err)
	}
	p := hclparse.NewParser()
	mod := tfModule{vars: map[string]hcl.Range{}}
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", f, diags.Error())
		}
		body, ok := file.Body.(*hclsyntax.Body)
		if !ok {
			t.Fatalf("%s: not native HCL syntax", f)
		}
		mod.blocks = append(mod.blocks, body.Blocks...)
		collectVars(body, mod.vars)
	}
	return mod
}

func collectVars(body *hclsyntax.Body, into map[string]hcl.Range) {
	for _, a := range body.Attributes {
		for _, tr := range a.Expr.Variables() {
			if tr.RootName() != "var" || len(tr) < 2 {
				continue
			}
			if attr, ok := tr[1].(hcl.TraverseAttr); ok {
				into[attr.Name] = tr.SourceRange()
			}
		}
	}
	for _, b := range body.Blocks {
		collectVars(b.Body, into)
	}
}

// find returns the blocks of a type whose labels start with labels.
func (m tfModule) find(typ string, labels ...string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == typ && len(b.Labels) >= len(labels) && slices.Equal(b.Labels[:len(labels)], labels) {
			out = append(out, b)
		}
	}
	return out
}

// variables maps each declared variable to whether it has a default.
func (m tfModule) variables() map[string]bool {
	out := map[string]bool{}
	for _, b := range m.find("variable") {
		_, hasDefault := b.Body.Attributes["default"]
		out[b.Labels[0]] = hasDefault
	}
	return out
}

// checkCommon asserts what every module must hold: variables with a type
// and a description, every var.X declared, outputs with a value and a
// description.
func checkCommon(t *testing.T, m tfModule) {
	t.Helper()
	vars := m.variables()
	for _, b := range m.find("variable") {
		for _, attr := range []string{"type", "description"} {
			if b.Body.Attributes[attr] == nil {
				t.Errorf("variable %q lacks %s", b.Labels[0], attr)
			}
		}
	}
	for name, rng := range m.vars {
		if _, ok := vars[name]; !ok {
			t.Errorf("%s: var.%s is not declared", rng, name)
		}
	}
	for _, b := range m.find("output") {
		for _, attr := range []string{"value", "description"} {
			if b.Body.Attributes[attr] == nil {
				t.Errorf("output %q lacks %s", b.Labels[0], attr)
			}
		}
	}
	if len(m.find("terraform")) == 0 {
		t.Error("no terraform block (required_providers)")
	}
}

func TestTerraformLayerModule(t *testing.T) {
	m := loadTerraform(t, filepath.Join("terraform", "lambdascope-layer"))
	checkCommon(t, m)

	layers := m.find("resource", "aws_lambda_layer_version")
	if len(layers) != 1 {
		t.Fatalf("%d aws_lambda_layer_version resources, want 1 (for_each over architectures)", len(layers))
	}
	layer := layers[0]
	for _, attr := range []string{"for_each", "layer_name", "filename", "source_code_hash", "compatible_architectures", "compatible_runtimes"} {
		if layer.Body.Attributes[attr] == nil {
			t.Errorf("aws_lambda_layer_version lacks %s", attr)
		}
	}
	if fe := layer.Body.Attributes["for_each"]; fe != nil {
		if !slices.ContainsFunc(fe.Expr.Variables(), func(tr hcl.Traversal) bool {
			return hclTraversalString(tr) == "var.architectures"
		}) {
			t.Error("layer for_each is not over var.architectures")
		}
	}
	if f := layer.Body.Attributes["filename"]; f != nil {
		src := string(f.SrcRange.SliceBytes(mustRead(t, f.SrcRange.Filename)))
		if !strings.Contains(src, "lambdascope-extension-${each.key}.zip") {
			t.Errorf("layer filename %s is not the zip make layer writes", src)
		}
	}

	vars := m.variables()
	if hasDefault, ok := vars["dist_dir"]; !ok || hasDefault {
		t.Error("want a required variable dist_dir")
	}
	if arch := m.find("variable", "architectures"); len(arch) == 1 {
		def, diags := arch[0].Body.Attributes["default"].Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("architectures default: %s", diags.Error())
		}
		var got []string
		for it := def.ElementIterator(); it.Next(); {
			_, v := it.Element()
			got = append(got, v.AsString())
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"arm64", "x86_64"}) {
			t.Errorf("architectures default = %v, want arm64 and x86_64", got)
		}
	} else {
		t.Error("no variable architectures")
	}
	if len(m.find("output", "layer_arns")) != 1 {
		t.Error("no output layer_arns")
	}
}

func TestTerraformExample(t *testing.T) {
	dir := filepath.Join("terraform", "examples", "function")
	m := loadTerraform(t, dir)
	checkCommon(t, m)

	mods := m.find("module")
	if len(mods) != 1 {
		t.Fatalf("%d module blocks, want 1", len(mods))
	}
	mod := mods[0]
	src, diags := mod.Body.Attributes["source"].Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("module source: %s", diags.Error())
	}
	child := loadTerraform(t, filepath.Join(dir, src.AsString()))
	childVars := child.variables()
	for name := range mod.Body.Attributes {
		if _, ok := childVars[name]; !ok && name != "source" {
			t.Errorf("module argument %s is not a variable of the module", name)
		}
	}
	for name, hasDefault := range childVars {
		if _, ok := mod.Body.Attributes[name]; !ok && !hasDefault {
			t.Errorf("module lacks required argument %s", name)
		}
	}

	fns := m.find("resource", "aws_lambda_function")
	if len(fns) == 0 {
		t.Fatal("no aws_lambda_function")
	}
	for _, fn := range fns {
		name := fn.Labels[1]
		layersAttr := fn.Body.Attributes["layers"]
		if layersAttr == nil {
			t.Errorf("function %s: no layers", name)
		} else if !slices.ContainsFunc(layersAttr.Expr.Variables(), func(tr hcl.Traversal) bool {
			return hclTraversalString(tr) == "module."+mod.Labels[0]+".layer_arns"
		}) {
			t.Errorf("function %s: layers do not use module.%s.layer_arns", name, mod.Labels[0])
		}
		var keys []string
		for _, env := range fn.Body.Blocks {
			if env.Type != "environment" {
				continue
			}
			obj, ok := env.Body.Attributes["variables"].Expr.(*hclsyntax.ObjectConsExpr)
			if !ok {
				t.Errorf("function %s: environment.variables is not an object", name)
				continue
			}
			for _, item := range obj.Items {
				keys = append(keys, hcl.ExprAsKeyword(item.KeyExpr))
			}
		}
		for _, k := range requiredEnv {
			if !slices.Contains(keys, k) {
				t.Errorf("function %s: environment lacks %s (has %v)", name, k, keys)
			}
		}
	}
	if len(m.find("data", "aws_secretsmanager_secret_version")) == 0 {
		t.Error("the API key does not come from Secrets Manager")
	}
}

// TestTerraformFormatted runs `terraform fmt -check` when terraform is
// installed; it needs no providers and no network.
func TestTerraformFormatted(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform not installed; HCL syntax is checked by the other tests")
	}
	cmd := exec.CommandContext(t.Context(), tf, "fmt", "-check", "-recursive", "-diff", "terraform")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check: %v\n%s", err, out)
	}
}

// hclTraversalString renders the attribute path of a traversal, without
// index steps: module.x.layer_arns[var.a] is "module.x.layer_arns".
func hclTraversalString(tr hcl.Traversal) string {
	parts := []string{tr.RootName()}
	for _, step := range tr[1:] {
		a, ok := step.(hcl.TraverseAttr)
		if !ok {
			break
		}
		parts = append(parts, a.Name)
	}
	return strings.Join(parts, ".")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
