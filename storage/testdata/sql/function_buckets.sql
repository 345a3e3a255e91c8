SELECT intDiv(toUInt32(start_time), ?) * ? AS bucket, function_name,
    count() AS invocations,
    countIf(((status != 'success' AND status != '') OR http_status_code >= 500)) AS errors,
    countIf(status = 'timeout') AS timeouts,
    countIf(cold_start = 1) AS cold_starts,
    avgIf(init_duration_ms, cold_start = 1) AS init_ms,
    quantiles(0.5, 0.95, 0.99)(duration_ms) AS q,
    sum(duration_ms) AS duration_sum,
    max(max_memory_used_mb) AS mem_max,
    max(memory_size_mb) AS mem_configured
FROM lambdascope.invocations
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
GROUP BY bucket, function_name
ORDER BY function_name, bucket
