package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/plugintest"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

var update = flag.Bool("update", false, "rewrite the golden frames in testdata")

// newTestDatasource is a datasource on db, as Grafana would create it.
func newTestDatasource(t *testing.T, jsonData map[string]any, password string) *Datasource {
	t.Helper()
	raw, err := json.Marshal(jsonData)
	if err != nil {
		t.Fatalf("encode settings: %v", err)
	}
	inst, err := NewDatasource(t.Context(), backend.DataSourceInstanceSettings{
		UID: "lambdascope-uid", Name: "Lambdascope", JSONData: raw,
		DecryptedSecureJSONData: map[string]string{"password": password},
	})
	if err != nil {
		t.Fatalf("NewDatasource: %v", err)
	}
	ds := inst.(*Datasource)
	t.Cleanup(ds.Dispose)
	return ds
}

func fixtureDatasource(t *testing.T) *Datasource {
	t.Helper()
	db := plugintest.NewDatabase(t)
	return newTestDatasource(t, map[string]any{"address": db.Addr, "database": db.Name}, "")
}

// checkGolden compares the response's JSON with testdata/<name>.golden.json.
func checkGolden(t *testing.T, name string, resp backend.DataResponse) {
	t.Helper()
	got, err := json.MarshalIndent(resp, "", "  ")
	if err != nil {
		t.Fatalf("encode response: %v", err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("response differs from %s (run with -update and review the diff):\n%s", path, got)
	}
}

func runQuery(t *testing.T, ds *Datasource, queryType string, model map[string]any, tr backend.TimeRange) backend.DataResponse {
	t.Helper()
	raw, err := json.Marshal(model)
	if err != nil {
		t.Fatalf("encode query: %v", err)
	}
	resp, err := ds.QueryData(t.Context(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: ds.uid}},
		Queries:       []backend.DataQuery{{RefID: "A", QueryType: queryType, JSON: raw, TimeRange: tr}},
	})
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	r, ok := resp.Responses["A"]
	if !ok {
		t.Fatalf("no response for ref A")
	}
	return r
}

var fixtureRange = backend.TimeRange{From: plugintest.Start.Add(-time.Hour), To: plugintest.Start.Add(time.Hour)}

// spikeRange ends shortly after the fixture's invocations, so that they
// fall in the detector's window.
var spikeRange = backend.TimeRange{From: plugintest.Start.Add(-10 * time.Minute), To: plugintest.Start.Add(2 * time.Minute)}

// adhocModel is a query model with the given ad hoc filters.
func adhocModel(filters ...AdhocFilter) map[string]any {
	return map[string]any{"adhocFilters": filters}
}

