package storage

import (
	"time"
)

// hourlyCountSQL counts a table's rows per function and hour.
func hourlyCountSQL(db, table, timeCol string, f UsageFilter) (string, []any) {
	var w readWhere
	w.timeRange(timeCol, "", f.Since, f.Until)
	w.equal("function_name", f.FunctionName)
	return `SELECT toStartOfHour(` + timeCol + `) AS hour, function_name, count() AS n
FROM ` + db + `.` + table + `
WHERE ` + w.sql() + `
GROUP BY hour, function_name`, w.args
}

// completenessSentSQL sums the extensions' counts per function and hour
// of the invocations' start.
func completenessSentSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.add("tel_counted = 1")
	w.timeRange("start_time", "", f.Since, f.Until)
	w.equal("function_name", f.FunctionName)
	return `SELECT toStartOfHour(start_time) AS hour, function_name, count() AS invocations,
    sum(tel_spans_received), sum(tel_log_lines_received), sum(tel_bytes_received), sum(tel_bytes_shipped),
    sum(tel_spans_sampled_out), sum(tel_spans_dropped), sum(tel_log_lines_dropped),
    sum(tel_spans_spooled), sum(tel_log_lines_spooled), sum(tel_spans_spool_dropped),
    sum(tel_log_lines_spool_dropped), sum(tel_platform_logs_dropped),
    sum(tel_spans_refused), sum(tel_log_lines_refused)
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY hour, function_name`, w.args
}

// completenessLossSQL sums what the collector left out per function, hour,
// signal and stage.
func completenessLossSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.timeRange("hour", "", f.Since.Truncate(time.Hour), f.Until)
	w.equal("function_name", f.FunctionName)
	return `SELECT hour, function_name, signal, stage, sum(items) AS items
FROM ` + db + `.ingest_losses
WHERE ` + w.sql() + `
GROUP BY hour, function_name, signal, stage`, w.args
}

// completenessHoursSQL sums the completeness_hours view (migration 50)
// per function and hour over whole hours: the counted records' counts as
// completenessSentSQL sums them, then the spans and log lines stored.
func completenessHoursSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.timeRange("hour", "", f.Since, f.Until)
	w.equal("function_name", f.FunctionName)
	return `SELECT hour, function_name, sum(invocations),
    sum(tel_spans_received), sum(tel_log_lines_received), sum(tel_bytes_received), sum(tel_bytes_shipped),
    sum(tel_spans_sampled_out), sum(tel_spans_dropped), sum(tel_log_lines_dropped),
    sum(tel_spans_spooled), sum(tel_log_lines_spooled), sum(tel_spans_spool_dropped),
    sum(tel_log_lines_spool_dropped), sum(tel_platform_logs_dropped),
    sum(tel_spans_refused), sum(tel_log_lines_refused),
    sum(spans_stored), sum(log_lines_stored)
FROM ` + db + `.completeness_hours
WHERE ` + w.sql() + `
GROUP BY hour, function_name`, w.args
}
