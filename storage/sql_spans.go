package storage

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

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

// selectSpansInTraceHoursSQL reads one trace's spans in the hours
// trace_hours (migration 17) holds for it, in one round trip. The hours are
// a set the primary key of spans uses (toStartOfHour(start_time) leads
// it), so only the parts holding them are opened and, in each, the
// granules of the trace. A trace the table does not know reads nothing.
// Its two arguments are the trace ID in hex. in is "IN", or "GLOBAL IN" on
// a cluster, where trace_hours is a Distributed table (a local query's
// GLOBAL IN does not use the key).
func selectSpansInTraceHoursSQL(db, in string) string {
	return "SELECT " + spanSelectColumns + "\nFROM " + db + ".spans\n" +
		"PREWHERE trace_id = unhex(?)\nWHERE " + traceHoursSQL(db, in, "trace_key = "+traceKeyExpr("unhex(?)")) + "\n" +
		"ORDER BY start_unix_nano, span_id"
}

// traceHoursSQL keeps the spans starting in the hours trace_hours
// (migration 17) holds for the traces cond selects.
func traceHoursSQL(db, in, cond string) string {
	return "toStartOfHour(start_time) " + in + " (SELECT hour FROM " + db + ".trace_hours WHERE " + cond + ")"
}

// traceKeyExpr is the trace_hours key of a trace ID: its last 8 bytes.
func traceKeyExpr(traceID string) string {
	return "toFixedString(substring(" + traceID + ", 9, 8), 8)"
}

// selectSpansInTraceWindowSQL reads one trace's spans inside its window
// from trace_windows (migration 7) in one round trip. A trace the table does
// not know gets an empty window and no spans. Its three arguments are the
// trace ID in hex.
func selectSpansInTraceWindowSQL(db string) string {
	return "SELECT " + spanSelectColumns + "\nFROM " + db + ".spans\n" +
		"PREWHERE trace_id = unhex(?)\nWHERE " + traceWindowSQL(db, "trace_id = unhex(?)") + "\n" +
		"ORDER BY start_unix_nano, span_id"
}

// traceWindowSQL bounds start_time to the seconds [first, last + 1) of the
// traces trace_windows (migration 7) knows that cond selects, as scalar
// subqueries: the server evaluates them first, so the window prunes
// partitions and the primary key.
func traceWindowSQL(db, cond string) string {
	window := func(expr string) string {
		return "(SELECT toDateTime(" + expr + ") FROM " + db + ".trace_windows WHERE " + cond + ")"
	}
	return "start_time >= " + window("intDiv(minMerge(start_min), 1000000000)") +
		"\n  AND start_time < " + window("intDiv(maxMerge(end_max), 1000000000) + 1")
}

// selectTraceIndexWindowSQL reads a trace's time window from trace_index
// (migration 3), for the traces trace_windows does not know.
func selectTraceIndexWindowSQL(db string) string {
	return "SELECT minMerge(start_min), maxMerge(end_max)\nFROM " + db + ".trace_index\nWHERE trace_id = unhex(?)\nGROUP BY trace_id"
}

