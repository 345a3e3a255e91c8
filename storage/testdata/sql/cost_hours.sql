SELECT toDate(hour) AS day, account_id, region, function_name, function_version,
    architecture, memory_size_mb, ephemeral_storage_mb, initialization_type, runtime,
    countMerge(invocations), sumMerge(billed_duration_ms_sum), sumMerge(billed_init_duration_ms_sum), sumMerge(duration_ms_sum),
    maxMerge(max_memory_used_mb), sumMerge(cold_starts), sumMerge(estimated), sumMerge(estimated_billed_ms)
FROM lambdascope.cost_hours
WHERE hour >= toDateTime(?)
  AND hour < toDateTime(?)
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type, runtime
