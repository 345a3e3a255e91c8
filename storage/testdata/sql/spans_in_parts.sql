SELECT trace_id, span_id, parent_span_id, trace_state, start_unix_nano, duration_ns,
    name, kind, status_code, status_message,
    service_name, function_name, function_version, account_id, region, request_id,
    attributes.key, attributes.value, resource_attributes.key, resource_attributes.value,
    events.time_unix_nano, events.name, events.attributes,
    links.trace_id, links.span_id, links.attributes
FROM lambdascope.spans
PREWHERE trace_id = unhex(?)
WHERE _part IN (?, ?)
  AND toStartOfHour(start_time) IN (toDateTime(?), toDateTime(?))
ORDER BY start_unix_nano, span_id
