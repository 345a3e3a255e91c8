package storage

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// SQL text of the query layer's reads over the raw spans and invocations
// tables (trace search, span edges, function buckets, catalog, usage). Every
// builder returns fixed text chosen only by which filter fields are set; the
// values themselves are returned as arguments. read_sql_test.go proves that
// hostile values leave the text unchanged.

// readWhere collects the conditions of one query and their arguments.
type readWhere struct {
	conds []string
	args  []any
}

func (w *readWhere) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// seconds bounds a DateTime column to [since, until) at second precision,
// which prunes partitions and the primary key.
func (w *readWhere) seconds(col string, since, until time.Time) {
	if !since.IsZero() {
		w.add(col+" >= toDateTime(?)", since.Unix())
	}
	if !until.IsZero() {
		w.add(col+" < toDateTime(?)", ceilUnix(until))
	}
}

// nanos adds the precise bounds on a nanosecond column.
func (w *readWhere) nanos(col string, since, until time.Time) {
	if !since.IsZero() {
		w.add(col+" >= ?", unixNano(since))
	}
	if !until.IsZero() {
		w.add(col+" < ?", unixNano(until))
	}
}

func (w *readWhere) sql() string {
	if len(w.conds) == 0 {
		return "1"
	}
	return strings.Join(w.conds, "\n  AND ")
}

// ceilUnix is t in whole seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// spanSourceExpr names what emitted a span: its function, else its service.
const spanSourceExpr = "if(function_name != '', function_name, service_name)"

// rootParentExpr is the parent span ID of a root span.
const rootParentExpr = "unhex('0000000000000000')"

// spanConditions adds the per-span conditions of a trace search.
func spanConditions(w *readWhere, db string, f TraceSearchFilter) {
	w.seconds("start_time", f.Since, f.Until)
	w.nanos("start_unix_nano", f.Since, f.Until)
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	if f.ServiceName != "" {
		w.add("service_name = ?", f.ServiceName)
	}
	if f.SpanName != "" {
		w.add("name = ?", f.SpanName)
	}
	if f.StatusCode >= 0 {
		w.add("status_code = ?", uint8(f.StatusCode))
	}
	if f.MinDuration > 0 {
		w.add("duration_ns >= ?", uint64(f.MinDuration))
	}
	if f.MaxDuration > 0 {
		w.add("duration_ns <= ?", uint64(f.MaxDuration))
	}
	keys := make([]string, 0, len(f.Attributes))
	for k := range f.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w.add("arrayExists((k, v) -> k = ? AND v = ?, attributes.key, attributes.value)", k, f.Attributes[k])
	}
	if f.ColdStartOnly {
		var inv readWhere
		inv.seconds("start_time", f.Since.Add(-coldStartMargin), f.Until.Add(coldStartMargin))
		inv.add("cold_start = 1")
		w.add("request_id IN (SELECT request_id FROM "+db+".invocations WHERE "+inv.sql()+")", inv.args...)
	}
}

// coldStartMargin widens the invocation range a cold-start search looks in,
// since an invocation starts a little before its spans.
const coldStartMargin = time.Minute

// traceSearchSQL finds the traces with a span matching f, newest first, and
// summarises each over all of its spans in the search range widened by
// TraceSearchMargin on both sides.
func traceSearchSQL(db string, f TraceSearchFilter) (string, []any) {
	var inner readWhere
	spanConditions(&inner, db, f)
	var outer readWhere
	outer.seconds("start_time", f.Since.Add(-TraceSearchMargin), f.Until.Add(TraceSearchMargin))
	args := append([]any{}, outer.args...)
	args = append(args, inner.args...)
	args = append(args, f.Offset, f.Limit)
	return `SELECT trace_id,
    min(start_unix_nano) AS first_ns,
    max(start_unix_nano + duration_ns) AS last_ns,
    count() AS spans,
    countIf(status_code = 2) AS errors,
    argMinIf(name, start_unix_nano, parent_span_id = ` + rootParentExpr + `) AS root_name,
    argMinIf(` + spanSourceExpr + `, start_unix_nano, parent_span_id = ` + rootParentExpr + `) AS root_source,
    argMin(name, start_unix_nano) AS first_name,
    argMin(` + spanSourceExpr + `, start_unix_nano) AS first_source,
    groupUniqArray(` + spanSourceExpr + `) AS sources
FROM ` + db + `.spans
WHERE ` + outer.sql() + `
  AND trace_id IN (
    SELECT trace_id FROM (
        SELECT trace_id, min(start_unix_nano) AS hit_ns
        FROM ` + db + `.spans
        WHERE ` + inner.sql() + `
        GROUP BY trace_id
        ORDER BY hit_ns DESC, trace_id
        LIMIT ?, ?))
GROUP BY trace_id
ORDER BY first_ns DESC, trace_id`, args
}

