package query

import (
	"errors"
	"strings"
	"testing"
)

func TestNameFilterKeeps(t *testing.T) {
	tests := []struct {
		op, value string
		name      string
		want      bool
		// wantAny is KeepSets of a trace with the functions orders and billing.
		wantAny bool
	}{
		{OpEqual, "billing", "billing", true, true},
		{OpEqual, "billing", "billing2", false, true},
		{OpNotEqual, "billing", "billing", false, false},
		{OpNotEqual, "payments", "billing", true, true},
		{OpMatch, "bill.*", "billing", true, true},
		{OpMatch, "bill", "billing", false, false},
		{OpMatch, "pay.*", "payments", true, false},
		{OpNotMatch, "bill.*", "billing", false, false},
		{OpNotMatch, "pay.*", "billing", true, true},
		{OpEqual, "orders' OR '1'='1", "orders", false, false},
		{OpMatch, "orders' OR '1'='1", "orders", false, false},
		{OpNotEqual, "orders' OR '1'='1", "orders", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.op+tt.value+"/"+tt.name, func(t *testing.T) {
			n, err := NewNameFilters(NameFilter{Key: NameKeyFunction, Operator: tt.op, Value: tt.value})
			if err != nil {
				t.Fatalf("NewNameFilters: %v", err)
			}
			if got := n.Keep(tt.name, "any"); got != tt.want {
				t.Errorf("Keep(%q) = %v, want %v", tt.name, got, tt.want)
			}
			if got := n.KeepSets([]string{"orders", "billing"}, nil); got != tt.wantAny {
				t.Errorf("KeepSets(orders, billing) = %v, want %v", got, tt.wantAny)
			}
		})
	}
}

func TestNameFiltersInvalid(t *testing.T) {
	tests := []struct {
		name string
		f    NameFilter
		want string
	}{
		{"operator", NameFilter{Key: "function", Operator: "<", Value: "o"}, `operator must be =, !=, =~ or !~`},
		{"key", NameFilter{Key: "http.route", Operator: "=", Value: "/"}, `key must be function or service`},
		{"regexp", NameFilter{Key: "service", Operator: "=~", Value: "a(b"}, "missing closing )"},
		{"long regexp", NameFilter{Key: "service", Operator: "!~", Value: strings.Repeat("a", MaxNamePatternSize+1)}, "longer than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewNameFilters(tt.f)
			if !errors.Is(err, ErrInvalidFilter) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalidFilter saying %q", err, tt.want)
			}
		})
	}
}

func TestParseNameFilter(t *testing.T) {
	tests := []struct {
		in      string
		want    NameFilter
		wantErr bool
	}{
		{"function=orders", NameFilter{"function", "=", "orders"}, false},
		{"service!=checkout", NameFilter{"service", "!=", "checkout"}, false},
		{"function=~ord.*", NameFilter{"function", "=~", "ord.*"}, false},
		{"service!~pay.*|bill", NameFilter{"service", "!~", "pay.*|bill"}, false},
		{"function==x", NameFilter{"function", "=", "=x"}, false},
		{"function", NameFilter{}, true},
		{"=x", NameFilter{}, true},
		{"route=/orders", NameFilter{}, true},
		{"function=~(", NameFilter{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNameFilter(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseNameFilter(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestSelectionServiceMap(t *testing.T) {
	m := &ServiceMap{
		Nodes: []MapNode{
			{Name: "gateway", Kind: NodeService}, {Name: "orders", Kind: NodeFunction},
			{Name: "billing", Kind: NodeFunction}, {Name: "dynamodb", Kind: NodeResource},
			{Name: "lonely", Kind: NodeFunction},
		},
		Edges: []MapEdge{
			{Caller: "gateway", Callee: "orders"}, {Caller: "orders", Callee: "billing"}, {Caller: "billing", Callee: "dynamodb"},
		},
	}
	svcOf := map[string]string{"orders": "shop", "billing": "payments", "lonely": "shop"}
	tests := []struct {
		name      string
		filters   []NameFilter
		wantNodes string
		wantEdges string
	}{
		{"none", nil, "gateway orders billing dynamodb lonely", "gateway>orders orders>billing billing>dynamodb"},
		{"function =", []NameFilter{{"function", "=", "billing"}}, "orders billing dynamodb", "orders>billing billing>dynamodb"},
		{"function !=", []NameFilter{{"function", "!=", "orders"}}, "gateway billing dynamodb lonely", "billing>dynamodb"},
		{"function =~ lone", []NameFilter{{"function", "=~", "lon.*"}}, "lonely", ""},
		{"service of functions", []NameFilter{{"service", "=", "payments"}}, "orders billing dynamodb", "orders>billing billing>dynamodb"},
		{"service node", []NameFilter{{"service", "=", "gateway"}}, "gateway orders", "gateway>orders"},
		{"service !~", []NameFilter{{"service", "!~", "shop|gateway"}}, "billing dynamodb", "billing>dynamodb"},
		{"resource name is no function", []NameFilter{{"function", "=", "dynamodb"}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := NewNameFilters(tt.filters...)
			if err != nil {
				t.Fatalf("NewNameFilters: %v", err)
			}
			got := Selection{filters: n, serviceOf: svcOf}.ServiceMap(m)
			var nodes, edges []string
			for _, n := range got.Nodes {
				nodes = append(nodes, n.Name)
			}
			for _, e := range got.Edges {
				edges = append(edges, e.Caller+">"+e.Callee)
			}
			if strings.Join(nodes, " ") != tt.wantNodes || strings.Join(edges, " ") != tt.wantEdges {
				t.Errorf("nodes %v edges %v, want %q %q", nodes, edges, tt.wantNodes, tt.wantEdges)
			}
		})
	}
}
