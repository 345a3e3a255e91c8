package storage

import (
	"slices"
	"strings"
	"time"
)

// invocationSelectColumns is the whole row of the invocations table as the
// writer inserts it but its start_time (start_unix_nano holds it), in the
// order scanInvocation reads.
var invocationSelectColumns = strings.Join(invocationInsertColumns[1:], ", ")

// invocationTraceViewColumns are the columns of invocationSelectColumns a
// trace view shows, in their order, as scanInvocationTraceView reads them:
// all but the response figures, the runtime's and extension's durations and
// the telemetry counters, and where the event and its trace context came
// from and the error message (migration 56) and the function's error type
// (migration 57), which the invocation's inferred span shows in the trace.
// A trace's invocations are read from few rows of many columns; these are
// 31 of 55.
var invocationTraceViewColumns = strings.Join(slices.DeleteFunc(slices.Clone(invocationInsertColumns[1:]), func(c string) bool {
	switch c {
	case "response_latency_ms", "response_duration_ms", "runtime_overhead_ms", "produced_bytes",
		"runtime_duration_ms", "extension_init_ms", "trigger_source", "error_message", "trace_context_source",
		"function_error_type":
		return true
	}
	return strings.HasPrefix(c, "tel_")
}), ", ")

// selectInvocationsSQL builds the invocation search from fixed fragments;
// the filter's values are returned as arguments, never placed in the text.
func selectInvocationsSQL(db string, f InvocationFilter) (string, []any) {
	// The request IDs and the trace ID are the selective conditions: read
	// their columns first, and the other columns only of the granules that
	// match.
	var pre, w readWhere
	if len(f.RequestIDs) > 0 {
		pre.add("request_id IN ?", inList(f.RequestIDs))
	}
	if f.TraceID != ([16]byte{}) {
		pre.add("trace_id = unhex(?)", hexID(f.TraceID[:]))
	}
	if len(f.TraceIDs) > 0 {
		ids := make([]any, len(f.TraceIDs))
		for i, id := range f.TraceIDs {
			ids[i] = hexID(id[:])
		}
		pre.add("trace_id IN (unhex(?)"+strings.Repeat(", unhex(?)", len(f.TraceIDs)-1)+")", ids...)
	}
	w.equal("function_name", f.FunctionName)
	if len(f.FunctionNames) > 0 {
		w.add("function_name IN ?", inList(f.FunctionNames))
	}
	w.equal("tenant_id", f.TenantID)
	w.equal("trigger", f.Trigger)
	w.equal("trigger_source", f.TriggerSource)
	if f.ErrorType != "" {
		w.add("(error_type = ? OR function_error_type = ?)", f.ErrorType, f.ErrorType)
	}
	if f.Failed {
		w.add("(status NOT IN ('success', '') OR http_status_code >= 500)")
	}
	w.timeRange("start_time", "start_unix_nano", f.Since, f.Until)
	columns := invocationSelectColumns
	if f.TraceView {
		columns = invocationTraceViewColumns
	}
	query := "SELECT " + columns + "\nFROM " + db + ".invocations"
	if len(pre.conds) > 0 {
		query += "\nPREWHERE " + pre.sql()
	}
	query += "\nWHERE " + w.sql() + "\nORDER BY start_time DESC, start_unix_nano DESC, request_id\nLIMIT ?"
	args := append(append(pre.args, w.args...), limitBetween(f.Limit, DefaultInvocationLimit, MaxInvocationLimit))
	return query, args
}

// traceInvocationShown are the columns of invocationTraceViewColumns that
// trace_invocations (migration 55) packs into its array shown, in its
// order: all but start_unix_nano, function_name and request_id, which it
// stores as columns. scanTraceInvocation reads them back.
var traceInvocationShown = []string{
	"account_id", "region", "function_version", "service_name", "architecture", "runtime",
	"initialization_type", "log_stream", "memory_size_mb", "max_memory_used_mb", "ephemeral_storage_mb",
	"duration_ms", "billed_duration_ms", "billed_init_duration_ms", "init_duration_ms", "restore_duration_ms",
	"cold_start", "status", "error_type", "trace_id", "span_id", "xray_trace_header", "unknown_figures",
	"incomplete", "tenant_id", "trigger", "http_status_code", "response_size",
}

// traceInvocationsFilter reports whether f is a read trace_invocations
// answers: the columns of a trace view, selected by request ID, function
// and time alone (the columns it stores unpacked), in a range that starts
// after its horizon.
func traceInvocationsFilter(f InvocationFilter, horizon uint64) bool {
	return f.TraceView && len(f.RequestIDs) > 0 && f.TraceID == ([16]byte{}) && len(f.TraceIDs) == 0 &&
		f.TenantID == "" && f.Trigger == "" && f.TriggerSource == "" && f.ErrorType == "" && !f.Failed && !f.Since.IsZero() && f.Since.UnixNano() > 0 && uint64(f.Since.UnixNano()) > horizon
}

