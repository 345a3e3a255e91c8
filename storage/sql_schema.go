package storage

import (
	"fmt"
	"strings"
	"time"
)

// The package's SQL text is in the sql_*.go files, one per domain: this one
// holds the schema's (migrations, inserts, partitions, settings, view
// horizons); sql_where.go the one WHERE builder the reads share. Database
// names are validated against identifierPattern before they reach these
// functions; every value that comes from a caller is a bound parameter.

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

// clusterShardsSQL counts the shards of a cluster.
const clusterShardsSQL = `SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = ?`

// presentColumnsSQL counts, per column of a table named in an array, the
// servers that have it: this one, or one replica of each shard of
// cluster.
func presentColumnsSQL(cluster string) string {
	from := "system.columns"
	if cluster != "" {
		from = "cluster('" + cluster + "', system, columns)"
	}
	return "SELECT name, count() FROM " + from + " WHERE database = ? AND table = ? AND has(?, name) GROUP BY name"
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
		"trigger_source", "error_message", "trace_context_source", "function_error_type",
	}
)

var ingestLossColumns = []string{"hour", "function_name", "signal", "stage", "reason", "items"}

func insertSQL(db, table string, columns []string) string {
	return fmt.Sprintf("INSERT INTO %s.%s (%s)", db, table, strings.Join(columns, ", "))
}

// selectPartitionsSQL lists the active partitions of the tables retention
// applies to.
const selectPartitionsSQL = `SELECT DISTINCT table, partition_id
FROM system.parts
WHERE database = ? AND active AND table IN ?
ORDER BY table, partition_id`

// retentionCutoffsSQL reads, per table of tables, the latest time before
// which retention dropped every row (retention_cutoffs, migration 54).
func retentionCutoffsSQL(db string, tables []string) (string, []any) {
	return `SELECT table_name, max(dropped_before)
FROM ` + db + `.retention_cutoffs
WHERE table_name IN ?
GROUP BY table_name`, []any{inList(tables)}
}

func dropPartitionSQL(db, table, cluster string) string {
	if cluster != "" {
		return "ALTER TABLE " + db + "." + table + " ON CLUSTER " + cluster + " DROP PARTITION ID ?"
	}
	return "ALTER TABLE " + db + "." + table + " DROP PARTITION ID ?"
}

// viewHorizonSQL reads the horizon of a view: rows starting after it are
// all in the view. count() is 0 when none was recorded.
func viewHorizonSQL(db, view string) (string, []any) {
	return `SELECT max(horizon_unix_nano), count() FROM ` + db + `.view_horizons WHERE view = ?`, []any{view}
}

// partRowsSQL counts the rows of the active parts of tables (and of their
// per-shard tables in cluster mode) on the server answering.
func partRowsSQL(db string, tables ...string) (string, []any) {
	var names []string
	for _, t := range tables {
		names = append(names, t, t+localSuffix)
	}
	return `SELECT table, sum(rows) FROM system.parts WHERE database = ? AND active AND table IN ? GROUP BY table`,
		[]any{db, inList(names)}
}

// usageDailyVersion is the migration that creates the usage_daily view.
const usageDailyVersion = 6

// usageDailyAppliedSQL counts the records of the usage_daily migration.
func usageDailyAppliedSQL(db string) (string, []any) {
	return `SELECT count() FROM ` + db + `.schema_migrations WHERE version = ?`, []any{uint32(usageDailyVersion)}
}

// createDistributedSQL makes, in cluster mode, the Distributed table that
// readers and writers use under a table's plain name.
func createDistributedSQL(db, table, cluster, shardingKey string) string {
	return "CREATE TABLE IF NOT EXISTS " + db + "." + table + " ON CLUSTER " + cluster +
		" AS " + db + "." + table + localSuffix +
		"\nENGINE = Distributed(" + cluster + ", " + db + ", " + table + localSuffix + ", " + shardingKey + ")"
}

// setSQL sets a setting for the connection's session; value is a literal
// (a number, or a string quoted by quoteString).
func setSQL(name, value string) string { return "SET " + name + " = " + value }

// The statements of migration 17's move of spans into their new layout
// (rebuildSpans). Partition IDs are bound; table names are the store's.

