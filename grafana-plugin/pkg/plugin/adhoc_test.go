package plugin

import (
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/query"
)

func TestNameMatcher(t *testing.T) {
	tests := []struct {
		op, value string
		name      string
		want      bool
		// wantAny is keepsAny of a trace with the functions orders and billing.
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
			m, err := newNameMatcher(AdhocFilter{Key: AdhocKeyFunction, Operator: tt.op, Value: tt.value})
			if err != nil {
				t.Fatalf("newNameMatcher: %v", err)
			}
			if got := m.keeps(tt.name); got != tt.want {
				t.Errorf("keeps(%q) = %v, want %v", tt.name, got, tt.want)
			}
			if got := m.keepsAny([]string{"orders", "billing"}); got != tt.wantAny {
				t.Errorf("keepsAny(orders, billing) = %v, want %v", got, tt.wantAny)
			}
		})
	}
}

func TestApplyAdhocFiltersPushdown(t *testing.T) {
	tests := []struct {
		name      string
		model     QueryModel
		wantFn    string
		wantSvc   string
		wantPost  bool
		wantSkips int
	}{
		{"function = on metrics", QueryModel{QueryType: QueryTypeMetrics, AdhocFilters: []AdhocFilter{{"function", "=", "a"}}}, "a", "", false, 0},
		{"function = on catalog", QueryModel{QueryType: QueryTypeCatalog, AdhocFilters: []AdhocFilter{{"function", "=", "a"}}}, "", "", true, 0},
		{"service = on search", QueryModel{QueryType: QueryTypeSearch, AdhocFilters: []AdhocFilter{{"service", "=", "s"}}}, "", "s", false, 0},
		{"service = on logs", QueryModel{QueryType: QueryTypeLogs, AdhocFilters: []AdhocFilter{{"service", "=", "s"}}}, "", "", true, 0},
		{"function =~ on cost", QueryModel{QueryType: QueryTypeCost, AdhocFilters: []AdhocFilter{{"function", "=~", "a.*"}}}, "", "", true, 0},
		{"function on trace", QueryModel{QueryType: QueryTypeTrace, AdhocFilters: []AdhocFilter{{"function", "=", "a"}}}, "", "", false, 1},
		{"attribute on spikes", QueryModel{QueryType: QueryTypeSpikes, AdhocFilters: []AdhocFilter{{"http.route", "=", "/"}}}, "", "", false, 1},
		{"attribute != on search", QueryModel{QueryType: QueryTypeSearch, AdhocFilters: []AdhocFilter{{"http.route", "!=", "/"}}}, "", "", false, 1},
		{"function on trace cost list", QueryModel{QueryType: QueryTypeTraceCost, AdhocFilters: []AdhocFilter{{"function", "=", "a"}}}, "a", "", false, 0},
		{"function on trace cost by id", QueryModel{QueryType: QueryTypeTraceCost, TraceID: "x", AdhocFilters: []AdhocFilter{{"function", "=", "a"}}}, "", "", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.model
			skipped, err := applyAdhocFilters(&m)
			if err != nil {
				t.Fatalf("applyAdhocFilters: %v", err)
			}
			if m.FunctionName != tt.wantFn || m.ServiceName != tt.wantSvc || m.names.post != tt.wantPost || len(skipped) != tt.wantSkips {
				t.Errorf("function %q service %q post %v skipped %v; want %q %q %v %d",
					m.FunctionName, m.ServiceName, m.names.post, skipped, tt.wantFn, tt.wantSvc, tt.wantPost, tt.wantSkips)
			}
		})
	}
}

func TestAdhocRegexpTooLong(t *testing.T) {
	long := make([]byte, maxRegexpSize+1)
	for i := range long {
		long[i] = 'a'
	}
	m := QueryModel{QueryType: QueryTypeLogs, AdhocFilters: []AdhocFilter{{"function", "=~", string(long)}}}
	if _, err := applyAdhocFilters(&m); err == nil {
		t.Fatal("a regular expression over the limit was accepted")
	}
}

func TestFilterServiceMap(t *testing.T) {
	m := &query.ServiceMap{
		Nodes: []query.MapNode{
			{Name: "gateway", Kind: query.NodeService}, {Name: "orders", Kind: query.NodeFunction},
			{Name: "billing", Kind: query.NodeFunction}, {Name: "dynamodb", Kind: query.NodeResource},
			{Name: "lonely", Kind: query.NodeFunction},
		},
		Edges: []query.MapEdge{
			{Caller: "gateway", Callee: "orders"}, {Caller: "orders", Callee: "billing"}, {Caller: "billing", Callee: "dynamodb"},
		},
	}
	svcOf := map[string]string{"orders": "shop", "billing": "payments", "lonely": "shop"}
	tests := []struct {
		name      string
		filters   []AdhocFilter
		wantNodes string
		wantEdges string
	}{
		{"function =", []AdhocFilter{{"function", "=", "billing"}}, "orders billing dynamodb", "orders>billing billing>dynamodb"},
		{"function !=", []AdhocFilter{{"function", "!=", "orders"}}, "gateway billing dynamodb lonely", "billing>dynamodb"},
		{"function =~ lone", []AdhocFilter{{"function", "=~", "lon.*"}}, "lonely", ""},
		{"service of functions", []AdhocFilter{{"service", "=", "payments"}}, "orders billing dynamodb", "orders>billing billing>dynamodb"},
		{"service node", []AdhocFilter{{"service", "=", "gateway"}}, "gateway orders", "gateway>orders"},
		{"service !~", []AdhocFilter{{"service", "!~", "shop|gateway"}}, "billing dynamodb", "billing>dynamodb"},
		{"resource name is no function", []AdhocFilter{{"function", "=", "dynamodb"}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := QueryModel{QueryType: QueryTypeServiceMap, AdhocFilters: tt.filters}
			if _, err := applyAdhocFilters(&q); err != nil {
				t.Fatalf("applyAdhocFilters: %v", err)
			}
			got := filterServiceMap(m, q.names, svcOf)
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