// spanEdgesSQL joins every span with its parent and keeps the pairs whose
// sources differ: one row per caller and callee.
func spanEdgesSQL(db string, f SpanEdgeFilter) (string, []any) {
	var w readWhere
	w.seconds("start_time", f.Since, f.Until)
	w.nanos("start_unix_nano", f.Since, f.Until)
	args := append(append([]any{}, w.args...), w.args...)
	return `SELECT p_source, c_source,
    count() AS calls,
    countIf(c_status = 2) AS errors,
    quantiles(0.5, 0.95, 0.99)(c_duration_ns) AS q
FROM (
    SELECT trace_id, span_id, ` + spanSourceExpr + ` AS p_source
    FROM ` + db + `.spans
    WHERE ` + w.sql() + `)
ALL INNER JOIN (
    SELECT trace_id, parent_span_id AS span_id, ` + spanSourceExpr + ` AS c_source,
        status_code AS c_status, duration_ns AS c_duration_ns
    FROM ` + db + `.spans
    WHERE ` + w.sql() + `
      AND parent_span_id != ` + rootParentExpr + `)
USING (trace_id, span_id)
WHERE p_source != c_source
GROUP BY p_source, c_source
ORDER BY p_source, c_source`, args
}

// resourceAttributeKeys name, in order of preference, what a client span
// called when that is not another traced function or service.
var resourceAttributeKeys = []string{"peer.service", "db.system", "messaging.system", "rpc.service", "server.address", "net.peer.name"}

// resourceCallsSQL counts client and producer spans by the downstream
// resource their attributes name.
func resourceCallsSQL(db string, f SpanEdgeFilter) (string, []any) {
	var w readWhere
	w.seconds("start_time", f.Since, f.Until)
	w.nanos("start_unix_nano", f.Since, f.Until)
	w.add("kind IN (3, 4)")
	var picks []string
	for _, k := range resourceAttributeKeys {
		picks = append(picks, "attributes.value[indexOf(attributes.key, '"+k+"')]")
	}
	return `SELECT source, resource,
    count() AS calls,
    countIf(status_code = 2) AS errors,
    quantiles(0.5, 0.95, 0.99)(duration_ns) AS q
FROM (
    SELECT ` + spanSourceExpr + ` AS source, status_code, duration_ns,
        arrayFirst(x -> x != '', [` + strings.Join(picks, ", ") + `]) AS resource
    FROM ` + db + `.spans
    WHERE ` + w.sql() + `)
WHERE resource != ''
GROUP BY source, resource
ORDER BY source, resource`, w.args
}

