package plugin

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/plugintest"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/storagetest"
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

// A cost query by observability answers what the extension added to the
// bill per function and day.
func TestObservabilityCostQuery(t *testing.T) {
	db := plugintest.NewDatabase(t)
	req := &ingestv1.ExportRequest{
		BatchId:  []byte("observability-01"),
		Function: &ingestv1.FunctionIdentity{Name: "measured", Version: "1", Region: "us-east-1", AccountId: "123456789012", MemoryMb: 1024},
		Invocations: []*ingestv1.Invocation{{
			RequestId: "req-measured", StartTimeUnixNano: uint64(plugintest.Start.UnixNano()), DurationMs: 19.5, BilledDurationMs: 20,
			MemorySizeMb: 1024, Status: "success", RuntimeDurationMs: 12.2, Telemetry: &ingestv1.TelemetryCounts{BytesShipped: 1 << 30},
		}},
	}
	if _, err := db.Store.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("write export: %v", err)
	}
	// At $1 per GB-second, 7 ms of 1 GB cost $0.007; the datasource's
	// prices are used as for every other cost query (and the CLI's
	// --prices).
	custom := json.RawMessage(`{"prices":[{"region":"us-east-1","currency":"USD","requests_per_million":0.20,` +
		`"architectures":{"x86_64":{"duration":[{"price_per_gb_second":1}]}}}]}`)
	// The observability section of the datasource's prices sets data
	// transfer's price and the CloudWatch Logs class, as the CLI's file
	// does: 1 GiB shipped at the default $0.09, or at the section's $1.
	observability := json.RawMessage(`{"observability":{"cloudwatch_logs_class":"infrequent_access",` +
		`"transfer_out":[{"up_to_gb":0,"price_per_gb":1}]}}`)
	tests := []struct {
		name             string
		prices           json.RawMessage
		want             float64
		filters          []AdhocFilter
		rows             int
		shipped          float64
		infrequentAccess bool
	}{
		{"default prices", nil, 0.007 * 0.0000166667, nil, 1, 0.09, false},
		{"datasource prices", custom, 0.007, nil, 1, 0.09, false},
		{"observability prices", observability, 0.007 * 0.0000166667, nil, 1, 1, true},
		// measured names no service: a service filter selects nothing.
		{"service filter", nil, 0, []AdhocFilter{{Key: "service", Operator: "=", Value: "shop"}}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := map[string]any{"address": db.Addr, "database": db.Name}
			if tt.prices != nil {
				cfg["prices"] = tt.prices
			}
			ds := newTestDatasource(t, cfg, "")
			resp := runQuery(t, ds, QueryTypeCost, map[string]any{"costBy": "observability", "functionName": "measured", "adhocFilters": tt.filters}, fixtureRange)
			if resp.Error != nil || len(resp.Frames) != 1 {
				t.Fatalf("query: %v, %d frames", resp.Error, len(resp.Frames))
			}
			f := resp.Frames[0]
			if f.Rows() != tt.rows {
				t.Fatalf("%d rows, want %d", f.Rows(), tt.rows)
			}
			if tt.rows == 0 {
				return
			}
			added, _ := f.FieldByName("added billed time")
			if f.Rows() != 1 || added == nil || added.At(0).(float64) != 7 {
				t.Fatalf("frame: %d rows, added %v; want one row with 20 - ceil(12.2) = 7 ms", f.Rows(), added)
			}
			cost, _ := f.FieldByName("added cost")
			if got := cost.At(0).(float64); got < tt.want*0.999999 || got > tt.want*1.000001 {
				t.Errorf("added cost %.10g, want %.10g", got, tt.want)
			}
			shipped, _ := f.FieldByName("shipped cost")
			if got := shipped.At(0).(float64); got < tt.shipped*0.999999 || got > tt.shipped*1.000001 {
				t.Errorf("shipped cost %.10g, want %.10g", got, tt.shipped)
			}
			infreq := false
			if f.Meta != nil {
				for _, n := range f.Meta.Notices {
					infreq = infreq || strings.Contains(n.Text, "Infrequent Access log class")
				}
			}
			if infreq != tt.infrequentAccess {
				t.Errorf("notices %+v: Infrequent Access said %v, want %v", f.Meta, infreq, tt.infrequentAccess)
			}
		})
	}
}

// After retention dropped spans' old days, a completeness query starts
// where every table it compares is whole, and its frame says so.
func TestCompletenessQueryAfterRetention(t *testing.T) {
	db := plugintest.NewDatabase(t)
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	old := today.AddDate(0, 0, -3).Add(5 * time.Hour)
	if _, err := db.Store.WriteExport(t.Context(), storagetest.CompletenessExport("orders", "req-old", old,
		&ingestv1.TelemetryCounts{SpansReceived: 2}, 2, 0)); err != nil {
		t.Fatalf("write export: %v", err)
	}
	if _, err := db.Store.DropExpired(t.Context(), storage.Retention{"spans": 2}, now); err != nil {
		t.Fatalf("DropExpired: %v", err)
	}
	ds := newTestDatasource(t, map[string]any{"address": db.Addr, "database": db.Name}, "")
	resp := runQuery(t, ds, QueryTypeCompleteness, map[string]any{"format": FormatTable}, backend.TimeRange{From: today.AddDate(0, 0, -7), To: now})
	if resp.Error != nil || len(resp.Frames) != 1 {
		t.Fatalf("query: %v, %d frames", resp.Error, len(resp.Frames))
	}
	f := resp.Frames[0]
	if f.Rows() != 0 {
		t.Errorf("%d rows, want none: the old hour's spans were dropped by retention, not lost", f.Rows())
	}
	cutoff := today.AddDate(0, 0, -2).Format("2006-01-02 15:04")
	if f.Meta == nil || len(f.Meta.Notices) != 1 || !strings.Contains(f.Meta.Notices[0].Text, "retention dropped spans") ||
		!strings.Contains(f.Meta.Notices[0].Text, "starts "+cutoff) {
		t.Errorf("frame meta %+v, want a notice that the report starts at %s", f.Meta, cutoff)
	}
}
