package storage

import (
	"fmt"
	"strings"
	"time"
)

// All SQL text of the package lives here. Database names are validated
// against identifierPattern before they reach these functions; every value
// that comes from a caller is a bound parameter.

const selectVersionSQL = `SELECT version()`

const migrationsTableExistsSQL = `SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations'`

func createDatabaseSQL(db, cluster string) string {
	if cluster != "" {
		return "CREATE DATABASE IF NOT EXISTS " + db + " ON CLUSTER " + cluster
	}
	return "CREATE DATABASE IF NOT EXISTS " + db
}

func createMigrationsTableSQL(db string) string {
	return "CREATE TABLE IF NOT EXISTS " + db + `.schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree()
ORDER BY version`
}

func insertMigrationSQL(db string) string {
	return "INSERT INTO " + db + ".schema_migrations (version, name, applied_at)"
}

func selectMigrationsSQL(db string) string {
	return "SELECT DISTINCT version FROM " + db + ".schema_migrations ORDER BY version"
}

// Insert column lists. 18.16 needs the explicit list; the order is the order
// of the values the writer appends (spanValues, logValues, invocationValues).
var (
	spanInsertColumns = []string{
		"start_time", "start_unix_nano", "duration_ns", "trace_id", "span_id", "parent_span_id",
		"trace_state", "name", "kind", "status_code", "status_message",
		"service_name", "function_name", "function_version", "account_id", "region", "request_id",
		"scope_name", "scope_version",
		"attributes.key", "attributes.value", "resource_attributes.key", "resource_attributes.value",
		"events.time_unix_nano", "events.name", "events.attributes",
		"links.trace_id", "links.span_id", "links.attributes",
	}
	logInsertColumns = []string{
		"timestamp", "time_unix_nano", "observed_time_unix_nano", "trace_id", "span_id",
		"severity_number", "severity_text", "body",
		"service_name", "function_name", "function_version", "account_id", "region", "request_id", "log_type",
		"attributes.key", "attributes.value", "resource_attributes.key", "resource_attributes.value",
	}
	metricInsertColumns = []string{
		"timestamp", "time_unix_nano", "start_time_unix_nano",
		"service_name", "function_name", "function_version", "account_id", "region", "scope_name",
		"metric_name", "metric_type", "unit", "temporality", "is_monotonic", "flags",
		"value", "point_count", "point_sum", "point_min", "point_max",
		"bucket_counts", "explicit_bounds", "quantile_values",
		"attributes.key", "attributes.value", "resource_attributes.key", "resource_attributes.value",
		"exemplar_trace_ids", "exemplar_values",
	}
	invocationInsertColumns = []string{
		"start_time", "start_unix_nano", "account_id", "region", "function_name", "function_version",
		"service_name", "architecture", "runtime", "initialization_type", "log_stream", "request_id",
		"memory_size_mb", "max_memory_used_mb", "ephemeral_storage_mb", "duration_ms", "billed_duration_ms",
		"billed_init_duration_ms", "init_duration_ms", "restore_duration_ms", "cold_start", "status",
		"error_type", "trace_id", "span_id", "xray_trace_header", "response_latency_ms",
		"response_duration_ms", "runtime_overhead_ms", "produced_bytes", "unknown_figures", "incomplete", "tenant_id",
		"trigger", "http_status_code", "response_size",
		"tel_counted", "tel_spans_received", "tel_log_lines_received", "tel_bytes_received", "tel_bytes_shipped",
		"tel_spans_sampled_out", "tel_spans_dropped", "tel_log_lines_dropped", "tel_spans_spooled",
		"tel_log_lines_spooled", "tel_spans_spool_dropped", "tel_log_lines_spool_dropped", "tel_platform_logs_dropped",
		"runtime_duration_ms", "extension_init_ms", "tel_spans_refused", "tel_log_lines_refused",
	}
)

func insertSQL(db, table string, columns []string) string {
	return fmt.Sprintf("INSERT INTO %s.%s (%s)", db, table, strings.Join(columns, ", "))
}

// spanSelectColumns is read by scanSpan, in this order.
const spanSelectColumns = `trace_id, span_id, parent_span_id, trace_state, start_unix_nano, duration_ns,
    name, kind, status_code, status_message,
    service_name, function_name, function_version, account_id, region, request_id,
    attributes.key, attributes.value, resource_attributes.key, resource_attributes.value,
    events.time_unix_nano, events.name, events.attributes,
    links.trace_id, links.span_id, links.attributes`