// tableSortingKeySQL reads a table's sorting key; no row when the table
// does not exist.
func tableSortingKeySQL(db, table string) (string, []any) {
	return `SELECT sorting_key FROM system.tables WHERE database = ? AND name = ?`, []any{db, table}
}

// swapSpansSQL gives the name spans to the table of the new layout and
// keeps the old one under spans_v1, in one statement.
func swapSpansSQL(db string) string {
	return "RENAME TABLE " + db + ".spans TO " + db + ".spans_v1, " + db + ".spans_v17 TO " + db + ".spans"
}

// partitionIDsSQL lists the partitions of a table's active parts.
func partitionIDsSQL(db, table string) (string, []any) {
	return `SELECT DISTINCT partition_id FROM system.parts WHERE database = ? AND table = ? AND active ORDER BY partition_id`,
		[]any{db, table}
}

// partsPerPartitionSQL lists a table's partitions in more than one active
// part, with their parts.
func partsPerPartitionSQL(db, table string) (string, []any) {
	return `SELECT partition_id, count() AS parts FROM system.parts WHERE database = ? AND table = ? AND active
GROUP BY partition_id HAVING parts > 1 ORDER BY partition_id`, []any{db, table}
}

// createSpansMoveSQL makes spans_move, a table of spans' layout that no
// view reads: rows attached from it into spans do not feed the views a
// second time.
func createSpansMoveSQL(db string) string {
	return "CREATE TABLE " + db + ".spans_move AS " + db + ".spans"
}

// copyPartitionSQL copies one daily partition of the old spans into
// spans_move, column by column.
func copyPartitionSQL(db string, columns []string, day uint32) (string, []any) {
	list := strings.Join(columns, ", ")
	return "INSERT INTO " + db + ".spans_move (" + list + ") SELECT " + list + " FROM " + db + ".spans_v1 WHERE toYYYYMMDD(start_time) = ?",
		[]any{day}
}

// attachPartitionSQL moves one partition's parts from spans_move into
// spans, without inserting them (the views do not fire).
func attachPartitionSQL(db string) string {
	return "ALTER TABLE " + db + ".spans ATTACH PARTITION ID ? FROM " + db + ".spans_move"
}

// spansColumnsSQL lists the columns of spans (in the table's order).
func spansColumnsSQL(db string) (string, []any) {
	return `SELECT name FROM system.columns WHERE database = ? AND table = 'spans'`, []any{db}
}

// The statements of migration 46's copy of trace_hours into monthly
// partitions (rebuildTraceHours).

// tablePartitionKeySQL reads a table's partition key; no row when the
// table does not exist.
func tablePartitionKeySQL(db, table string) (string, []any) {
	return `SELECT partition_key FROM system.tables WHERE database = ? AND name = ?`, []any{db, table}
}

// swapTraceHoursSQL gives the name trace_hours to the table partitioned
// by month and keeps the weekly one under trace_hours_v17, in one
// statement.
func swapTraceHoursSQL(db string) string {
	return "RENAME TABLE " + db + ".trace_hours TO " + db + ".trace_hours_v17, " + db + ".trace_hours_v46 TO " + db + ".trace_hours"
}

// copyTraceHoursWeekSQL copies the rows of one weekly partition of
// trace_hours_v17, the week starting on monday, into trace_hours.
func copyTraceHoursWeekSQL(db string, monday time.Time) (string, []any) {
	return "INSERT INTO " + db + ".trace_hours (trace_key, hour) SELECT trace_key, hour FROM " + db + ".trace_hours_v17 " +
			"WHERE hour >= toDateTime(?) AND hour < toDateTime(?)",
		[]any{monday.Unix(), monday.AddDate(0, 0, 7).Unix()}
}

// optimizePartitionSQL merges the parts of one partition of a table
// (its ID bound) into one.
func optimizePartitionSQL(db, table string) string {
	return "OPTIMIZE TABLE " + db + "." + table + " PARTITION ID ? FINAL"
}

// dropTableSQL drops a table of the database if it exists.
func dropTableSQL(db, table string) string {
	return "DROP TABLE IF EXISTS " + db + "." + table
}