// invocationWhere adds the filter of the invocation aggregates.
func invocationWhere(w *readWhere, f UsageFilter) {
	w.seconds("start_time", f.Since, f.Until)
	w.nanos("start_unix_nano", f.Since, f.Until)
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	if f.FunctionVersion != "" {
		w.add("function_version = ?", f.FunctionVersion)
	}
	if f.AccountID != "" {
		w.add("account_id = ?", f.AccountID)
	}
	if f.Region != "" {
		w.add("region = ?", f.Region)
	}
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
	w.seconds("minute", f.Since, f.Until)
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	if f.FunctionVersion != "" {
		w.add("function_version = ?", f.FunctionVersion)
	}
	if f.AccountID != "" {
		w.add("account_id = ?", f.AccountID)
	}
	if f.Region != "" {
		w.add("region = ?", f.Region)
	}
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
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	if f.FunctionVersion != "" {
		w.add("function_version = ?", f.FunctionVersion)
	}
	if f.AccountID != "" {
		w.add("account_id = ?", f.AccountID)
	}
	if f.Region != "" {
		w.add("region = ?", f.Region)
	}
	return `SELECT day, account_id, region, function_name, function_version,
    architecture, memory_size_mb, ephemeral_storage_mb, initialization_type,
    countMerge(invocations), sumMerge(billed_duration_ms_sum), sumMerge(billed_init_duration_ms_sum), sumMerge(duration_ms_sum),
    maxMerge(max_memory_used_mb)
FROM ` + db + `.usage_daily
WHERE ` + w.sql() + `
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type
ORDER BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type`, w.args
}

// usageHourlySQL reads the same rows as usageSQL from the usage_hourly
// view, for the whole hours in [f.Since, f.Until): both must be whole hours.
func usageHourlySQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.seconds("hour", f.Since, f.Until)
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	if f.FunctionVersion != "" {
		w.add("function_version = ?", f.FunctionVersion)
	}
	if f.AccountID != "" {
		w.add("account_id = ?", f.AccountID)
	}
	if f.Region != "" {
		w.add("region = ?", f.Region)
	}
	return `SELECT toDate(hour) AS day, account_id, region, function_name, function_version,
    architecture, memory_size_mb, ephemeral_storage_mb, initialization_type,
    countMerge(invocations), sumMerge(billed_duration_ms_sum), sumMerge(billed_init_duration_ms_sum), sumMerge(duration_ms_sum),
    maxMerge(max_memory_used_mb)
FROM ` + db + `.usage_hourly
WHERE ` + w.sql() + `
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type
ORDER BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type`, w.args
}

// usageDailyVersion is the migration that creates the usage_daily view.
const usageDailyVersion = 6

