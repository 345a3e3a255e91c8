package storage

import (
	"time"
)

// usageSQL sums what is billed per day, account, region, function, version,
// architecture and configuration.
func usageSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	return `SELECT toDate(start_time) AS day, account_id, region, function_name, function_version,
    architecture, memory_size_mb, ephemeral_storage_mb, initialization_type,
    count(), sum(billed_duration_ms), sum(billed_init_duration_ms), sum(duration_ms), max(max_memory_used_mb)
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type
ORDER BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type`, w.args
}

// usageDailySQL reads the same rows as usageSQL from the usage_daily view,
// for the whole UTC days in [f.Since, f.Until): both must be midnights.
func usageDailySQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.add("day >= ?", f.Since.UTC().Format(time.DateOnly))
	w.add("day < ?", f.Until.UTC().Format(time.DateOnly))
	w.configuration(f)
	return usageViewSQL(db+".usage_daily", "day", w), w.args
}

// usageHourlySQL reads the same rows as usageSQL from the usage_hourly
// view, for the whole hours in [f.Since, f.Until): both must be whole hours.
func usageHourlySQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.timeRange("hour", "", f.Since, f.Until)
	w.configuration(f)
	return usageViewSQL(db+".usage_hourly", "toDate(hour) AS day", w), w.args
}

// usageViewSQL merges the rows of a usage view (migrations 6 and 9) per
// day and configuration.
func usageViewSQL(table, day string, w readWhere) string {
	return `SELECT ` + day + `, account_id, region, function_name, function_version,
    architecture, memory_size_mb, ephemeral_storage_mb, initialization_type,
    countMerge(invocations), sumMerge(billed_duration_ms_sum), sumMerge(billed_init_duration_ms_sum), sumMerge(duration_ms_sum),
    maxMerge(max_memory_used_mb)
FROM ` + table + `
WHERE ` + w.sql() + `
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type
ORDER BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type`
}

// dayCountsSQL counts the raw invocations per UTC day.
func dayCountsSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	return `SELECT toDate(start_time) AS day, count()
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY day`, w.args
}

// billedEstimatesSQL counts, per day, function and version, the
// invocations whose billed duration the platform did not report (bit 2 of
// unknown_figures) and sums the estimate stored for them.
func billedEstimatesSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	w.add("bitAnd(unknown_figures, 2) != 0")
	return `SELECT toDate(start_time) AS day, account_id, region, function_name, function_version,
    count(), sum(billed_duration_ms)
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY day, account_id, region, function_name, function_version
ORDER BY day, account_id, region, function_name, function_version`, w.args
}

// snapStartUsageSQL counts the invocations of restored environments, and
// the restores (their cold starts), per day and configuration.
func snapStartUsageSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	w.add("initialization_type = ?", "snap-start")
	return `SELECT toDate(start_time) AS day, account_id, region, function_name, function_version, architecture,
    memory_size_mb, ephemeral_storage_mb, any(runtime), count(), countIf(cold_start = 1)
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb
ORDER BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb`, w.args
}

// tenantUsageSQL sums the invocations that name a tenant per tenant and
// configuration.
func tenantUsageSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	w.add("tenant_id != ?", "")
	return `SELECT tenant_id, account_id, region, function_name, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type, count(), countIf(cold_start = 1), countIf(` + failedExpr + `), sum(billed_duration_ms)
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY tenant_id, account_id, region, function_name, architecture, memory_size_mb, ephemeral_storage_mb, initialization_type
ORDER BY tenant_id, account_id, region, function_name, architecture, memory_size_mb, ephemeral_storage_mb, initialization_type`, w.args
}

func overheadSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.timeRange("start_time", "start_unix_nano", f.Since, f.Until)
	w.equal("function_name", f.FunctionName)
	// measured: the runtime's duration and the invocation's are known
	// (unknown_figures bit 1) and the record is complete: an incomplete
	// record (no platform.report, migration 13) takes its duration from
	// runtimeDone, so it would add nothing by construction. The report's
	// duration leaves INIT out and is billed rounded up to 1 ms, so the
	// extensions' billed time after the runtime is ceil(duration) -
	// ceil(runtime duration).
	const measured = "runtime_duration_ms > 0 AND bitAnd(unknown_figures, 1) = 0 AND incomplete = 0"
	const added = "if(" + measured + ", greatest(ceil(duration_ms) - ceil(runtime_duration_ms), 0), 0)"
	// Billed INIT: what the record says, or what the billed duration holds
	// beyond the invocation's own (Lambda bills INIT in it; the extension
	// does not fill billed_init_duration_ms), unless that is an estimate.
	const billedInit = "greatest(billed_init_duration_ms, if(bitAnd(unknown_figures, 3) = 0, toFloat64(billed_duration_ms) - ceil(duration_ms), 0))"
	const initBilled = "if(cold_start = 1, least(extension_init_ms, greatest(" + billedInit + ", 0)), 0)"
	return `SELECT toDate(start_time) AS day, function_name, account_id, region, architecture,
    count() AS invocations,
    toUInt64(countIf(` + measured + `)) AS measured,
    sum(` + added + `) AS added_ms,
    sum(` + added + ` * memory_size_mb) / 1024000 AS added_gbs,
    toUInt64(countIf(cold_start = 1 AND ` + measured + `)) AS measured_cold,
    sum(if(cold_start = 1, ` + added + `, 0)) AS added_cold_ms,
    toUInt64(countIf(cold_start = 1 AND extension_init_ms > 0)) AS cold_starts,
    sum(if(cold_start = 1, extension_init_ms, 0)) AS init_ms,
    sum(` + initBilled + ` * memory_size_mb) / 1024000 AS init_gbs,
    toUInt64(sum(tel_bytes_shipped)) AS bytes_shipped
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY day, function_name, account_id, region, architecture
ORDER BY day, function_name, account_id, region, architecture`, w.args
}

// costHoursSQL reads the cost_hours view (migration 30) for the whole
// hours in [f.Since, f.Until) (both must be whole hours), per UTC day and
// configuration with the runtime: the sums of usageSQL, then the cold
// starts and the invocations whose billed duration is an estimate with
// their estimate.
func costHoursSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.timeRange("hour", "", f.Since, f.Until)
	w.configuration(f)
	return `SELECT toDate(hour) AS day, account_id, region, function_name, function_version,
    architecture, memory_size_mb, ephemeral_storage_mb, initialization_type, runtime,
    countMerge(invocations), sumMerge(billed_duration_ms_sum), sumMerge(billed_init_duration_ms_sum), sumMerge(duration_ms_sum),
    maxMerge(max_memory_used_mb), sumMerge(cold_starts), sumMerge(estimated), sumMerge(estimated_billed_ms)
FROM ` + db + `.cost_hours
WHERE ` + w.sql() + `
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type, runtime`, w.args
}

// StreamFreeBytes is the part of a response Lambda does not charge for
// (6 MiB; a buffered response can be no larger): a streamed response pays
// for the bytes beyond it. Migration 39 has the same figure.
const StreamFreeBytes = 6 << 20

// streamingSQL counts, per UTC day and function version, the raw
// invocations whose response went beyond StreamFreeBytes and sums the
// bytes beyond it. A response's size is produced_bytes (runtimeDone's) or
// response_size (the Runtime API proxy's, there when runtimeDone was
// lost), the larger.
func streamingSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	invocationWhere(&w, f)
	w.add("greatest(produced_bytes, response_size) > 6291456")
	return `SELECT toDate(start_time) AS day, account_id, region, function_name, function_version,
    count(), sum(toUInt64(greatest(produced_bytes, response_size) - 6291456))
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY day, account_id, region, function_name, function_version
ORDER BY day, account_id, region, function_name, function_version`, w.args
}

// streamingHoursSQL reads the same rows as streamingSQL from the
// streaming_hours view (migration 39), for the whole hours in [f.Since,
// f.Until): both must be whole hours.
func streamingHoursSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.timeRange("hour", "", f.Since, f.Until)
	w.configuration(f)
	return `SELECT toDate(hour) AS day, account_id, region, function_name, function_version,
    countMerge(streamed), sumMerge(billed_bytes)
FROM ` + db + `.streaming_hours
WHERE ` + w.sql() + `
GROUP BY day, account_id, region, function_name, function_version
ORDER BY day, account_id, region, function_name, function_version`, w.args
}
