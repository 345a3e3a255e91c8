SELECT _part, toStartOfHour(start_time), span_id, start_unix_nano, duration_ns, request_id, function_name
FROM lambdascope.spans
PREWHERE trace_id = unhex(?)
WHERE toStartOfHour(start_time) IN (SELECT hour FROM lambdascope.trace_hours WHERE trace_key = toFixedString(substring(unhex(?), 9, 8), 8))
ORDER BY start_unix_nano, span_id
LIMIT 10001
