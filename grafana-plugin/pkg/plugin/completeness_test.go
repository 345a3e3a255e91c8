package plugin

import (
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/plugintest"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// A completeness query in time series form answers the stored share per
// function and hour, which the provisioned alert rule compares with its
// threshold; a format it does not know is a query error.
func TestCompletenessQuery(t *testing.T) {
	db := plugintest.NewDatabase(t)
	hour := plugintest.Start.UTC().Truncate(time.Hour)
	req := &ingestv1.ExportRequest{
		BatchId:  []byte("completeness-001"),
		Function: &ingestv1.FunctionIdentity{Name: "counted", Version: "1", Region: "eu-west-1", AccountId: "123456789012", MemoryMb: 128},
		Invocations: []*ingestv1.Invocation{{
			RequestId: "req-counted", StartTimeUnixNano: uint64(plugintest.Start.UnixNano()), DurationMs: 5, BilledDurationMs: 5,
			MemorySizeMb: 128, Status: "success", Telemetry: &ingestv1.TelemetryCounts{SpansReceived: 4},
		}},
	}
	if _, err := db.Store.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("write export: %v", err)
	}
	ds := newTestDatasource(t, map[string]any{"address": db.Addr, "database": db.Name}, "")
	tr := backend.TimeRange{From: hour, To: hour.Add(time.Hour)}

	resp := runQuery(t, ds, QueryTypeCompleteness, map[string]any{"format": FormatTimeSeries}, tr)
	if resp.Error != nil {
		t.Fatalf("query: %v", resp.Error)
	}
	if len(resp.Frames) != 1 || resp.Frames[0].Fields[1].Labels["function"] != "counted" {
		t.Fatalf("frames = %v, want one series for function counted", resp.Frames)
	}
	if v := resp.Frames[0].Fields[1].At(0).(float64); v != 0 {
		t.Errorf("completeness = %v %%, want 0 (4 spans sent, none stored)", v)
	}
	if resp := runQuery(t, ds, QueryTypeCompleteness, map[string]any{"format": "graph"}, tr); resp.Error == nil {
		t.Error("format graph: no error")
	}
}
