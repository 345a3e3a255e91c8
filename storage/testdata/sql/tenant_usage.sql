SELECT tenant_id, account_id, region, function_name, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type, count(), countIf(cold_start = 1), countIf(((status != 'success' AND status != '') OR http_status_code >= 500)), sum(billed_duration_ms)
FROM lambdascope.invocations
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
  AND tenant_id != ?
GROUP BY tenant_id, account_id, region, function_name, architecture, memory_size_mb, ephemeral_storage_mb, initialization_type
ORDER BY tenant_id, account_id, region, function_name, architecture, memory_size_mb, ephemeral_storage_mb, initialization_type
