SELECT start_unix_nano, account_id, region, function_name, function_version, service_name, architecture, runtime, initialization_type, log_stream, request_id, memory_size_mb, max_memory_used_mb, ephemeral_storage_mb, duration_ms, billed_duration_ms, billed_init_duration_ms, init_duration_ms, restore_duration_ms, cold_start, status, error_type, trace_id, span_id, xray_trace_header, response_latency_ms, response_duration_ms, runtime_overhead_ms, produced_bytes, unknown_figures, incomplete, tenant_id, trigger, http_status_code, response_size, tel_counted, tel_spans_received, tel_log_lines_received, tel_bytes_received, tel_bytes_shipped, tel_spans_sampled_out, tel_spans_dropped, tel_log_lines_dropped, tel_spans_spooled, tel_log_lines_spooled, tel_spans_spool_dropped, tel_log_lines_spool_dropped, tel_platform_logs_dropped, runtime_duration_ms, extension_init_ms, tel_spans_refused, tel_log_lines_refused, trigger_source, error_message, trace_context_source, function_error_type
FROM lambdascope.invocations
PREWHERE request_id IN ?
  AND trace_id = unhex(?)
  AND trace_id IN (unhex(?), unhex(?))
WHERE function_name = ?
  AND function_name IN ?
  AND tenant_id = ?
  AND trigger = ?
  AND trigger_source = ?
  AND (error_type = ? OR function_error_type = ?)
  AND (status NOT IN ('success', '') OR http_status_code >= 500)
  AND start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
ORDER BY start_time DESC, start_unix_nano DESC, request_id
LIMIT ?