func TestQueryDataFrames(t *testing.T) {
	ds := fixtureDatasource(t)
	tests := []struct {
		name      string
		queryType string
		model     map[string]any
		tr        backend.TimeRange
		wantRows  int
		// wantFrames, when set, replaces the one-frame check and wantRows.
		wantFrames int
	}{
		{name: "trace", queryType: "trace", model: map[string]any{"traceId": plugintest.TraceID}, wantRows: 6},
		{name: "trace_latest", queryType: "trace", model: map[string]any{"orLatest": true}, tr: fixtureRange, wantRows: 6},
		{name: "trace_latest_none", queryType: "trace", model: map[string]any{"orLatest": true, "functionName": "nothing"}, tr: fixtureRange, wantRows: 0},
		{name: "trace_xray", queryType: "trace", model: map[string]any{"traceId": plugintest.XRayTraceID}, wantRows: 6},
		{name: "trace_type_in_model", model: map[string]any{"queryType": "trace", "traceId": plugintest.TraceID}, wantRows: 6},
		{name: "invocations", queryType: "invocations", tr: fixtureRange, wantRows: 3},
		{name: "invocations_function", queryType: "invocations", model: map[string]any{"functionName": "orders"}, tr: fixtureRange, wantRows: 2},
		{name: "invocations_trace", queryType: "invocations", model: map[string]any{"traceId": plugintest.TraceID}, tr: fixtureRange, wantRows: 2},
		{name: "invocations_request", queryType: "invocations", model: map[string]any{"requestId": "req-billing"}, tr: fixtureRange, wantRows: 1},
		{name: "invocations_limit", queryType: "invocations", model: map[string]any{"limit": 1}, tr: fixtureRange, wantRows: 1},
		{name: "invocations_outside_range", queryType: "invocations",
			tr: backend.TimeRange{From: plugintest.Start.Add(-48 * time.Hour), To: plugintest.Start.Add(-24 * time.Hour)}, wantRows: 0},
		{name: "search", queryType: "search", tr: fixtureRange, wantRows: 1},
		{name: "search_error_status", queryType: "search", model: map[string]any{"status": "error", "functionName": "billing"}, tr: fixtureRange, wantRows: 1},
		{name: "search_attribute", queryType: "search", model: map[string]any{"attributes": map[string]string{"db.system": "dynamodb"}}, tr: fixtureRange, wantRows: 1},
		{name: "search_no_match", queryType: "search", model: map[string]any{"minDurationMs": 10000}, tr: fixtureRange, wantRows: 0},
		{name: "search_adhoc", queryType: "search", model: map[string]any{"adhocFilters": []map[string]string{
			{"key": "function", "operator": "=", "value": "billing"}, {"key": "db.system", "operator": "=", "value": "dynamodb"}}}, tr: fixtureRange, wantRows: 1},
		{name: "search_adhoc_service", queryType: "search", model: map[string]any{"adhocFilters": []map[string]string{
			{"key": "service", "operator": "=", "value": "orders-api"}, {"key": "http.route", "operator": "=", "value": "/orders"}}}, tr: fixtureRange, wantRows: 1},
		{name: "search_adhoc_no_match", queryType: "search", model: map[string]any{"adhocFilters": []map[string]string{
			{"key": "db.system", "operator": "=", "value": "postgresql"}}}, tr: fixtureRange, wantRows: 0},
		{name: "invocations_adhoc", queryType: "invocations", model: map[string]any{"adhocFilters": []map[string]string{
			{"key": "function", "operator": "=", "value": "orders"}}}, tr: fixtureRange, wantRows: 2},
		{name: "invocations_adhoc_service_and_exclude", queryType: "invocations", model: map[string]any{"adhocFilters": []map[string]string{
			{"key": "service", "operator": "=", "value": "orders"}, {"key": "function", "operator": "!=", "value": "orders"}}}, tr: fixtureRange, wantRows: 0},
		{name: "invocations_adhoc_skipped", queryType: "invocations", model: adhocModel(AdhocFilter{Key: "db.system", Operator: "=", Value: "dynamodb"}), tr: fixtureRange, wantRows: 3},
		{name: "metrics_adhoc_exclude", queryType: "metrics", model: map[string]any{"stepSeconds": 3600, "adhocFilters": []map[string]string{
			{"key": "function", "operator": "!=", "value": "orders"}, {"key": "http.route", "operator": "=", "value": "/orders"}}}, tr: fixtureRange, wantRows: 3},
		{name: "service_map", queryType: "serviceMap", tr: fixtureRange, wantFrames: 2},
		{name: "metrics", queryType: "metrics", model: map[string]any{"metrics": []string{"invocations", "errorRate", "durationP99"}, "stepSeconds": 3600},
			tr: fixtureRange, wantFrames: 6},
		// Counts have a point (0 when empty) in each of the range's 121 minutes.
		{name: "metrics_one_function", queryType: "metrics", model: map[string]any{"functionName": "billing", "stepSeconds": 60},
			tr: fixtureRange, wantRows: 121},
		// The quarter hour 15:00:05-15:15:05 as an alert reads it at
		// 15:15:05: every invocation of it, not the 5 s since 15:15.
		{name: "metrics_whole_range", queryType: "metrics", model: map[string]any{"metrics": []string{"invocations", "errorRate"}, "wholeRange": true},
			tr: backend.TimeRange{From: time.Date(2026, 3, 14, 15, 0, 5, 0, time.UTC), To: time.Date(2026, 3, 14, 15, 15, 5, 0, time.UTC)}, wantFrames: 4},
		{name: "metrics_no_data", queryType: "metrics", model: map[string]any{"functionName": "nothing"}, tr: fixtureRange, wantRows: 0},
		{name: "logs", queryType: "logs", tr: fixtureRange, wantRows: 4},
		{name: "logs_trace", queryType: "logs", model: map[string]any{"traceId": plugintest.TraceID}, tr: fixtureRange, wantRows: 3},
		{name: "logs_text", queryType: "logs", model: map[string]any{"text": "CARD"}, tr: fixtureRange, wantRows: 1},
		{name: "catalog", queryType: "catalog", tr: fixtureRange, wantRows: 2},
		{name: "cost", queryType: "cost", tr: fixtureRange, wantRows: 2},
		{name: "cost_version", queryType: "cost", model: map[string]any{"costBy": "version", "functionName": "orders"}, tr: fixtureRange, wantRows: 1},
		{name: "cost_day", queryType: "cost", model: map[string]any{"costBy": "day"}, tr: fixtureRange, wantRows: 1},
		// The fixture's one invocation with a tenant: acme.
		{name: "cost_tenant", queryType: "cost", model: map[string]any{"costBy": "tenant"}, tr: fixtureRange, wantRows: 1},
		{name: "spikes", queryType: "spikes", model: map[string]any{"minInvocations": 1, "minErrors": 1}, tr: spikeRange, wantRows: 2},
		// 30 s after billing failed, in the minute it failed in: judged
		// with what the minute holds so far, marked partial.
		{name: "spikes_current_minute", queryType: "spikes", model: map[string]any{"minInvocations": 1, "minErrors": 1, "functionName": "billing"},
			tr: backend.TimeRange{From: plugintest.Start.Add(-time.Hour), To: plugintest.Start.Add(30 * time.Second)}, wantRows: 1},
		{name: "spikes_series", queryType: "spikes", model: map[string]any{"minInvocations": 1, "minErrors": 1, "format": "timeSeries",
			"spikeSeries": []string{"errorRate", "baselineRate", "firing"}}, tr: spikeRange, wantFrames: 6},
		{name: "spikes_series_no_data", queryType: "spikes", model: map[string]any{"format": "timeSeries", "functionName": "nothing"},
			tr: spikeRange, wantFrames: 2},
		{name: "rightsize", queryType: "rightsize", model: map[string]any{"minInvocations": 1}, tr: fixtureRange, wantRows: 2},
		{name: "rightsize_default_guard", queryType: "rightsize", tr: fixtureRange, wantRows: 0},
		{name: "trace_cost", queryType: "traceCost", model: map[string]any{"traceId": plugintest.TraceID}, wantRows: 2},
		{name: "trace_cost_list", queryType: "traceCost", tr: fixtureRange, wantRows: 1},
		{name: "trace_cost_adhoc_skipped", queryType: "traceCost", model: map[string]any{"traceId": plugintest.TraceID,
			"adhocFilters": []AdhocFilter{{Key: "function", Operator: "!=", Value: "orders"}}}, wantRows: 2},
		{name: "logs_adhoc_exclude", queryType: "logs", model: adhocModel(AdhocFilter{Key: "function", Operator: "!=", Value: "billing"}), tr: fixtureRange, wantRows: 3},
		{name: "logs_adhoc_service", queryType: "logs", model: adhocModel(AdhocFilter{Key: "service", Operator: "=", Value: "billing"}), tr: fixtureRange, wantRows: 1},
		{name: "invocations_adhoc_regexp", queryType: "invocations", model: adhocModel(AdhocFilter{Key: "function", Operator: "=~", Value: "ord.*"}), tr: fixtureRange, wantRows: 2},
		{name: "invocations_adhoc_service_exclude", queryType: "invocations", model: adhocModel(AdhocFilter{Key: "service", Operator: "!=", Value: "orders"}),
			tr: fixtureRange, wantRows: 1},
		{name: "search_adhoc_exclude", queryType: "search", model: adhocModel(AdhocFilter{Key: "function", Operator: "!=", Value: "billing"}), tr: fixtureRange, wantRows: 0},
		{name: "search_adhoc_service_and_exclude", queryType: "search", model: adhocModel(AdhocFilter{Key: "service", Operator: "=", Value: "orders-api"},
			AdhocFilter{Key: "function", Operator: "!=", Value: "payments"}), tr: fixtureRange, wantRows: 1},
		{name: "search_adhoc_not_match", queryType: "search", model: adhocModel(AdhocFilter{Key: "service", Operator: "!~", Value: "pay.*"}), tr: fixtureRange, wantRows: 1},
		{name: "catalog_adhoc_service", queryType: "catalog", model: adhocModel(AdhocFilter{Key: "service", Operator: "=", Value: "orders"}), tr: fixtureRange, wantRows: 1},
		{name: "catalog_adhoc_exclude", queryType: "catalog", model: adhocModel(AdhocFilter{Key: "function", Operator: "!~", Value: "bill.*"}), tr: fixtureRange, wantRows: 1},
		{name: "service_map_adhoc_function", queryType: "serviceMap", model: adhocModel(AdhocFilter{Key: "function", Operator: "=", Value: "billing"}), tr: fixtureRange, wantFrames: 2},
		{name: "service_map_adhoc_exclude", queryType: "serviceMap", model: adhocModel(AdhocFilter{Key: "function", Operator: "!=", Value: "orders"}), tr: fixtureRange, wantFrames: 2},
		{name: "cost_adhoc_exclude", queryType: "cost", model: adhocModel(AdhocFilter{Key: "function", Operator: "!=", Value: "orders"}), tr: fixtureRange, wantRows: 1},
		{name: "cost_day_adhoc_service", queryType: "cost", model: map[string]any{"costBy": "day",
			"adhocFilters": []AdhocFilter{{Key: "service", Operator: "=~", Value: "ord.*"}}}, tr: fixtureRange, wantRows: 1},
		{name: "metrics_adhoc_service_exclude", queryType: "metrics", model: map[string]any{"stepSeconds": 3600,
			"adhocFilters": []AdhocFilter{{Key: "service", Operator: "!=", Value: "orders"}}}, tr: fixtureRange, wantRows: 3},
		{name: "spikes_adhoc_exclude", queryType: "spikes", model: map[string]any{"minInvocations": 1, "minErrors": 1,
			"adhocFilters": []AdhocFilter{{Key: "function", Operator: "!=", Value: "billing"}}}, tr: spikeRange, wantRows: 1},
		{name: "rightsize_adhoc", queryType: "rightsize", model: map[string]any{"minInvocations": 1,
			"adhocFilters": []AdhocFilter{{Key: "function", Operator: "=", Value: "billing"}}}, tr: fixtureRange, wantRows: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := runQuery(t, ds, tt.queryType, tt.model, tt.tr)
			if resp.Error != nil {
				t.Fatalf("query error: %v", resp.Error)
			}
			switch {
			case tt.wantFrames > 0:
				if len(resp.Frames) != tt.wantFrames {
					t.Errorf("got %d frames, want %d", len(resp.Frames), tt.wantFrames)
				}
			case len(resp.Frames) != 1:
				t.Fatalf("got %d frames, want 1", len(resp.Frames))
			default:
				if got, _ := resp.Frames[0].RowLen(); got != tt.wantRows {
					t.Errorf("rows = %d, want %d", got, tt.wantRows)
				}
			}
			checkGolden(t, tt.name, resp)
		})
	}
}

