SELECT trace_id, span_id, start_unix_nano, duration_ns, name, kind, status_code,
    service_name, function_name,
    if(request_id != '', request_id, attributes.value[indexOf(attributes.key, 'lambdascope.invocation_id')])
FROM lambdascope.spans
PREWHERE trace_id IN (unhex(?)) AND span_id IN (unhex(?), unhex(?))
WHERE toStartOfHour(start_time) IN (SELECT hour FROM lambdascope.trace_hours WHERE trace_key IN (toFixedString(substring(unhex(?), 9, 8), 8)))
  OR (start_time >= (SELECT toDateTime(intDiv(minMerge(start_min), 1000000000)) FROM lambdascope.trace_windows WHERE trace_id IN (unhex(?)))
  AND start_time < (SELECT toDateTime(intDiv(maxMerge(end_max), 1000000000) + 1) FROM lambdascope.trace_windows WHERE trace_id IN (unhex(?))))
ORDER BY start_unix_nano, trace_id, span_id
LIMIT 1 BY trace_id, span_id
