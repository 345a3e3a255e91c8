SELECT p_source, c_source,
    count() AS calls,
    countIf(c_status = 2) AS errors,
    quantiles(0.5, 0.95, 0.99)(c_duration_ns) AS q
FROM (
    SELECT trace_id, span_id, if(function_name != '', function_name, service_name) AS p_source
    FROM lambdascope.spans
    WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?)
ALL INNER JOIN (
    SELECT trace_id, parent_span_id AS span_id, if(function_name != '', function_name, service_name) AS c_source,
        status_code AS c_status, duration_ns AS c_duration_ns
    FROM lambdascope.spans
    WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
      AND parent_span_id != unhex('0000000000000000'))
USING (trace_id, span_id)
WHERE p_source != c_source
GROUP BY p_source, c_source
ORDER BY p_source, c_source
