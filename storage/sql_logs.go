package storage

import (
	"time"
)

// logSelectColumns is read by scanLog, in this order.
const logSelectColumns = `time_unix_nano, observed_time_unix_nano, trace_id, span_id, severity_number, severity_text, body,
    service_name, function_name, function_version, account_id, region, request_id, log_type,
    attributes.key, attributes.value, resource_attributes.key, resource_attributes.value`

// selectLogsSQL reads the log records f selects, newest first.
func selectLogsSQL(db string, f LogFilter) (string, []any) {
	w := logsWhere(f)
	return "SELECT " + logSelectColumns + "\nFROM " + db + ".logs\nWHERE " + w.sql() +
			"\nORDER BY timestamp DESC, time_unix_nano DESC\nLIMIT ?",
		append(w.args, limitBetween(f.Limit, DefaultLogLimit, MaxLogLimit))
}

// logsWhere is the condition on the logs table that f sets, but its limit.
func logsWhere(f LogFilter) readWhere {
	var w readWhere
	w.equal("function_name", f.FunctionName)
	w.timeRange("timestamp", "time_unix_nano", f.Since, f.Until)
	w.equal("request_id", f.RequestID)
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

// logVolumeSQL counts the records f selects per step, function and
// severity.
func logVolumeSQL(db string, f LogFilter, step time.Duration) (string, []any) {
	w := logsWhere(f)
	sec := int64(step / time.Second)
	return `SELECT intDiv(toUInt32(timestamp), ?) * ? AS bucket, function_name, severity_number, severity_text, count()
FROM ` + db + `.logs
WHERE ` + w.sql() + `
GROUP BY bucket, function_name, severity_number, severity_text
ORDER BY bucket, function_name, severity_number, severity_text`, append([]any{sec, sec}, w.args...)
}

// logDaysSQL counts the stored log lines and their body bytes per UTC day
// and function.
func logDaysSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.timeRange("timestamp", "time_unix_nano", f.Since, f.Until)
	w.equal("function_name", f.FunctionName)
	return `SELECT toDate(timestamp) AS day, function_name, count() AS lines, toUInt64(sum(length(body))) AS body_bytes
FROM ` + db + `.logs
WHERE ` + w.sql() + `
GROUP BY day, function_name
ORDER BY day, function_name`, w.args
}

// logsDroppedSQL sums, per function, the increase of each environment's
// counter over the range: its highest value when the environment started
// in the range, else its highest minus its lowest value in the range.
func logsDroppedSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.add("metric_name = ?", LogsDroppedMetric)
	w.timeRange("timestamp", "time_unix_nano", f.Since, f.Until)
	w.equal("function_name", f.FunctionName)
	since := unixNano(f.Since)
	return `SELECT function_name, toUInt64(sum(increase)) AS records, countIf(increase > 0) AS environments
FROM (
    SELECT function_name, start_time_unix_nano,
        if(start_time_unix_nano >= ?, max(value), max(value) - min(value)) AS increase
    FROM ` + db + `.metric_points
    WHERE ` + w.sql() + `
    GROUP BY function_name, start_time_unix_nano)
GROUP BY function_name
HAVING records > 0
ORDER BY records DESC, function_name`, append([]any{since}, w.args...)
}
