package plugin

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/plugintest"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// A daily cost in a time zone other than UTC prices SnapStart restores
// too, at the datasource's prices when it sets them.
func TestCostDaySnapStartAndPrices(t *testing.T) {
	db := plugintest.NewDatabase(t)
	if _, err := db.Store.WriteExport(t.Context(), &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "snappy", Version: "2", Region: "us-east-1", AccountId: "111122223333", MemoryMb: 1024,
			Architecture: "x86_64", Runtime: "AWS_Lambda_python3.13", InitializationType: "snap-start"},
		Invocations: []*ingestv1.Invocation{{RequestId: "snap-1", StartTimeUnixNano: uint64(plugintest.Start.UnixNano()), DurationMs: 9.5,
			BilledDurationMs: 10, MemorySizeMb: 1024, ColdStart: true, Status: "success"}},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	// Restores at $1 per GB and no cache charge: the restore of 1 GB
	// costs $1; 0.01 GB-s at $0.0000166667 and one request at $0.20/M.
	custom := json.RawMessage(`{"prices":[{"region":"us-east-1","currency":"USD","requests_per_million":0.20,` +
		`"architectures":{"x86_64":{"duration":[{"price_per_gb_second":0.0000166667}]}},` +
		`"snapstart":{"cache_per_gb_second":0,"restore_per_gb":1}}]}`)
	base := 0.01*0.0000166667 + 0.0000002
	tests := []struct {
		name   string
		prices json.RawMessage
		want   float64
	}{
		// A whole day of 1 GB of cache at $0.0000015046 and one 1 GB
		// restore at $0.0001397998.
		{"default prices", nil, base + 86400*0.0000015046 + 0.0001397998},
		{"datasource prices", custom, base + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := map[string]any{"address": db.Addr, "database": db.Name, "timeZone": "Asia/Kolkata"}
			if tt.prices != nil {
				cfg["prices"] = tt.prices
			}
			ds := newTestDatasource(t, cfg, "")
			tr := backend.TimeRange{From: plugintest.Start.Add(-48 * time.Hour), To: plugintest.Start.Add(48 * time.Hour)}
			resp := runQuery(t, ds, "cost", map[string]any{"costBy": "day", "functionName": "snappy"}, tr)
			if resp.Error != nil {
				t.Fatalf("query: %v", resp.Error)
			}
			f := resp.Frames[0]
			if n, _ := f.RowLen(); n != 1 {
				t.Fatalf("%d days, want 1", n)
			}
			if got := f.Fields[1].At(0).(float64); got < tt.want*0.999999 || got > tt.want*1.000001 {
				t.Errorf("cost %.10g, want %.10g", got, tt.want)
			}
		})
	}
}
