package aws

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTemplateShortForms(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    map[string]any
		wantErr string
	}{
		{
			name: "ref",
			yaml: "A: !Ref B",
			want: map[string]any{"A": map[string]any{"Ref": "B"}},
		},
		{
			name: "getatt scalar splits",
			yaml: "A: !GetAtt Fn.Arn",
			want: map[string]any{"A": map[string]any{"Fn::GetAtt": []any{"Fn", "Arn"}}},
		},
		{
			name: "nested if with sub and ref",
			yaml: "A: !If [C, !Sub \"x-${B}\", !Ref D]",
			want: map[string]any{"A": map[string]any{"Fn::If": []any{
				"C", map[string]any{"Fn::Sub": "x-${B}"}, map[string]any{"Ref": "D"},
			}}},
		},
		{
			name: "sub with mapping",
			yaml: "A: !Sub\n  - \"${X}\"\n  - X: !Ref Y",
			want: map[string]any{"A": map[string]any{"Fn::Sub": []any{
				"${X}", map[string]any{"X": map[string]any{"Ref": "Y"}},
			}}},
		},
		{
			name: "plain scalars keep their types",
			yaml: "A: 3\nB: true\nC: \"3\"",
			want: map[string]any{"A": 3, "B": true, "C": "3"},
		},
		{name: "unknown tag", yaml: "A: !Reff B", wantErr: "unknown tag !Reff"},
		{name: "getatt without attribute", yaml: "A: !GetAtt Fn", wantErr: "lacks .Attribute"},
		{name: "duplicate key", yaml: "A: 1\nA: 2", wantErr: "A"},
		{name: "top level sequence", yaml: "- a", wantErr: "want a mapping"},
		{name: "broken yaml", yaml: "A: [", wantErr: "parse template yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTemplate([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}