// TestTraceFrameShape checks what Grafana's trace view needs beyond the
// golden: field names and types, parents before children, and every span
// drawn within its parent (the fixture's skewed billing span is moved
// inside; the platform's lambda.invoke holds the handler span).
func TestTraceFrameShape(t *testing.T) {
	ds := fixtureDatasource(t)
	resp := runQuery(t, ds, "trace", map[string]any{"traceId": plugintest.TraceID}, backend.TimeRange{})
	if resp.Error != nil {
		t.Fatalf("query error: %v", resp.Error)
	}
	f := resp.Frames[0]
	if f.Meta == nil || f.Meta.PreferredVisualization != data.VisTypeTrace {
		t.Fatalf("meta = %+v, want preferredVisualisationType trace", f.Meta)
	}
	want := map[string]data.FieldType{
		"traceID": data.FieldTypeString, "spanID": data.FieldTypeString, "parentSpanID": data.FieldTypeString,
		"operationName": data.FieldTypeString, "serviceName": data.FieldTypeString, "serviceTags": data.FieldTypeJSON,
		"startTime": data.FieldTypeFloat64, "duration": data.FieldTypeFloat64, "logs": data.FieldTypeJSON,
		"tags": data.FieldTypeJSON, "kind": data.FieldTypeString, "statusCode": data.FieldTypeInt64,
		"statusMessage": data.FieldTypeString,
	}
	for name, typ := range want {
		field, _ := f.FieldByName(name)
		if field == nil {
			t.Errorf("no field %q", name)
			continue
		}
		if field.Type() != typ {
			t.Errorf("field %q is %s, want %s", name, field.Type(), typ)
		}
	}
	spanIDs, _ := f.FieldByName("spanID")
	parents, _ := f.FieldByName("parentSpanID")
	starts, _ := f.FieldByName("startTime")
	durations, _ := f.FieldByName("duration")
	type bounds struct{ start, end float64 }
	seen := map[string]bounds{}
	for i := range spanIDs.Len() {
		id := spanIDs.At(i).(string)
		b := bounds{starts.At(i).(float64), starts.At(i).(float64) + durations.At(i).(float64)}
		if p := parents.At(i).(string); p != "" {
			pb, ok := seen[p]
			switch {
			case !ok:
				t.Errorf("span %s comes before its parent %s", id, p)
			case b.start < pb.start || b.end > pb.end:
				t.Errorf("span %s [%.1f, %.1f] sticks out of its parent %s [%.1f, %.1f]", id, b.start, b.end, p, pb.start, pb.end)
			}
		}
		seen[id] = b
	}
}