// selectSpansByTraceIDSQL reads one trace's spans from every partition.
// PREWHERE reads the trace ID column first and the wide columns only of the
// granules holding the trace.
func selectSpansByTraceIDSQL(db string) string {
	return "SELECT " + spanSelectColumns + "\nFROM " + db + ".spans\nPREWHERE trace_id = unhex(?)\nORDER BY start_unix_nano, span_id"
}

// invocationSelectColumns is read by scanInvocation, in this order.
const invocationSelectColumns = `start_unix_nano, account_id, region, function_name, function_version, service_name,
    architecture, runtime, initialization_type, log_stream, request_id,
    memory_size_mb, max_memory_used_mb, ephemeral_storage_mb, duration_ms, billed_duration_ms,
    billed_init_duration_ms, init_duration_ms, restore_duration_ms, cold_start, status, error_type,
    trace_id, span_id, xray_trace_header, response_latency_ms, response_duration_ms,
    runtime_overhead_ms, produced_bytes, unknown_figures, incomplete, tenant_id,
    trigger, http_status_code, response_size`

// selectInvocationsSQL builds the invocation search from fixed fragments;
// the filter's values are returned as arguments, never placed in the text.
func selectInvocationsSQL(db string, f InvocationFilter) (string, []any) {
	var (
		prewhere []string
		where    []string
		args     []any
	)
	// The request IDs and the trace ID are the selective conditions: read
	// their columns first, and the other columns only of the granules that
	// match.
	if len(f.RequestIDs) > 0 {
		prewhere = append(prewhere, "request_id IN ?")
		args = append(args, inList(f.RequestIDs))
	}
	if f.TraceID != ([16]byte{}) {
		prewhere = append(prewhere, "trace_id = unhex(?)")
		args = append(args, hexID(f.TraceID[:]))
	}
	if len(f.TraceIDs) > 0 {
		prewhere = append(prewhere, "trace_id IN (unhex(?)"+strings.Repeat(", unhex(?)", len(f.TraceIDs)-1)+")")
		for _, id := range f.TraceIDs {
			args = append(args, hexID(id[:]))
		}
	}
	if f.FunctionName != "" {
		where = append(where, "function_name = ?")
		args = append(args, f.FunctionName)
	}
	if len(f.FunctionNames) > 0 {
		where = append(where, "function_name IN ?")
		args = append(args, inList(f.FunctionNames))
	}
	if f.TenantID != "" {
		where = append(where, "tenant_id = ?")
		args = append(args, f.TenantID)
	}
	if !f.Since.IsZero() {
		where = append(where, "start_time >= toDateTime(?)", "start_unix_nano >= ?")
		args = append(args, f.Since.Unix(), unixNano(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "start_time <= toDateTime(?)", "start_unix_nano < ?")
		args = append(args, f.Until.Unix(), unixNano(f.Until))
	}
	var b strings.Builder
	b.WriteString("SELECT " + invocationSelectColumns + "\nFROM " + db + ".invocations")
	if len(prewhere) > 0 {
		b.WriteString("\nPREWHERE " + strings.Join(prewhere, "\n  AND "))
	}
	if len(where) > 0 {
		b.WriteString("\nWHERE " + strings.Join(where, "\n  AND "))
	}
	b.WriteString("\nORDER BY start_time DESC, start_unix_nano DESC, request_id\nLIMIT ?")
	args = append(args, f.limit())
	return b.String(), args
}

// selectPartitionsSQL lists the active partitions of the tables retention
// applies to.
const selectPartitionsSQL = `SELECT DISTINCT table, partition_id
FROM system.parts
WHERE database = ? AND active AND table IN ?
ORDER BY table, partition_id`

func dropPartitionSQL(db, table, cluster string) string {
	if cluster != "" {
		return "ALTER TABLE " + db + "." + table + " ON CLUSTER " + cluster + " DROP PARTITION ID ?"
	}
	return "ALTER TABLE " + db + "." + table + " DROP PARTITION ID ?"
}

// whereClause collects filter conditions and their arguments.
type whereClause struct {
	conds []string
	args  []any
}

func (w *whereClause) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// timeRange adds since (inclusive) and until (exclusive) on a DateTime
// column, which prunes partitions and the primary key, and, when nsCol is
// set, on the nanosecond column for sub-second precision.
func (w *whereClause) timeRange(col, nsCol string, since, until time.Time) {
	if !since.IsZero() {
		w.add(col+" >= toDateTime(?)", since.Unix())
		if nsCol != "" {
			w.add(nsCol+" >= ?", unixNano(since))
		}
	}
	if !until.IsZero() {
		w.add(col+" <= toDateTime(?)", until.Unix())
		if nsCol != "" {
			w.add(nsCol+" < ?", unixNano(until))
		} else {
			w.add(col+" < toDateTime(?)", until.Unix())
		}
	}
}

func (w *whereClause) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "\nWHERE " + strings.Join(w.conds, "\n  AND ")
}

