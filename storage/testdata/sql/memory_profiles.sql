SELECT account_id, region, function_name, architecture, memory_size_mb,
    count(), sum(billed_duration_ms), max(max_memory_used_mb),
    quantile(0.99)(toFloat64(max_memory_used_mb)), quantile(0.95)(duration_ms), avg(duration_ms),
    min(start_unix_nano), max(start_unix_nano)
FROM lambdascope.invocations
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
  AND bitAnd(unknown_figures, 8) = 0
GROUP BY account_id, region, function_name, architecture, memory_size_mb
ORDER BY account_id, region, function_name, architecture, memory_size_mb