func TestQueryDataErrors(t *testing.T) {
	ds := fixtureDatasource(t)
	tests := []struct {
		name       string
		queryType  string
		json       string
		wantStatus backend.Status
		wantSource backend.ErrorSource
		wantErr    string
	}{
		{name: "bad trace id", queryType: "trace", json: `{"traceId":"not-a-trace"}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "invalid trace ID"},
		{name: "missing trace id", queryType: "trace", json: `{}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "traceId must be set"},
		{name: "unknown trace", queryType: "trace", json: `{"traceId":"` + plugintest.OtherTraceID + `"}`,
			wantStatus: backend.StatusNotFound, wantSource: backend.ErrorSourceDownstream, wantErr: "trace not found"},
		{name: "unknown query type", queryType: "flamegraph", json: `{}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: `unknown query type "flamegraph"`},
		{name: "not json", queryType: "trace", json: `{"traceId":`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "decode query A"},
		{name: "limit too high", queryType: "invocations", json: `{"limit":1000000}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "limit must be between"},
		{name: "bad trace id filter", queryType: "invocations", json: `{"traceId":"xyz"}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "invalid trace ID"},
		{name: "percentile over the whole range", queryType: "metrics", json: `{"metrics":["durationP95"],"wholeRange":true}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "durationP95 cannot be read over the whole range"},
		{name: "unknown metric", queryType: "metrics", json: `{"metrics":["bogus"]}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: `unknown metric "bogus"`},
		{name: "bad search status", queryType: "search", json: `{"status":"broken"}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "status must be ok, error or unset"},
		{name: "negative duration", queryType: "search", json: `{"minDurationMs":-1}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "minDurationMs must not be negative"},
		{name: "empty attribute name", queryType: "search", json: `{"attributes":{"":"x"}}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "attribute names must not be empty"},
		{name: "bad cost grouping", queryType: "cost", json: `{"costBy":"month"}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "costBy must be function, version or day"},
		{name: "bad logs limit", queryType: "logs", json: `{"limit":-5}`,
			wantStatus: backend.StatusBadRequest, wantSource: backend.ErrorSourceDownstream, wantErr: "limit must be between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := ds.QueryData(t.Context(), &backend.QueryDataRequest{
				Queries: []backend.DataQuery{{RefID: "A", QueryType: tt.queryType, JSON: []byte(tt.json), TimeRange: fixtureRange}},
			})
			if err != nil {
				t.Fatalf("QueryData: %v", err)
			}
			r := resp.Responses["A"]
			if r.Error == nil || !strings.Contains(r.Error.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", r.Error, tt.wantErr)
			}
			if r.Status != tt.wantStatus || r.ErrorSource != tt.wantSource {
				t.Errorf("status %v source %q, want %v %q", r.Status, r.ErrorSource, tt.wantStatus, tt.wantSource)
			}
		})
	}
}

// TestQueryDataNotPluginErrors checks that what the user or Grafana caused
// (unusable settings, a cancelled query) is reported as downstream, not as
// the plugin's failure.
func TestQueryDataNotPluginErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ds      *Datasource
		ctx     context.Context
		wantErr string
	}{
		{name: "invalid settings", ds: newTestDatasource(t, map[string]any{"address": "clickhouse"}, ""), ctx: t.Context(),
			wantErr: "datasource settings"},
		{name: "cancelled", ds: fixtureDatasource(t), ctx: cancelled, wantErr: "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.ds.QueryData(tt.ctx, &backend.QueryDataRequest{
				Queries: []backend.DataQuery{{RefID: "A", QueryType: "invocations", TimeRange: fixtureRange}},
			})
			if err != nil {
				t.Fatalf("QueryData: %v", err)
			}
			r := resp.Responses["A"]
			if r.Error == nil || !strings.Contains(r.Error.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", r.Error, tt.wantErr)
			}
			if r.ErrorSource != backend.ErrorSourceDownstream {
				t.Errorf("error source = %q, want downstream", r.ErrorSource)
			}
		})
	}
}

// TestHostileFilters checks that values typed in the query editor reach
// ClickHouse as values: they match nothing instead of widening or breaking
// the query.
func TestHostileFilters(t *testing.T) {
	ds := fixtureDatasource(t)
	hostile := []string{
		`orders' OR '1'='1`,
		`orders\' OR 1=1 --`,
		`') UNION ALL SELECT * FROM system.tables --`,
		"orders\x00",
		`%`,
		"orders`; DROP DATABASE default",
	}
	fields := []struct {
		queryType string
		model     func(v string) map[string]any
	}{
		{"invocations", func(v string) map[string]any { return map[string]any{"functionName": v} }},
		{"invocations", func(v string) map[string]any { return map[string]any{"requestId": v} }},
		{"search", func(v string) map[string]any { return map[string]any{"functionName": v} }},
		{"search", func(v string) map[string]any { return map[string]any{"serviceName": v} }},
		{"search", func(v string) map[string]any { return map[string]any{"spanName": v} }},
		{"search", func(v string) map[string]any { return map[string]any{"attributes": map[string]string{v: "dynamodb"}} }},
		{"search", func(v string) map[string]any { return map[string]any{"attributes": map[string]string{"db.system": v}} }},
		{"logs", func(v string) map[string]any { return map[string]any{"text": v} }},
		{"logs", func(v string) map[string]any { return map[string]any{"functionName": v} }},
		{"metrics", func(v string) map[string]any { return map[string]any{"functionName": v} }},
		{"cost", func(v string) map[string]any { return map[string]any{"functionName": v} }},
		{"search", func(v string) map[string]any { return adhoc(AdhocKeyFunction, v) }},
		{"search", func(v string) map[string]any { return adhoc(AdhocKeyService, v) }},
		{"search", func(v string) map[string]any { return adhoc("db.system", v) }},
		{"search", func(v string) map[string]any { return adhoc(v, "dynamodb") }},
		{"invocations", func(v string) map[string]any { return adhoc(AdhocKeyFunction, v) }},
		{"metrics", func(v string) map[string]any { return adhoc(AdhocKeyFunction, v) }},
		{"logs", func(v string) map[string]any { return adhoc(AdhocKeyFunction, v) }},
		{"spikes", func(v string) map[string]any { return map[string]any{"functionName": v, "minInvocations": 1} }},
		{"spikes", func(v string) map[string]any {
			return map[string]any{"functionName": v, "minInvocations": 1, "format": "timeSeries"}
		}},
		{"rightsize", func(v string) map[string]any { return map[string]any{"functionName": v, "minInvocations": 1} }},
		{"traceCost", func(v string) map[string]any { return map[string]any{"functionName": v} }},
		{"traceCost", func(v string) map[string]any { return map[string]any{"serviceName": v} }},
		{"traceCost", func(v string) map[string]any { return adhoc("db.system", v) }},
		{"traceCost", func(v string) map[string]any { return adhoc(v, "dynamodb") }},
	}
	for i, v := range hostile {
		for j, f := range fields {
			t.Run(fmt.Sprintf("%s_%d_%d", f.queryType, j, i), func(t *testing.T) {
				model := f.model(v)
				resp := runQuery(t, ds, f.queryType, model, fixtureRange)
				if resp.Error != nil {
					t.Fatalf("query %v: %v", model, resp.Error)
				}
				for _, fr := range resp.Frames {
					if n, _ := fr.RowLen(); n != 0 {
						t.Errorf("%s %v matched %d rows, want 0", f.queryType, model, n)
					}
				}
			})
		}
	}
	// The data is still there afterwards.
	resp := runQuery(t, ds, "invocations", nil, fixtureRange)
	if n, _ := resp.Frames[0].RowLen(); n != 3 {
		t.Errorf("after hostile queries: %d invocations, want 3", n)
	}
}

// TestHostileAdhocFilters checks that ad hoc filter values of every
// operator select by value for every query type: = and =~ with a hostile
// value match nothing (or the pattern is refused), != and !~ exclude
// nothing, and the data is unchanged.
func TestHostileAdhocFilters(t *testing.T) {
	ds := fixtureDatasource(t)
	hostile := []string{
		`orders' OR '1'='1`,
		`') UNION ALL SELECT * FROM system.tables --`,
		"orders`; DROP DATABASE default",
		`.*') OR 1=1 --`,
		`%`,
	}
	types := []struct {
		queryType string
		model     map[string]any
		tr        backend.TimeRange
	}{
		{"invocations", nil, fixtureRange},
		{"search", nil, fixtureRange},
		{"logs", nil, fixtureRange},
		{"metrics", map[string]any{"stepSeconds": 3600}, fixtureRange},
		{"serviceMap", nil, fixtureRange},
		{"catalog", nil, fixtureRange},
		{"cost", nil, fixtureRange},
		{"cost", map[string]any{"costBy": "day"}, fixtureRange},
		{"spikes", map[string]any{"minInvocations": 1}, spikeRange},
		{"spikes", map[string]any{"minInvocations": 1, "format": "timeSeries"}, spikeRange},
		{"rightsize", map[string]any{"minInvocations": 1}, fixtureRange},
		{"traceCost", nil, fixtureRange},
	}
	rows := func(resp backend.DataResponse) int {
		n := 0
		for _, f := range resp.Frames {
			r, _ := f.RowLen()
			n += r
		}
		return n
	}
	for _, tt := range types {
		base := runQuery(t, ds, tt.queryType, tt.model, tt.tr)
		if base.Error != nil {
			t.Fatalf("%s %v: %v", tt.queryType, tt.model, base.Error)
		}
		if rows(base) == 0 {
			t.Fatalf("%s %v: no rows without filters", tt.queryType, tt.model)
		}
		for i, v := range hostile {
			for _, key := range []string{AdhocKeyFunction, AdhocKeyService} {
				for _, op := range []string{query.OpEqual, query.OpNotEqual, query.OpMatch, query.OpNotMatch} {
					t.Run(fmt.Sprintf("%s_%s_%s_%d", tt.queryType, key, op, i), func(t *testing.T) {
						model := map[string]any{"adhocFilters": []AdhocFilter{{Key: key, Operator: op, Value: v}}}
						for k, mv := range tt.model {
							model[k] = mv
						}
						resp := runQuery(t, ds, tt.queryType, model, tt.tr)
						if resp.Error != nil {
							if (op == query.OpMatch || op == query.OpNotMatch) && resp.Status == backend.StatusBadRequest &&
								strings.Contains(resp.Error.Error(), "error parsing regexp") {
								return
							}
							t.Fatalf("%s %v: %v", tt.queryType, model, resp.Error)
						}
						want := 0
						if op == query.OpNotEqual || op == query.OpNotMatch {
							want = rows(base)
						}
						if got := rows(resp); got != want {
							t.Errorf("%s %v: %d rows, want %d", tt.queryType, model, got, want)
						}
					})
				}
			}
		}
	}
	resp := runQuery(t, ds, "invocations", nil, fixtureRange)
	if n, _ := resp.Frames[0].RowLen(); n != 3 {
		t.Errorf("after hostile queries: %d invocations, want 3", n)
	}
}

// TestCostDayTimeZone checks that a daily cost report buckets by the days
// of the datasource's time zone.
func TestCostDayTimeZone(t *testing.T) {
	db := plugintest.NewDatabase(t)
	tests := []struct {
		zone    string
		wantDay time.Time
	}{
		{"UTC", time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)},
		// 15:09 UTC is 05:09 the next day at UTC+14.
		{"Pacific/Kiritimati", time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)},
		// and 05:09 the same day at UTC-10.
		{"Pacific/Honolulu", time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)},
		{"Asia/Kolkata", time.Date(2026, 3, 13, 18, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			ds := newTestDatasource(t, map[string]any{"address": db.Addr, "database": db.Name, "timeZone": tt.zone}, "")
			tr := backend.TimeRange{From: plugintest.Start.Add(-48 * time.Hour), To: plugintest.Start.Add(48 * time.Hour)}
			resp := runQuery(t, ds, "cost", map[string]any{"costBy": "day"}, tr)
			if resp.Error != nil {
				t.Fatalf("query: %v", resp.Error)
			}
			f := resp.Frames[0]
			if n, _ := f.RowLen(); n != 1 {
				t.Fatalf("%d days, want 1", n)
			}
			if got := f.Fields[0].At(0).(time.Time); !got.Equal(tt.wantDay) {
				t.Errorf("day starts at %s, want %s", got, tt.wantDay)
			}
			if len(f.Meta.Notices) == 0 || !strings.Contains(f.Meta.Notices[0].Text, "time zone "+tt.zone+".") {
				t.Errorf("notices %+v do not name the time zone", f.Meta.Notices)
			}
			if got, want := f.Fields[1].At(0).(float64), 2.4400082e-06; got < want*0.999 || got > want*1.001 {
				t.Errorf("cost %g, want %g", got, want)
			}
		})
	}
}