// selectSpansInWindowSQL is selectSpansByTraceIDSQL narrowed to the
// seconds of w, so that only the partitions and hours of the trace are read.
func selectSpansInWindowSQL(db string, traceID [16]byte, w interval) (string, []any) {
	var where readWhere
	where.timeRange("start_time", "", w.since, w.until)
	return "SELECT " + spanSelectColumns + "\nFROM " + db + ".spans\n" +
			"PREWHERE trace_id = unhex(?)\nWHERE " + where.sql() + "\nORDER BY start_unix_nano, span_id",
		append([]any{hexID(traceID[:])}, where.args...)
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
// for. The spans are read in the hours trace_hours (migration 17) holds
// for the traces, and inside the windows trace_windows (migration 7,
// filled back from migration 3) holds for traces stored before migration
// 17, so that only their partitions and hours are searched; a trace
// neither knows reads nothing. One placeholder per ID: the values are
// bound, never placed in the text. The request ID of a span the extension
// inferred from an event is the one it names in lambdascope.invocation_id.
// in is as for selectSpansInTraceHoursSQL.
func selectSpansByRefSQL(db, in string, refs []SpanRef) (string, []any) {
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
	keyIn := "trace_key IN (" + strings.TrimSuffix(strings.Repeat(traceKeyExpr("unhex(?)")+", ", len(traceArgs)), ", ") + ")"
	args := append(append(append(append(append([]any{}, traceArgs...), spanArgs...), traceArgs...), traceArgs...), traceArgs...)
	return `SELECT trace_id, span_id, start_unix_nano, duration_ns, name, kind, status_code,
    service_name, function_name,
    if(request_id != '', request_id, attributes.value[indexOf(attributes.key, 'lambdascope.invocation_id')])
FROM ` + db + `.spans
PREWHERE ` + traceIn + ` AND span_id IN (` + marks(len(spanArgs)) + `)
WHERE ` + traceHoursSQL(db, in, keyIn) + `
  OR (` + traceWindowSQL(db, traceIn) + `)
ORDER BY start_unix_nano, trace_id, span_id
LIMIT 1 BY trace_id, span_id`, args
}

// spanSourceExpr names what emitted a span: its function, else its service.
const spanSourceExpr = "if(function_name != '', function_name, service_name)"

// rootParentExpr is the parent span ID of a root span.
const rootParentExpr = "unhex('0000000000000000')"

// coldStartMargin widens the invocation range a cold-start search looks in,
// since an invocation starts a little before its spans.
const coldStartMargin = time.Minute

// traceSearchSQL finds the traces with a span matching f, newest first:
// each trace's ID and the start of its first matching span, f.Limit of
// them from f.Offset on. traceSummarySQL then sums up the traces found.
//
// The conditions on the narrow columns (status, duration, names, an
// attribute's value) are read first (PREWHERE): the trace ID, the start
// and any wider column are read only for the granules holding a match.
// An attribute's value is looked for in the values column alone; its
// keys are read with the rest.
//
// With hours, only the spans of those pairs of an hour and a trace are
// searched (traceHourPairs).
func traceSearchSQL(db string, f TraceSearchFilter, hours []traceHour) (string, []any) {
	var pre, where readWhere
	if f.StatusCode >= 0 {
		pre.add("status_code = ?", uint8(f.StatusCode))
	}
	if f.MinDuration > 0 {
		pre.add("duration_ns >= ?", uint64(f.MinDuration))
	}
	if f.MaxDuration > 0 {
		pre.add("duration_ns <= ?", uint64(f.MaxDuration))
	}
	pre.equal("name", f.SpanName)
	pre.equal("function_name", f.FunctionName)
	pre.equal("service_name", f.ServiceName)
	keys := slices.Sorted(maps.Keys(f.Attributes))
	for _, k := range keys {
		pre.add("has(attributes.value, ?)", f.Attributes[k])
	}
	where.timeRange("start_time", "start_unix_nano", f.Since, f.Until)
	for _, k := range keys {
		where.add("arrayExists((k, v) -> k = ? AND v = ?, attributes.key, attributes.value)", k, f.Attributes[k])
	}
	if f.ColdStartOnly {
		var inv readWhere
		inv.timeRange("start_time", "", f.Since.Add(-coldStartMargin), f.Until.Add(coldStartMargin))
		inv.add("cold_start = 1")
		where.add("request_id IN (SELECT request_id FROM "+db+".invocations WHERE "+inv.sql()+")", inv.args...)
	}
	if hours != nil {
		traceHourPairs(&where, hours)
	}
	query := "SELECT trace_id, min(start_unix_nano) AS hit_ns\nFROM " + db + ".spans"
	if len(pre.conds) > 0 {
		query += "\nPREWHERE " + pre.sql()
	}
	query += "\nWHERE " + where.sql() + "\nGROUP BY trace_id\nORDER BY hit_ns DESC, trace_id\nLIMIT ?, ?"
	return query, append(append(pre.args, where.args...), f.Offset, f.Limit)
}

// traceHour is an hour a span of a trace starts in.
type traceHour struct {
	traceID [16]byte
	hour    time.Time
}

// selectTraceHoursSQL reads the hours trace_hours (migration 17) holds for
// the traces of ids inside [since, until): trace key and hour. in is as for
// selectSpansInTraceHoursSQL.
func selectTraceHoursSQL(db string, ids [][16]byte, since, until time.Time) (string, []any) {
	args := make([]any, 0, len(ids)+2)
	for _, id := range ids {
		args = append(args, hexID(id[8:]))
	}
	var w readWhere
	w.add("trace_key IN (" + strings.TrimSuffix(strings.Repeat("unhex(?), ", len(ids)), ", ") + ")")
	w.timeRange("hour", "", since.Truncate(time.Hour), until)
	return "SELECT trace_key, hour\nFROM " + db + ".trace_hours\nWHERE " + w.sql(), append(args, w.args...)
}

// traceHourPairs keeps the spans of the pairs of hours: those of each
// trace starting in its hour. The pairs lead the key of spans.
func traceHourPairs(w *readWhere, hours []traceHour) {
	pairs := make([]any, 0, 2*len(hours))
	for _, h := range hours {
		pairs = append(pairs, h.hour.Unix(), hexID(h.traceID[:]))
	}
	w.add("(toStartOfHour(start_time), trace_id) IN ("+
		strings.TrimSuffix(strings.Repeat("(toDateTime(?), unhex(?)), ", len(hours)), ", ")+")", pairs...)
}

// traceSummarySQL sums up the traces of ids over all of their spans in the
// search range widened by TraceSearchMargin on both sides, newest first.
// With hours (every hour a span of each trace starts in, from
// trace_hours), only the granules of each trace in its hours are read:
// the pairs (hour, trace ID) lead the key of spans. Without, the trace IDs
// are looked for in every hour of the range.
func traceSummarySQL(db string, f TraceSearchFilter, ids [][16]byte, hours []traceHour) (string, []any) {
	var w readWhere
	w.timeRange("start_time", "", f.Since.Add(-TraceSearchMargin), f.Until.Add(TraceSearchMargin))
	if hours != nil {
		traceHourPairs(&w, hours)
	} else {
		marks := make([]any, len(ids))
		for i, id := range ids {
			marks[i] = hexID(id[:])
		}
		w.add("trace_id IN ("+strings.TrimSuffix(strings.Repeat("unhex(?), ", len(ids)), ", ")+")", marks...)
	}
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
WHERE ` + w.sql() + `
GROUP BY trace_id
ORDER BY first_ns DESC, trace_id`, w.args
}

// spanEdgesSQL joins every span with its parent and keeps the pairs whose
// sources differ: one row per caller and callee.
func spanEdgesSQL(db string, f SpanEdgeFilter) (string, []any) {
	var w readWhere
	w.timeRange("start_time", "start_unix_nano", f.Since, f.Until)
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
	w.timeRange("start_time", "start_unix_nano", f.Since, f.Until)
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

// functionTriggersSQL lists, per function, the faas.trigger values (http,
// pubsub, datasource, timer, other) its server spans carry.
func functionTriggersSQL(db string, f SpanEdgeFilter) (string, []any) {
	var w readWhere
	w.timeRange("start_time", "start_unix_nano", f.Since, f.Until)
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

// serviceMapParts says where each part of a service map's range is read
// from: whole hours from service_map_hours, whole minutes from
// service_map_minutes, the rest from raw spans.
type serviceMapParts struct {
	hours, minutes, raw []interval
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
	view := func(table, col string, ranges []interval) {
		for _, r := range ranges {
			var w readWhere
			w.timeRange(col, "", r.since, r.until)
			branches = append(branches, `    SELECT CAST(caller AS String) AS caller, CAST(callee AS String) AS callee, resource,
        calls, errors, duration_ns_quantiles AS q
    FROM `+db+`.`+table+`
    WHERE `+strings.ReplaceAll(w.sql(), "\n", "\n    "))
			args = append(args, w.args...)
		}
	}
	view("service_map_hours", "hour", p.hours)
	view("service_map_minutes", "minute", p.minutes)
	for _, r := range p.raw {
		var w readWhere
		w.timeRange("start_time", "start_unix_nano", r.since, r.until)
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
        WHERE `+strings.ReplaceAll(w.sql(), "\n", "\n        ")+`)
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

// durableExecutionsSQL groups the inferred spans of durable executions by
// the trace their invocations share, latest first.
func durableExecutionsSQL(db string, f DurableFilter) (string, []any) {
	var w readWhere
	w.timeRange("start_time", "start_unix_nano", f.Since, f.Until)
	w.add("has(attributes.key, ?)", attrDurableARN)
	w.equal("function_name", f.FunctionName)
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

// pickerSQL lists the distinct values of expr over the spans matching f,
// sorted, at most f.Limit. expr is one of this file's constants, never user
// input; when key is true the spans must carry attribute f.Key.
func pickerSQL(db, expr string, f PickerFilter, key bool) (string, []any) {
	var w readWhere
	w.timeRange("start_time", "start_unix_nano", f.Since, f.Until)
	w.equal("function_name", f.FunctionName)
	var args []any
	if key {
		args = append(args, f.Key)
		w.add("has(attributes.key, ?)", f.Key)
	}
	args = append(args, w.args...)
	args = append(args, f.Limit)
	return `SELECT DISTINCT ` + expr + ` AS v
FROM ` + db + `.spans
WHERE ` + w.sql() + `
ORDER BY v
LIMIT ?`, args
}

// Expressions the pickers list.
const (
	pickerSpanNameExpr  = "name"
	pickerServiceExpr   = "service_name"
	pickerAttrKeyExpr   = "arrayJoin(attributes.key)"
	pickerAttrValueExpr = "attributes.value[indexOf(attributes.key, ?)]"
)

// selectTraceSpanKeysSQL is the narrow first read of a trace's spans in
// the hours trace_hours holds for it: each span's part, hour, ID, start,
// duration, request ID and function, in the order of the spans reads.
// Its arguments are as for selectSpansInTraceHoursSQL.
func selectTraceSpanKeysSQL(db, in string) string {
	return "SELECT _part, toStartOfHour(start_time), span_id, start_unix_nano, duration_ns, request_id, function_name\n" +
		"FROM " + db + ".spans\n" +
		"PREWHERE trace_id = unhex(?)\nWHERE " + traceHoursSQL(db, in, "trace_key = "+traceKeyExpr("unhex(?)")) +
		spanOrderSQL + "\nLIMIT " + strconv.Itoa(traceLayoutMaxRows+1)
}

// selectSpansInPartsSQL reads one trace's spans in the parts and hours of
// l alone: a part is named by the virtual column _part, which the server
// checks before it opens any of the part's files, so that the wide
// columns are read only in the parts holding the trace.
func selectSpansInPartsSQL(db string, traceID [16]byte, l TraceLayout) (string, []any) {
	args := make([]any, 0, 1+len(l.Parts)+len(l.Hours))
	args = append(args, hexID(traceID[:]))
	for _, p := range l.Parts {
		args = append(args, p)
	}
	for _, h := range l.Hours {
		args = append(args, h.Unix())
	}
	return "SELECT " + spanSelectColumns + "\nFROM " + db + ".spans\n" +
		"PREWHERE trace_id = unhex(?)\n" +
		"WHERE _part IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(l.Parts)), ", ") + ")\n" +
		"  AND toStartOfHour(start_time) IN (" + strings.TrimSuffix(strings.Repeat("toDateTime(?), ", len(l.Hours)), ", ") + ")" +
		spanOrderSQL, args
}
