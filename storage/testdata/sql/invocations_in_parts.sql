SELECT start_unix_nano, account_id, region, function_name, function_version, service_name, architecture, runtime, initialization_type, log_stream, request_id, memory_size_mb, max_memory_used_mb, ephemeral_storage_mb, duration_ms, billed_duration_ms, billed_init_duration_ms, init_duration_ms, restore_duration_ms, cold_start, status, error_type, trace_id, span_id, xray_trace_header, unknown_figures, incomplete, tenant_id, trigger, http_status_code, response_size
FROM lambdascope.invocations
PREWHERE request_id IN ?
WHERE function_name IN ?
  AND start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND _part IN (?, ?)
ORDER BY start_time DESC, start_unix_nano DESC, request_id
LIMIT ?
