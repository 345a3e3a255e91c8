package frames

import (
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
)

// One frame per function, labelled with it, its percentages in hour order;
// the table names the stages that lost items.
func TestCompletenessFrames(t *testing.T) {
	h := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	cs := []query.Completeness{
		{Hour: h, FunctionName: "orders", Percent: 100},
		{Hour: h, FunctionName: "billing", Percent: 75, Lost: []query.Loss{{Stage: query.StageBuffer, Spans: 1}, {Stage: query.StageSpool, LogLines: 2}}},
		{Hour: h.Add(time.Hour), FunctionName: "orders", Percent: 98.5},
	}
	fs := CompletenessSeries(cs)
	if len(fs) != 2 {
		t.Fatalf("%d frames, want one per function", len(fs))
	}
	if got := fs[0].Fields[1].Labels["function"]; got != "billing" {
		t.Errorf("first frame is %q, want billing (sorted)", got)
	}
	orders := fs[1].Fields[1]
	if orders.Len() != 2 || orders.At(0).(float64) != 100 || orders.At(1).(float64) != 98.5 {
		t.Errorf("orders values = %v, %v; want 100, 98.5", orders.At(0), orders.At(1))
	}
	if empty := CompletenessSeries(nil); len(empty) != 1 || empty[0].Rows() != 0 {
		t.Errorf("no rows: %d frames, want one empty frame", len(empty))
	}
	tbl := CompletenessTable(cs)
	if f, _ := tbl.FieldByName("missing at"); f == nil || f.At(1).(string) != "extension buffer, spool" {
		t.Errorf("missing at = %v, want the two stages of billing", f)
	}
}
