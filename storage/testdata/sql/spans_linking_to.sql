SELECT linked_trace_id, linked_span_id, start_unix_nano, trace_id, span_id, name, kind, status_code,
    service_name, function_name, request_id, attributes
FROM lambdascope.span_links
PREWHERE linked_trace_id = unhex(?)
WHERE trace_id != linked_trace_id
ORDER BY start_unix_nano, trace_id, span_id, linked_span_id
LIMIT 1 BY trace_id, span_id, linked_span_id
LIMIT ?