// adhoc is a query model with one ad hoc filter key = value.
func adhoc(key, value string) map[string]any {
	return map[string]any{"adhocFilters": []AdhocFilter{{Key: key, Operator: "=", Value: value}}}
}

func TestAdhocFilterErrors(t *testing.T) {
	ds := fixtureDatasource(t)
	tests := []struct {
		name, queryType string
		model           map[string]any
		want            string
	}{
		{"operator", "search", map[string]any{"adhocFilters": []AdhocFilter{{Key: "function", Operator: "<", Value: "o"}}},
			`invalid query: ad hoc filter "function < o": operator must be =, !=, =~ or !~`},
		{"bad regexp", "logs", map[string]any{"adhocFilters": []AdhocFilter{{Key: "service", Operator: "=~", Value: "a(b"}}},
			"invalid filter: \"service =~ a(b\": error parsing regexp: missing closing ): `^(?:a(b)$`"},
		{"no key", "search", map[string]any{"adhocFilters": []AdhocFilter{{Key: " ", Operator: "=", Value: "x"}}},
			"invalid query: ad hoc filter needs a key"},
		{"contradicts function", "invocations", map[string]any{"functionName": "billing", "adhocFilters": []AdhocFilter{{Key: "function", Operator: "=", Value: "orders"}}},
			`invalid query: ad hoc filter "function = orders" contradicts the query's function billing`},
		{"contradicts attribute", "search", map[string]any{"attributes": map[string]string{"db.system": "dynamodb"},
			"adhocFilters": []AdhocFilter{{Key: "db.system", Operator: "=", Value: "mysql"}}},
			`invalid query: ad hoc filter "db.system = mysql" contradicts the query's db.system = dynamodb`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := runQuery(t, ds, tt.queryType, tt.model, fixtureRange)
			if resp.Error == nil || resp.Error.Error() != tt.want {
				t.Fatalf("error = %v, want %s", resp.Error, tt.want)
			}
			if resp.ErrorSource != backend.ErrorSourceDownstream {
				t.Errorf("error source = %q, want downstream", resp.ErrorSource)
			}
		})
	}
}

