package storage

import (
	"strings"
	"testing"
	"time"
)

// TestReadQueriesBindEveryValue holds the text of every read's SQL builder
// in a golden (testdata/sql/NAME.sql, regenerated with -update), built with
// a hostile value in every filter field: the value must not reach the
// text, and every placeholder must have its argument.
func TestReadQueriesBindEveryValue(t *testing.T) {
	const (
		db      = "lambdascope"
		hostile = "x'); DROP TABLE spans; --"
	)
	since := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	until := since.Add(time.Hour)
	usage := UsageFilter{Since: since, Until: until, FunctionName: hostile, FunctionVersion: hostile, AccountID: hostile, Region: hostile}
	days := usage
	days.Since, days.Until = since.Truncate(24*time.Hour), since.Truncate(24*time.Hour).AddDate(0, 0, 30)
	hours := usage
	hours.Since, hours.Until = since.Truncate(time.Hour), until.Truncate(time.Hour).Add(time.Hour)
	edges := SpanEdgeFilter{Since: since, Until: until}
	logs := LogFilter{FunctionName: hostile, Since: since, Until: until, RequestID: hostile, TraceID: [16]byte{1},
		TraceRequestIDs: []string{hostile}, Contains: hostile, MinSeverity: 17, Limit: 5}
	minute := func(m int) time.Time { return since.Truncate(time.Hour).Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name  string
		build func() (string, []any)
	}{
		// Spans and traces.
		{"spans_by_trace_id", func() (string, []any) { return selectSpansByTraceIDSQL(db), []any{hexID([]byte{1})} }},
		{"spans_in_trace_hours", func() (string, []any) {
			id := hexID([]byte{1})
			return selectSpansInTraceHoursSQL(db, "IN"), []any{id, id}
		}},
		{"trace_span_keys", func() (string, []any) {
			id := hexID([]byte{1})
			return selectTraceSpanKeysSQL(db, "IN"), []any{id, id}
		}},
		{"spans_in_parts", func() (string, []any) {
			return selectSpansInPartsSQL(db, [16]byte{1}, TraceLayout{Parts: []string{hostile, "20261031_3_12_1"},
				Hours: []time.Time{since.Truncate(time.Hour), until.Truncate(time.Hour)}})
		}},
		{"spans_in_trace_window", func() (string, []any) {
			id := hexID([]byte{1})
			return selectSpansInTraceWindowSQL(db), []any{id, id, id}
		}},
		{"trace_index_window", func() (string, []any) { return selectTraceIndexWindowSQL(db), []any{hexID([]byte{1})} }},
		{"spans_in_window", func() (string, []any) {
			return selectSpansInWindowSQL(db, [16]byte{1}, interval{since.Truncate(time.Second), until.Truncate(time.Second).Add(time.Second)})
		}},
		{"spans_linking_to", func() (string, []any) { return selectSpansLinkingToSQL(db, [16]byte{1}, 10) }},
		{"spans_by_ref", func() (string, []any) {
			return selectSpansByRefSQL(db, "IN", []SpanRef{{TraceID: [16]byte{1}, SpanID: [8]byte{1}}, {TraceID: [16]byte{1}, SpanID: [8]byte{2}}})
		}},
		{"trace_search", func() (string, []any) {
			return traceSearchSQL(db, TraceSearchFilter{Since: since, Until: until, FunctionName: hostile, ServiceName: hostile,
				SpanName: hostile, StatusCode: 2, MinDuration: time.Millisecond, MaxDuration: time.Second,
				Attributes: map[string]string{hostile: hostile}, ColdStartOnly: true, Offset: 20, Limit: 10}, nil)
		}},
		{"trace_search_in_hours", func() (string, []any) {
			return traceSearchSQL(db, TraceSearchFilter{Since: since, Until: until, StatusCode: 2, Limit: 10},
				[]traceHour{{[16]byte{1}, since.Truncate(time.Hour)}})
		}},
		{"trace_hours_of", func() (string, []any) {
			return selectTraceHoursSQL(db, [][16]byte{{1}, {2}}, since, until)
		}},
		{"trace_summary_in_hours", func() (string, []any) {
			return traceSummarySQL(db, TraceSearchFilter{Since: since, Until: until}, [][16]byte{{1}, {2}},
				[]traceHour{{[16]byte{1}, since.Truncate(time.Hour)}, {[16]byte{2}, until.Truncate(time.Hour)}})
		}},
		{"trace_summary", func() (string, []any) {
			return traceSummarySQL(db, TraceSearchFilter{Since: since, Until: until}, [][16]byte{{1}, {2}}, nil)
		}},
		{"span_edges", func() (string, []any) { return spanEdgesSQL(db, edges) }},
		{"resource_calls", func() (string, []any) { return resourceCallsSQL(db, edges) }},
		{"function_triggers", func() (string, []any) { return functionTriggersSQL(db, edges) }},
		{"service_map", func() (string, []any) {
			return serviceMapSQL(db, serviceMapParts{
				hours:   []interval{{minute(60), minute(120)}},
				minutes: []interval{{minute(5), minute(60)}},
				raw:     []interval{{since, minute(5)}, {minute(120), minute(120).Add(time.Second)}},
			})
		}},
		{"durable_executions", func() (string, []any) {
			return durableExecutionsSQL(db, DurableFilter{Since: since, Until: until, FunctionName: hostile, Limit: 10})
		}},
		{"picker_span_names", func() (string, []any) {
			return pickerSQL(db, pickerSpanNameExpr, PickerFilter{Since: since, Until: until, FunctionName: hostile, Limit: 5}, false)
		}},
		{"picker_attribute_values", func() (string, []any) {
			return pickerSQL(db, pickerAttrValueExpr, PickerFilter{Since: since, Until: until, FunctionName: hostile, Key: hostile, Limit: 5}, true)
		}},
		// Invocations and functions.
		{"invocations", func() (string, []any) {
			return selectInvocationsSQL(db, InvocationFilter{FunctionName: hostile, Since: since, Until: until,
				RequestIDs: []string{hostile, "b"}, TraceID: [16]byte{1}, TenantID: hostile, Trigger: hostile, TriggerSource: hostile, ErrorType: hostile, Failed: true, Limit: 10,
				FunctionNames: []string{hostile}, TraceIDs: [][16]byte{{2}, {3}}})
		}},
		{"invocations_trace_view", func() (string, []any) {
			return selectInvocationsSQL(db, InvocationFilter{Since: since, Until: until,
				RequestIDs: []string{hostile, "b"}, FunctionNames: []string{hostile}, Limit: 10, TraceView: true})
		}},
		{"trace_invocations", func() (string, []any) {
			return selectTraceInvocationsSQL(db, InvocationFilter{Since: since, Until: until,
				RequestIDs: []string{hostile, "b"}, FunctionNames: []string{hostile}, Limit: 10, TraceView: true})
		}},
		{"function_buckets", func() (string, []any) { return functionBucketsSQL(db, usage, time.Minute) }},
		{"function_figures", func() (string, []any) { return functionFiguresSQL(db, hours, time.Hour) }},
		{"function_catalog", func() (string, []any) { return functionCatalogSQL(db, usage) }},
		{"memory_profiles", func() (string, []any) { return memoryProfileSQL(db, usage) }},
		{"versions_first_seen", func() (string, []any) { return versionsFirstSeenSQL(db, usage) }},
		{"tenants", func() (string, []any) { return tenantsSQL(db, usage, 10) }},
		// Cost.
		{"usage", func() (string, []any) { return usageSQL(db, usage) }},
		{"usage_daily", func() (string, []any) { return usageDailySQL(db, days) }},
		{"usage_hourly", func() (string, []any) { return usageHourlySQL(db, hours) }},
		{"day_counts", func() (string, []any) { return dayCountsSQL(db, usage) }},
		{"billed_estimates", func() (string, []any) { return billedEstimatesSQL(db, usage) }},
		{"snapstart_usage", func() (string, []any) { return snapStartUsageSQL(db, usage) }},
		{"cost_hours", func() (string, []any) { return costHoursSQL(db, hours) }},
		{"tenant_usage", func() (string, []any) { return tenantUsageSQL(db, usage) }},
		{"overhead", func() (string, []any) { return overheadSQL(db, usage) }},
		{"streaming", func() (string, []any) { return streamingSQL(db, usage) }},
		{"streaming_hours", func() (string, []any) { return streamingHoursSQL(db, hours) }},
		// Logs.
		{"logs", func() (string, []any) { return selectLogsSQL(db, logs) }},
		{"log_volume", func() (string, []any) { return logVolumeSQL(db, logs, time.Minute) }},
		{"log_days", func() (string, []any) { return logDaysSQL(db, usage) }},
		{"logs_dropped", func() (string, []any) { return logsDroppedSQL(db, usage) }},
		// Completeness.
		{"completeness_sent", func() (string, []any) { return completenessSentSQL(db, usage) }},
		{"completeness_loss", func() (string, []any) { return completenessLossSQL(db, usage) }},
		{"completeness_stored", func() (string, []any) { return hourlyCountSQL(db, "spans", "start_time", usage) }},
		{"completeness_hours", func() (string, []any) { return completenessHoursSQL(db, hours) }},
		// Schema and views.
		{"view_horizon", func() (string, []any) { return viewHorizonSQL(db, hostile) }},
		{"part_rows", func() (string, []any) { return partRowsSQL(db, "invocations", "function_figures") }},
		{"usage_daily_applied", func() (string, []any) { return usageDailyAppliedSQL(db) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query, args := tt.build()
			if n := strings.Count(query, "?"); n != len(args) {
				t.Errorf("query has %d placeholders for %d arguments", n, len(args))
			}
			if strings.Contains(query, "DROP") {
				t.Errorf("a filter value reached the query text:\n%s", query)
			}
			checkGolden(t, "sql/"+tt.name+".sql", query+"\n")
		})
	}
}

