package storage

import (
	"fmt"
	"strings"
)

// All SQL text of the package lives here. Database names are validated
// against identifierPattern before they reach these functions; every value
// that comes from a caller is a bound parameter.

const selectVersionSQL = `SELECT version()`

const migrationsTableExistsSQL = `SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations'`

func createDatabaseSQL(db string) string {
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
	invocationInsertColumns = []string{
		"start_time", "start_unix_nano", "account_id", "region", "function_name", "function_version",
		"service_name", "architecture", "runtime", "initialization_type", "log_stream", "request_id",
		"memory_size_mb", "max_memory_used_mb", "ephemeral_storage_mb", "duration_ms", "billed_duration_ms",
		"billed_init_duration_ms", "init_duration_ms", "restore_duration_ms", "cold_start", "status",
		"error_type", "trace_id", "span_id", "xray_trace_header", "response_latency_ms",
		"response_duration_ms", "runtime_overhead_ms", "produced_bytes",
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

func selectSpansByTraceIDSQL(db string) string {
	return "SELECT " + spanSelectColumns + "\nFROM " + db + ".spans\nWHERE trace_id = unhex(?)\nORDER BY start_unix_nano, span_id"
}

// invocationSelectColumns is read by scanInvocation, in this order.
const invocationSelectColumns = `start_unix_nano, account_id, region, function_name, function_version, service_name,
    architecture, runtime, initialization_type, log_stream, request_id,
    memory_size_mb, max_memory_used_mb, ephemeral_storage_mb, duration_ms, billed_duration_ms,
    billed_init_duration_ms, init_duration_ms, restore_duration_ms, cold_start, status, error_type,
    trace_id, span_id, xray_trace_header, response_latency_ms, response_duration_ms,
    runtime_overhead_ms, produced_bytes`

// selectInvocationsSQL builds the invocation search from fixed fragments;
// the filter's values are returned as arguments, never placed in the text.
func selectInvocationsSQL(db string, f InvocationFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	if f.FunctionName != "" {
		where = append(where, "function_name = ?")
		args = append(args, f.FunctionName)
	}
	if !f.Since.IsZero() {
		where = append(where, "start_time >= toDateTime(?)", "start_unix_nano >= ?")
		args = append(args, f.Since.Unix(), unixNano(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "start_time <= toDateTime(?)", "start_unix_nano < ?")
		args = append(args, f.Until.Unix(), unixNano(f.Until))
	}
	if len(f.RequestIDs) > 0 {
		where = append(where, "request_id IN ?")
		args = append(args, inList(f.RequestIDs))
	}
	if f.TraceID != ([16]byte{}) {
		where = append(where, "trace_id = unhex(?)")
		args = append(args, hexID(f.TraceID[:]))
	}
	var b strings.Builder
	b.WriteString("SELECT " + invocationSelectColumns + "\nFROM " + db + ".invocations")
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
WHERE database = ? AND active AND table IN ('spans', 'logs', 'invocations')
ORDER BY table, partition_id`

func dropPartitionSQL(db, table string) string {
	return "ALTER TABLE " + db + "." + table + " DROP PARTITION ID ?"
}