func TestSchemaHealth(t *testing.T) {
	tests := []struct {
		name       string
		have, want uint32
		wantStatus backend.HealthStatus
		wantMsg    string
	}{
		{name: "missing", have: 0, want: 3, wantStatus: backend.HealthStatusError, wantMsg: "has no Lambdascope schema"},
		{name: "too old", have: 2, want: 3, wantStatus: backend.HealthStatusError, wantMsg: "at version 2, older than version 3"},
		{name: "current", have: 3, want: 3, wantStatus: backend.HealthStatusOk, wantMsg: "holds Lambdascope schema version 3"},
		{name: "newer", have: 4, want: 3, wantStatus: backend.HealthStatusOk, wantMsg: "upgrade the plugin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := schemaHealth("18.16.1", "ch:9000", "lambdascope", tt.have, tt.want)
			if res.Status != tt.wantStatus || !strings.Contains(res.Message, tt.wantMsg) {
				t.Errorf("schemaHealth = %v %q, want %v containing %q", res.Status, res.Message, tt.wantStatus, tt.wantMsg)
			}
		})
	}
}

// TestCheckHealthNewerSchema records a migration this plugin does not know,
// as a newer collector would.
func TestCheckHealthNewerSchema(t *testing.T) {
	db := plugintest.NewDatabase(t)
	ctx := context.Background()
	batch, err := chtest.ConnTo(t, db.Store.Config().DSN).PrepareBatch(ctx, "INSERT INTO "+db.Name+".schema_migrations (version, name, applied_at)")
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if err := batch.Append(storage.LatestVersion()+1, "from_the_future", time.Now().UTC()); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("send: %v", err)
	}
	ds := newTestDatasource(t, map[string]any{"address": db.Addr, "database": db.Name}, "")
	res, err := ds.CheckHealth(t.Context(), &backend.CheckHealthRequest{})
	if err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	if res.Status != backend.HealthStatusOk || !strings.Contains(res.Message, "upgrade the plugin") {
		t.Errorf("CheckHealth = %v %q, want ok asking to upgrade the plugin", res.Status, res.Message)
	}
}

