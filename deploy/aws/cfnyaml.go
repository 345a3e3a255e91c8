package aws

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// shortForms maps CloudFormation's short-form YAML tags to the intrinsic
// function they stand for.
var shortForms = map[string]string{
	"!Ref":          "Ref",
	"!Condition":    "Condition",
	"!Base64":       "Fn::Base64",
	"!Cidr":         "Fn::Cidr",
	"!FindInMap":    "Fn::FindInMap",
	"!GetAtt":       "Fn::GetAtt",
	"!GetAZs":       "Fn::GetAZs",
	"!ImportValue":  "Fn::ImportValue",
	"!Join":         "Fn::Join",
	"!Select":       "Fn::Select",
	"!Split":        "Fn::Split",
	"!Sub":          "Fn::Sub",
	"!Transform":    "Fn::Transform",
	"!And":          "Fn::And",
	"!Equals":       "Fn::Equals",
	"!If":           "Fn::If",
	"!Not":          "Fn::Not",
	"!Or":           "Fn::Or",
	"!GetParam":     "Fn::GetParam",
	"!ToJsonString": "Fn::ToJsonString",
	"!Length":       "Fn::Length",
}

// ParseTemplate decodes a CloudFormation, SAM or Serverless Framework YAML
// document into plain Go values (map[string]any, []any, string, int, float64,
// bool, nil), rewriting short-form tags into their long form: `!Ref X`
// becomes {"Ref": "X"}, `!GetAtt A.B` becomes {"Fn::GetAtt": ["A", "B"]}.
// An unknown local tag is an error, so a typo does not pass as a string.
func ParseTemplate(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("parse template yaml: want one document")
	}
	v, err := convert(doc.Content[0])
	if err != nil {
		return nil, fmt.Errorf("parse template yaml: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse template yaml: top level is %T, want a mapping", v)
	}
	return m, nil
}

func convert(n *yaml.Node) (any, error) {
	if fn, ok := shortForms[n.Tag]; ok {
		return convertShortForm(n, fn)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convert(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	case yaml.AliasNode:
		return convert(n.Alias)
	default:
		return nil, fmt.Errorf("line %d: unexpected yaml node kind %v", n.Line, n.Kind)
	}
}

// convertShortForm converts a node tagged with a short-form intrinsic. The
// tag is dropped before decoding the node's own value.
func convertShortForm(n *yaml.Node, fn string) (any, error) {
	inner := *n
	switch n.Kind {
	case yaml.ScalarNode:
		inner.Tag = "!!str"
	case yaml.SequenceNode:
		inner.Tag = "!!seq"
	case yaml.MappingNode:
		inner.Tag = "!!map"
	}
	v, err := convert(&inner)
	if err != nil {
		return nil, err
	}
	if s, ok := v.(string); ok && fn == "Fn::GetAtt" {
		resource, attr, found := strings.Cut(s, ".")
		if !found {
			return nil, fmt.Errorf("line %d: !GetAtt %q lacks .Attribute", n.Line, s)
		}
		v = []any{resource, attr}
	}
	return map[string]any{fn: v}, nil
}
