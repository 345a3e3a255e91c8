SELECT trace_id,
    min(start_unix_nano) AS first_ns,
    max(start_unix_nano + duration_ns) AS last_ns,
    count() AS spans,
    countIf(status_code = 2) AS errors,
    argMinIf(name, start_unix_nano, parent_span_id = unhex('0000000000000000')) AS root_name,
    argMinIf(if(function_name != '', function_name, service_name), start_unix_nano, parent_span_id = unhex('0000000000000000')) AS root_source,
    argMin(name, start_unix_nano) AS first_name,
    argMin(if(function_name != '', function_name, service_name), start_unix_nano) AS first_source,
    groupUniqArray(if(function_name != '', function_name, service_name)) AS sources
FROM lambdascope.spans
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND trace_id IN (
    SELECT trace_id FROM (
        SELECT trace_id, min(start_unix_nano) AS hit_ns
        FROM lambdascope.spans
        PREWHERE has(attributes.value, ?)
        WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
  AND service_name = ?
  AND name = ?
  AND status_code = ?
  AND duration_ns >= ?
  AND duration_ns <= ?
  AND arrayExists((k, v) -> k = ? AND v = ?, attributes.key, attributes.value)
  AND request_id IN (SELECT request_id FROM lambdascope.invocations WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND cold_start = 1)
        GROUP BY trace_id
        ORDER BY hit_ns DESC, trace_id
        LIMIT ?, ?))
GROUP BY trace_id
ORDER BY first_ns DESC, trace_id