// Tables a trace's window is read from when selectSpansInTraceWindowSQL
// finds nothing: trace_index (migration 3).
var traceWindowTables = []string{"trace_index"}

// selectSpansInTraceWindowSQL reads one trace's spans inside its window
// from trace_windows (migration 7) in one round trip: the server evaluates
// the scalar subqueries first, so the window prunes partitions and the
// primary key. A trace the table does not know gets the window [0, 0] and
// no spans. Its three arguments are the trace ID in hex.
func selectSpansInTraceWindowSQL(db string) string {
	window := func(agg, col string) string {
		return "(SELECT toDateTime(intDiv(" + agg + "(" + col + "), 1000000000)) FROM " + db + ".trace_windows WHERE trace_id = unhex(?))"
	}
	return "SELECT " + spanSelectColumns + "\nFROM " + db + ".spans\n" +
		"PREWHERE trace_id = unhex(?)\nWHERE start_time >= " + window("minMerge", "start_min") +
		"\n  AND start_time <= " + window("maxMerge", "end_max") + "\n" +
		"ORDER BY start_unix_nano, span_id"
}

// selectTraceWindowSQL reads a trace's time window from table, one of
// traceWindowTables.
func selectTraceWindowSQL(db, table string) string {
	return "SELECT minMerge(start_min), maxMerge(end_max)\nFROM " + db + "." + table + "\nWHERE trace_id = unhex(?)\nGROUP BY trace_id"
}

// selectSpansInWindowSQL is selectSpansByTraceIDSQL narrowed to the seconds
// [from, to], so that only the partitions and hours of the trace are read.
func selectSpansInWindowSQL(db string) string {
	return "SELECT " + spanSelectColumns + "\nFROM " + db + ".spans\n" +
		"PREWHERE trace_id = unhex(?)\nWHERE start_time >= toDateTime(?)\n  AND start_time <= toDateTime(?)\n" +
		"ORDER BY start_unix_nano, span_id"
}

// logSelectColumns is read by scanLog, in this order.
const logSelectColumns = `time_unix_nano, observed_time_unix_nano, trace_id, span_id, severity_number, severity_text, body,
    service_name, function_name, function_version, account_id, region, request_id, log_type,
    attributes.key, attributes.value, resource_attributes.key, resource_attributes.value`

func selectLogsSQL(db string, f LogFilter) (string, []any) {
	w := logsWhere(f)
	return "SELECT " + logSelectColumns + "\nFROM " + db + ".logs" + w.String() +
			"\nORDER BY timestamp DESC, time_unix_nano DESC\nLIMIT ?",
		append(w.args, limitOr(f.Limit, DefaultLogLimit, MaxLogLimit))
}

// logsWhere is the condition on the logs table that f sets, but its limit.
func logsWhere(f LogFilter) whereClause {
	var w whereClause
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	w.timeRange("timestamp", "time_unix_nano", f.Since, f.Until)
	if f.RequestID != "" {
		w.add("request_id = ?", f.RequestID)
	}
	if f.TraceID != ([16]byte{}) {
		if len(f.TraceRequestIDs) > 0 {
			w.add("(trace_id = unhex(?) OR (trace_id = unhex(?) AND request_id IN ?))",
				hexID(f.TraceID[:]), hexID(make([]byte, 16)), inList(f.TraceRequestIDs))
		} else {
			w.add("trace_id = unhex(?)", hexID(f.TraceID[:]))
		}
	}
	if f.Contains != "" {
		w.add("positionCaseInsensitiveUTF8(body, ?) > 0", f.Contains)
	}
	if f.MinSeverity > 0 {
		w.add("severity_number >= ?", f.MinSeverity)
	}
	return w
}

