SELECT toDate(start_time) AS day, account_id, region, function_name, function_version,
    architecture, memory_size_mb, ephemeral_storage_mb, initialization_type,
    count(), sum(billed_duration_ms), sum(billed_init_duration_ms), sum(duration_ms), max(max_memory_used_mb)
FROM lambdascope.invocations
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type
ORDER BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type