func TestResourceFunctions(t *testing.T) {
	ds := fixtureDatasource(t)
	rangeParams := fmt.Sprintf("from=%d&to=%d", fixtureRange.From.UnixMilli(), fixtureRange.To.UnixMilli())
	tests := []struct {
		name, method, path, url string
		wantStatus              int
		wantBody                string
	}{
		{name: "functions", method: "GET", path: "functions", url: fmt.Sprintf("functions?from=%d&to=%d", fixtureRange.From.UnixMilli(), fixtureRange.To.UnixMilli()),
			wantStatus: 200, wantBody: `["billing","orders"]`},
		{name: "catalog", method: "GET", path: "catalog", url: "catalog?" + rangeParams, wantStatus: 200, wantBody: `[{"function":"billing","service":"billing","account":"123456789012","region":"eu-west-1","versions":["7"]},` +
			`{"function":"orders","service":"orders","account":"123456789012","region":"eu-west-1","versions":["$LATEST"]}]`},
		{name: "tenants", method: "GET", path: "tenants", url: "tenants?" + rangeParams, wantStatus: 200, wantBody: `["acme"]`},
		{name: "tenants of function", method: "GET", path: "tenants", url: "tenants?function=billing&" + rangeParams, wantStatus: 200, wantBody: `[]`},
		{name: "tenants hostile function", method: "GET", path: "tenants", url: "tenants?function=" + url.QueryEscape("x' OR '1'='1") + "&" + rangeParams,
			wantStatus: 200, wantBody: `[]`},
		{name: "functions outside range", method: "GET", path: "functions", url: "functions?from=1000&to=2000", wantStatus: 200, wantBody: `[]`},
		{name: "functions bad range", method: "GET", path: "functions", url: "functions?from=abc", wantStatus: 400, wantBody: `{"error":"from must be milliseconds since the epoch, got \"abc\""}`},
		{name: "metrics", method: "GET", path: "metrics", wantStatus: 200,
			wantBody: `["invocations","errors","timeouts","errorRate","coldStarts","coldStartRate","initDuration","durationP50","durationP95","durationP99","concurrency","maxMemoryUsed","memoryConfigured"]`},
		{name: "spans", method: "GET", path: "spans", url: "spans?" + rangeParams,
			wantStatus: 200, wantBody: `["POST /orders","UPDATE accounts","charge","invoke billing","lambda.init","lambda.invoke"]`},
		{name: "spans of function", method: "GET", path: "spans", url: "spans?function=billing&" + rangeParams,
			wantStatus: 200, wantBody: `["UPDATE accounts","charge"]`},
		{name: "spans hostile function", method: "GET", path: "spans", url: "spans?function=" + url.QueryEscape("billing' OR '1'='1") + "&" + rangeParams,
			wantStatus: 200, wantBody: `[]`},
		{name: "spans outside range", method: "GET", path: "spans", url: "spans?from=1000&to=2000", wantStatus: 200, wantBody: `[]`},
		{name: "services", method: "GET", path: "services", url: "services?" + rangeParams, wantStatus: 200, wantBody: `["billing","orders-api"]`},
		{name: "attribute keys", method: "GET", path: "attributeKeys", url: "attributeKeys?" + rangeParams,
			wantStatus: 200, wantBody: `["db.system","faas.invoked_name","http.route"]`},
		{name: "attribute values", method: "GET", path: "attributeValues", url: "attributeValues?key=db.system&" + rangeParams,
			wantStatus: 200, wantBody: `["dynamodb"]`},
		{name: "attribute values hostile key", method: "GET", path: "attributeValues", url: "attributeValues?key=" + url.QueryEscape("db.system') OR 1=1 --") + "&" + rangeParams,
			wantStatus: 200, wantBody: `[]`},
		{name: "attribute values no key", method: "GET", path: "attributeValues", url: "attributeValues?" + rangeParams,
			wantStatus: 400, wantBody: `{"error":"invalid filter: key is required to list attribute values"}`},
		{name: "spans bad range", method: "GET", path: "spans", url: "spans?to=1000", wantStatus: 400, wantBody: `{"error":"from must be before to"}`},
		{name: "unknown", method: "GET", path: "nothing", wantStatus: 404, wantBody: `{"error":"no resource \"nothing\""}`},
		{name: "post", method: "POST", path: "functions", wantStatus: 405, wantBody: `{"error":"only GET is supported"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *backend.CallResourceResponse
			err := ds.CallResource(t.Context(), &backend.CallResourceRequest{Method: tt.method, Path: tt.path, URL: tt.url},
				backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error { got = r; return nil }))
			if err != nil {
				t.Fatalf("CallResource: %v", err)
			}
			if got == nil || got.Status != tt.wantStatus || string(got.Body) != tt.wantBody {
				t.Errorf("response = %+v, want %d %s", got, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// TestHTTPPortGiven checks that ClickHouse's HTTP port given as the
// address is named as the problem, for the health check and for queries.
func TestHTTPPortGiven(t *testing.T) {
	srv := chtest.Server()
	if srv.External() {
		// A server reached through LAMBDASCOPE_CLICKHOUSE_DSN tells only its
		// native port; CI always runs this test against its own server.
		t.Skip("the HTTP port of a server given by LAMBDASCOPE_CLICKHOUSE_DSN is unknown")
	}
	if srv.HTTPPort() == 0 {
		t.Fatalf("the test server has no HTTP port")
	}
	host, _, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		t.Fatalf("server address %q: %v", srv.Addr(), err)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(srv.HTTPPort()))
	ds := newTestDatasource(t, map[string]any{"address": addr, "dialTimeoutSeconds": 3}, "")
	res, err := ds.CheckHealth(t.Context(), &backend.CheckHealthRequest{})
	if err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "HTTP port") {
		t.Errorf("CheckHealth = %v %q, want an error naming the HTTP port", res.Status, res.Message)
	}
	r := runQuery(t, ds, "invocations", nil, fixtureRange)
	if r.Error == nil || !strings.Contains(r.Error.Error(), "HTTP port") || r.ErrorSource != backend.ErrorSourceDownstream {
		t.Errorf("query error = %v (source %q), want a downstream error naming the HTTP port", r.Error, r.ErrorSource)
	}
}