// usageDailyAppliedSQL counts the records of the usage_daily migration.
func usageDailyAppliedSQL(db string) (string, []any) {
	return `SELECT count() FROM ` + db + `.schema_migrations WHERE version = ?`, []any{uint32(usageDailyVersion)}
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

func readErr(action string, err error) error { return fmt.Errorf("%s: %w", action, err) }

// functionTriggersSQL lists, per function, the faas.trigger values (http,
// pubsub, datasource, timer, other) its server spans carry.
func functionTriggersSQL(db string, f SpanEdgeFilter) (string, []any) {
	var w readWhere
	w.seconds("start_time", f.Since, f.Until)
	w.nanos("start_unix_nano", f.Since, f.Until)
	w.add("function_name != ''")
	w.add("has(attributes.key, 'faas.trigger')")
	return `SELECT function_name, groupUniqArray(attributes.value[indexOf(attributes.key, 'faas.trigger')])
FROM ` + db + `.spans
WHERE ` + w.sql() + `
GROUP BY function_name
ORDER BY function_name`, w.args
}

// Attributes a client or producer span names its callee in, in order of
// preference, as migration 10's service_map_minutes view reads them: the
// first two name a traced function or service, the rest a downstream
// resource.
var (
	serviceMapPeerKeys     = []string{"peer.service", "faas.invoked_name"}
	serviceMapResourceKeys = []string{"db.system", "db.system.name", "messaging.system", "rpc.service", "server.address", "net.peer.name"}
)

func attributeValueExpr(key string) string {
	return "attributes.value[indexOf(attributes.key, '" + key + "')]"
}

// serviceMapCalleeExpr is the callee a span names, empty when none;
// serviceMapResourceExpr is 1 when that callee is a downstream resource.
var serviceMapCalleeExpr, serviceMapResourceExpr = func() (string, string) {
	keys := append(slices.Clone(serviceMapPeerKeys), serviceMapResourceKeys...)
	var picks []string
	for _, k := range keys[:len(keys)-1] {
		picks = append(picks, attributeValueExpr(k)+" != ''", attributeValueExpr(k))
	}
	picks = append(picks, attributeValueExpr(keys[len(keys)-1]))
	var peers []string
	for _, k := range serviceMapPeerKeys {
		peers = append(peers, attributeValueExpr(k)+" = ''")
	}
	return "multiIf(" + strings.Join(picks, ", ") + ")", "toUInt8(" + strings.Join(peers, " AND ") + ")"
}()

// timeRange is [since, until).
type timeRange struct{ since, until time.Time }

// serviceMapParts says where each part of a service map's range is read
// from: whole hours from service_map_hours, whole minutes from
// service_map_minutes, the rest from raw spans.
type serviceMapParts struct {
	hours, minutes, raw []timeRange
}

// serviceMapSQL merges the service map's edges over the parts' ranges,
// the raw spans computed as the views compute them (migration 10): one row
// per caller and callee, a resource only when every span naming it named a
// resource.
func serviceMapSQL(db string, p serviceMapParts) (string, []any) {
	var (
		branches []string
		args     []any
	)
	view := func(table, col string, ranges []timeRange) {
		for _, r := range ranges {
			branches = append(branches, `    SELECT CAST(caller AS String) AS caller, CAST(callee AS String) AS callee, resource,
        calls, errors, duration_ns_quantiles AS q
    FROM `+db+`.`+table+`
    WHERE `+col+` >= toDateTime(?) AND `+col+` < toDateTime(?)`)
			args = append(args, r.since.Unix(), r.until.Unix())
		}
	}
	view("service_map_hours", "hour", p.hours)
	view("service_map_minutes", "minute", p.minutes)
	for _, r := range p.raw {
		var w readWhere
		w.seconds("start_time", r.since, r.until)
		w.nanos("start_unix_nano", r.since, r.until)
		w.add("kind IN (3, 4)")
		branches = append(branches, `    SELECT caller, callee, resource,
        countState() AS calls,
        sumState(toUInt64(status_code = 2)) AS errors,
        quantilesTDigestState(0.5, 0.95, 0.99)(toFloat64(duration_ns)) AS q
    FROM (
        SELECT `+spanSourceExpr+` AS caller,
            `+serviceMapCalleeExpr+` AS callee,
            `+serviceMapResourceExpr+` AS resource,
            status_code, duration_ns
        FROM `+db+`.spans
        WHERE `+strings.ReplaceAll(w.sql(), "\n", "\n    ")+`)
    WHERE callee != ''
    GROUP BY caller, callee, resource`)
		args = append(args, w.args...)
	}
	return `SELECT caller, callee, min(resource) AS resource,
    countMerge(calls) AS calls,
    sumMerge(errors) AS errors,
    quantilesTDigestMerge(0.5, 0.95, 0.99)(q) AS q
FROM (
` + strings.Join(branches, "\n    UNION ALL\n") + `)
GROUP BY caller, callee
ORDER BY caller, callee`, args
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

// durableExecutionsSQL groups the inferred spans of durable executions by
// the trace their invocations share, latest first.
func durableExecutionsSQL(db string, f DurableFilter) (string, []any) {
	var w readWhere
	w.seconds("start_time", f.Since, f.Until)
	w.nanos("start_unix_nano", f.Since, f.Until)
	w.add("has(attributes.key, ?)", attrDurableARN)
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	return `SELECT trace_id, any(` + attributeValueExpr(attrDurableARN) + `), any(account_id), any(region), any(function_name),
    count(), countIf(` + attributeValueExpr("aws.lambda.durable.replay") + ` = 'true'),
    max(toUInt64OrZero(` + attributeValueExpr("aws.lambda.durable.operations") + `)),
    min(start_unix_nano), max(start_unix_nano + duration_ns)
FROM ` + db + `.spans
WHERE ` + w.sql() + `
GROUP BY trace_id
ORDER BY max(start_unix_nano) DESC, trace_id
LIMIT ?`, append(w.args, f.Limit)
}

// attrDurableARN is the attribute the inferred span of a durable
// execution's invocation names the execution in.
const attrDurableARN = "aws.lambda.durable.execution.arn"