// selectTraceInvocationsSQL is selectInvocationsSQL for a filter
// traceInvocationsFilter accepts, read from trace_invocations: the same
// conditions on the same columns, in the same order, selecting the
// columns it stores unpacked and shown.
func selectTraceInvocationsSQL(db string, f InvocationFilter) (string, []any) {
	var pre, w readWhere
	pre.add("request_id IN ?", inList(f.RequestIDs))
	w.equal("function_name", f.FunctionName)
	if len(f.FunctionNames) > 0 {
		w.add("function_name IN ?", inList(f.FunctionNames))
	}
	w.timeRange("start_time", "start_unix_nano", f.Since, f.Until)
	query := "SELECT start_unix_nano, function_name, request_id, shown\nFROM " + db + ".trace_invocations" +
		"\nPREWHERE " + pre.sql() +
		"\nWHERE " + w.sql() + "\nORDER BY start_time DESC, start_unix_nano DESC, request_id\nLIMIT ?"
	args := append(append(pre.args, w.args...), limitBetween(f.Limit, DefaultInvocationLimit, MaxInvocationLimit))
	return query, args
}

// invocationWhere adds the filter of the invocation aggregates.
func invocationWhere(w *readWhere, f UsageFilter) {
	w.timeRange("start_time", "start_unix_nano", f.Since, f.Until)
	w.configuration(f)
}

// failedExpr is true for an invocation the platform did not report as a
// success (error, timeout, failure), or that a proxy integration answered
// with an HTTP status of 500 or more (migration 13).
const failedExpr = "((status != 'success' AND status != '') OR http_status_code >= 500)"

// functionBucketsSQL aggregates invocations per function per bucket of
// step seconds.
func functionBucketsSQL(db string, f UsageFilter, step time.Duration) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	sec := int64(step / time.Second)
	args := append([]any{sec, sec}, w.args...)
	return `SELECT intDiv(toUInt32(start_time), ?) * ? AS bucket, function_name,
    count() AS invocations,
    countIf(` + failedExpr + `) AS errors,
    countIf(status = 'timeout') AS timeouts,
    countIf(cold_start = 1) AS cold_starts,
    avgIf(init_duration_ms, cold_start = 1) AS init_ms,
    quantiles(0.5, 0.95, 0.99)(duration_ms) AS q,
    sum(duration_ms) AS duration_sum,
    max(max_memory_used_mb) AS mem_max,
    max(memory_size_mb) AS mem_configured
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY bucket, function_name
ORDER BY function_name, bucket`, args
}

// functionFiguresSQL reads the same rows as functionBucketsSQL from the
// function_figures view, for the whole minutes in [f.Since, f.Until); step
// is a whole number of minutes, so every minute falls in one bucket.
func functionFiguresSQL(db string, f UsageFilter, step time.Duration) (string, []any) {
	var w readWhere
	w.timeRange("minute", "", f.Since, f.Until)
	w.configuration(f)
	sec := int64(step / time.Second)
	args := append([]any{sec, sec}, w.args...)
	return `SELECT intDiv(toUInt32(minute), ?) * ? AS bucket, function_name,
    countMerge(invocations) AS n,
    sumMerge(errors),
    sumMerge(timeouts),
    sumMerge(cold_starts) AS cold,
    if(cold > 0, sumMerge(init_duration_ms_sum) / cold, 0),
    arrayMap(q -> toFloat64(q), quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_ms_quantiles)),
    sumMerge(duration_ms_sum),
    maxMerge(max_memory_used_mb),
    maxMerge(memory_size_mb)
FROM ` + db + `.function_figures
WHERE ` + w.sql() + `
GROUP BY bucket, function_name
ORDER BY function_name, bucket`, args
}

// functionCatalogSQL lists every function seen in the range with its latest
// configuration.
func functionCatalogSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	return `SELECT function_name, account_id, region,
    argMax(service_name, start_unix_nano), argMax(runtime, start_unix_nano),
    argMax(architecture, start_unix_nano), argMax(memory_size_mb, start_unix_nano),
    groupUniqArray(function_version), min(start_unix_nano), max(start_unix_nano), count(),
    countIf(` + failedExpr + `)
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY function_name, account_id, region
ORDER BY function_name, account_id, region`, w.args
}

// memoryProfileSQL describes how each function configuration uses its
// memory and time, from the invocations whose memory use the platform
// reported (bit 8 of unknown_figures clear): a memory use not reported is
// not a use of 0 MB.
func memoryProfileSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	w.add("bitAnd(unknown_figures, 8) = 0")
	return `SELECT account_id, region, function_name, architecture, memory_size_mb,
    count(), sum(billed_duration_ms), max(max_memory_used_mb),
    quantile(0.99)(toFloat64(max_memory_used_mb)), quantile(0.95)(duration_ms), avg(duration_ms),
    min(start_unix_nano), max(start_unix_nano)
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY account_id, region, function_name, architecture, memory_size_mb
ORDER BY account_id, region, function_name, architecture, memory_size_mb`, w.args
}

// versionsFirstSeenSQL lists every function version of the range with its
// first invocation there.
func versionsFirstSeenSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	return `SELECT function_name, function_version, min(start_unix_nano)
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY function_name, function_version
ORDER BY function_name, function_version`, w.args
}

// tenantsSQL lists the tenants of the range's invocations, sorted, at most
// limit.
func tenantsSQL(db string, f UsageFilter, limit int) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	w.add("tenant_id != ''")
	return `SELECT DISTINCT tenant_id
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
ORDER BY tenant_id
LIMIT ?`, append(w.args, limit)
}