// TestTimeRangeEndsAreExclusive pins the one definition of a range's end:
// [since, until), the second column rounded outwards, the nanosecond
// column exact.
func TestTimeRangeEndsAreExclusive(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	tests := []struct {
		name         string
		nsCol        string
		since, until time.Time
		want         string
		args         []any
	}{
		{"open", "t_ns", time.Time{}, time.Time{}, "1", nil},
		{"seconds only", "", since, since.Add(time.Minute),
			"t >= toDateTime(?)\n  AND t < toDateTime(?)", []any{since.Unix(), since.Unix() + 61}},
		{"whole seconds", "", since.Truncate(time.Second), since.Truncate(time.Second).Add(time.Minute),
			"t >= toDateTime(?)\n  AND t < toDateTime(?)", []any{since.Unix(), since.Unix() + 60}},
		{"nanoseconds", "t_ns", since, since.Add(time.Minute),
			"t >= toDateTime(?)\n  AND t < toDateTime(?)\n  AND t_ns >= ?\n  AND t_ns < ?",
			[]any{since.Unix(), since.Unix() + 61, uint64(since.UnixNano()), uint64(since.Add(time.Minute).UnixNano())}},
		{"until only", "t_ns", time.Time{}, since, "t < toDateTime(?)\n  AND t_ns < ?", []any{since.Unix() + 1, uint64(since.UnixNano())}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w readWhere
			w.timeRange("t", tt.nsCol, tt.since, tt.until)
			if got := w.sql(); got != tt.want {
				t.Errorf("sql = %q, want %q", got, tt.want)
			}
			if len(w.args) != len(tt.args) {
				t.Fatalf("args = %v, want %v", w.args, tt.args)
			}
			for i := range w.args {
				if w.args[i] != tt.args[i] {
					t.Errorf("arg %d = %v (%T), want %v (%T)", i, w.args[i], w.args[i], tt.args[i], tt.args[i])
				}
			}
		})
	}
}