// metricSelectColumns is read by scanMetricPoint, in this order.
const metricSelectColumns = `time_unix_nano, start_time_unix_nano,
    service_name, function_name, function_version, account_id, region, scope_name,
    metric_name, metric_type, unit, temporality, is_monotonic, flags,
    value, point_count, point_sum, point_min, point_max, bucket_counts, explicit_bounds, quantile_values,
    attributes.key, attributes.value, resource_attributes.key, resource_attributes.value,
    exemplar_trace_ids, exemplar_values`

func selectMetricPointsSQL(db string, f MetricFilter) (string, []any) {
	var w whereClause
	if f.Name != "" {
		w.add("metric_name = ?", f.Name)
	}
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	if f.ServiceName != "" {
		w.add("service_name = ?", f.ServiceName)
	}
	w.timeRange("timestamp", "time_unix_nano", f.Since, f.Until)
	return "SELECT " + metricSelectColumns + "\nFROM " + db + ".metric_points" + w.String() +
			"\nORDER BY metric_name, function_name, timestamp, time_unix_nano\nLIMIT ?",
		append(w.args, limitOr(f.Limit, DefaultMetricLimit, MaxMetricLimit))
}

// selectSpansLinkingToSQL reads the links to one trace from span_links,
// leaving out links inside the trace; a link stored twice (a re-sent span,
// or one copied by migration 13 and its view) is read once.
func selectSpansLinkingToSQL(db string, traceID [16]byte, limit int) (string, []any) {
	return `SELECT linked_trace_id, linked_span_id, start_unix_nano, trace_id, span_id, name, kind, status_code,
    service_name, function_name, request_id, attributes
FROM ` + db + `.span_links
PREWHERE linked_trace_id = unhex(?)
WHERE trace_id != linked_trace_id
ORDER BY start_unix_nano, trace_id, span_id, linked_span_id
LIMIT 1 BY trace_id, span_id, linked_span_id
LIMIT ?`, []any{hexID(traceID[:]), limit}
}

// selectSpansByRefSQL reads the spans whose trace ID and span ID are among
// those of refs, one row per span; the caller keeps the pairs it asked
// for. The spans are read inside the windows trace_windows (migration 7,
// filled back from migration 3) holds for the traces, as scalar
// subqueries, so that only their partitions and hours are searched; a
// trace it does not know reads nothing. One placeholder per ID: the values
// are bound, never placed in the text. The request ID of a span the
// extension inferred from an event is the one it names in
// lambdascope.invocation_id.
func selectSpansByRefSQL(db string, refs []SpanRef) (string, []any) {
	traces := map[[16]byte]bool{}
	spans := map[[8]byte]bool{}
	var traceArgs, spanArgs []any
	for _, r := range refs {
		if !traces[r.TraceID] {
			traces[r.TraceID] = true
			traceArgs = append(traceArgs, hexID(r.TraceID[:]))
		}
		if !spans[r.SpanID] {
			spans[r.SpanID] = true
			spanArgs = append(spanArgs, hexID(r.SpanID[:]))
		}
	}
	marks := func(n int) string { return strings.TrimSuffix(strings.Repeat("unhex(?), ", n), ", ") }
	traceIn := "trace_id IN (" + marks(len(traceArgs)) + ")"
	window := func(agg, col string) string {
		return "(SELECT toDateTime(intDiv(" + agg + "(" + col + "), 1000000000)) FROM " + db + ".trace_windows WHERE " + traceIn + ")"
	}
	args := append(append(append(append([]any{}, traceArgs...), spanArgs...), traceArgs...), traceArgs...)
	return `SELECT trace_id, span_id, start_unix_nano, duration_ns, name, kind, status_code,
    service_name, function_name,
    if(request_id != '', request_id, attributes.value[indexOf(attributes.key, 'lambdascope.invocation_id')])
FROM ` + db + `.spans
PREWHERE ` + traceIn + ` AND span_id IN (` + marks(len(spanArgs)) + `)
WHERE start_time >= ` + window("minMerge", "start_min") + `
  AND start_time <= ` + window("maxMerge", "end_max") + `
ORDER BY start_unix_nano, trace_id, span_id
LIMIT 1 BY trace_id, span_id`, args
}
