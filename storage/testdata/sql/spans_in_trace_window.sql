SELECT trace_id, span_id, parent_span_id, trace_state, start_unix_nano, duration_ns,
    name, kind, status_code, status_message,
    service_name, function_name, function_version, account_id, region, request_id,
    attributes.key, attributes.value, resource_attributes.key, resource_attributes.value,
    events.time_unix_nano, events.name, events.attributes,
    links.trace_id, links.span_id, links.attributes
FROM lambdascope.spans
PREWHERE trace_id = unhex(?)
WHERE start_time >= (SELECT toDateTime(intDiv(minMerge(start_min), 1000000000)) FROM lambdascope.trace_windows WHERE trace_id = unhex(?))
  AND start_time < (SELECT toDateTime(intDiv(maxMerge(end_max), 1000000000) + 1) FROM lambdascope.trace_windows WHERE trace_id = unhex(?))
ORDER BY start_unix_nano, span_id