// TestSchemaSQLGolden holds the text of the schema's statements that the
// DDL goldens do not: the migrations table, the inserts, retention's
// partitions, the Distributed tables and session settings.
func TestSchemaSQLGolden(t *testing.T) {
	const db = "lambdascope"
	var b strings.Builder
	for _, st := range []struct{ name, sql string }{
		{"version", selectVersionSQL},
		{"migrations table exists", migrationsTableExistsSQL},
		{"create database", createDatabaseSQL(db, "")},
		{"create database on a cluster", createDatabaseSQL(db, "lambdascope")},
		{"create migrations table", createMigrationsTableSQL(db)},
		{"insert migration", insertMigrationSQL(db)},
		{"select migrations", selectMigrationsSQL(db)},
		{"cluster shards", clusterShardsSQL},
		{"present columns", presentColumnsSQL("")},
		{"present columns on a cluster", presentColumnsSQL("lambdascope")},
		{"insert spans", insertSQL(db, "spans", spanInsertColumns)},
		{"insert logs", insertSQL(db, "logs", logInsertColumns)},
		{"insert metric points", insertSQL(db, "metric_points", metricInsertColumns)},
		{"insert invocations", insertSQL(db, "invocations", invocationInsertColumns)},
		{"insert ingest losses", insertSQL(db, "ingest_losses", ingestLossColumns)},
		{"select partitions", selectPartitionsSQL},
		{"drop partition", dropPartitionSQL(db, "spans", "")},
		{"drop partition on a cluster", dropPartitionSQL(db, "spans_local", "lambdascope")},
		{"create distributed", createDistributedSQL(db, "spans", "lambdascope", "cityHash64(trace_id)")},
		{"set", setSQL("insert_distributed_sync", "1")},
	} {
		b.WriteString("-- " + st.name + "\n" + st.sql + ";\n\n")
	}
	checkGolden(t, "sql/schema.sql", b.String())
}
