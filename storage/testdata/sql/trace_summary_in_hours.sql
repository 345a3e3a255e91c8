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
  AND (toStartOfHour(start_time), trace_id) IN ((toDateTime(?), unhex(?)), (toDateTime(?), unhex(?)))
GROUP BY trace_id
ORDER BY first_ns DESC, trace_id
