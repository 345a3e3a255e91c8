package plugin

import (
	"testing"

	"github.com/lambdascope/lambdascope/query"
)

func TestApplyAdhocFiltersPushdown(t *testing.T) {
	tests := []struct {
		name      string
		model     QueryModel
		wantFn    string
		wantSvc   string
		wantPost  bool
		wantSkips int
	}{
		{"function = on metrics", QueryModel{QueryType: QueryTypeMetrics, AdhocFilters: []AdhocFilter{{Key: "function", Operator: "=", Value: "a"}}}, "a", "", false, 0},
		{"function = on catalog", QueryModel{QueryType: QueryTypeCatalog, AdhocFilters: []AdhocFilter{{Key: "function", Operator: "=", Value: "a"}}}, "", "", true, 0},
		{"service = on search", QueryModel{QueryType: QueryTypeSearch, AdhocFilters: []AdhocFilter{{Key: "service", Operator: "=", Value: "s"}}}, "", "s", false, 0},
		{"service = on logs", QueryModel{QueryType: QueryTypeLogs, AdhocFilters: []AdhocFilter{{Key: "service", Operator: "=", Value: "s"}}}, "", "", true, 0},
		{"function =~ on cost", QueryModel{QueryType: QueryTypeCost, AdhocFilters: []AdhocFilter{{Key: "function", Operator: "=~", Value: "a.*"}}}, "", "", true, 0},
		{"function on trace", QueryModel{QueryType: QueryTypeTrace, AdhocFilters: []AdhocFilter{{Key: "function", Operator: "=", Value: "a"}}}, "", "", false, 1},
		{"attribute on spikes", QueryModel{QueryType: QueryTypeSpikes, AdhocFilters: []AdhocFilter{{Key: "http.route", Operator: "=", Value: "/"}}}, "", "", false, 1},
		{"attribute != on search", QueryModel{QueryType: QueryTypeSearch, AdhocFilters: []AdhocFilter{{Key: "http.route", Operator: "!=", Value: "/"}}}, "", "", false, 1},
		{"function on trace cost list", QueryModel{QueryType: QueryTypeTraceCost, AdhocFilters: []AdhocFilter{{Key: "function", Operator: "=", Value: "a"}}}, "a", "", false, 0},
		{"function on trace cost by id", QueryModel{QueryType: QueryTypeTraceCost, TraceID: "x", AdhocFilters: []AdhocFilter{{Key: "function", Operator: "=", Value: "a"}}}, "", "", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.model
			skipped, err := applyAdhocFilters(&m)
			if err != nil {
				t.Fatalf("applyAdhocFilters: %v", err)
			}
			if m.FunctionName != tt.wantFn || m.ServiceName != tt.wantSvc || m.names.IsZero() == tt.wantPost || len(skipped) != tt.wantSkips {
				t.Errorf("function %q service %q post %v skipped %v; want %q %q %v %d",
					m.FunctionName, m.ServiceName, !m.names.IsZero(), skipped, tt.wantFn, tt.wantSvc, tt.wantPost, tt.wantSkips)
			}
		})
	}
}

func TestAdhocRegexpTooLong(t *testing.T) {
	long := make([]byte, query.MaxNamePatternSize+1)
	for i := range long {
		long[i] = 'a'
	}
	m := QueryModel{QueryType: QueryTypeLogs, AdhocFilters: []AdhocFilter{{Key: "function", Operator: "=~", Value: string(long)}}}
	if _, err := applyAdhocFilters(&m); err == nil {
		t.Fatal("a regular expression over the limit was accepted")
	}
}
