SELECT toDate(start_time) AS day, account_id, region, function_name, function_version, architecture,
    memory_size_mb, ephemeral_storage_mb, any(runtime), count(), countIf(cold_start = 1)
FROM lambdascope.invocations
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
  AND initialization_type = ?
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb
ORDER BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb
