SELECT toDate(start_time) AS day, function_name, account_id, region, architecture,
    count() AS invocations,
    toUInt64(countIf(runtime_duration_ms > 0 AND bitAnd(unknown_figures, 1) = 0 AND incomplete = 0)) AS measured,
    sum(if(runtime_duration_ms > 0 AND bitAnd(unknown_figures, 1) = 0 AND incomplete = 0, greatest(ceil(duration_ms) - ceil(runtime_duration_ms), 0), 0)) AS added_ms,
    sum(if(runtime_duration_ms > 0 AND bitAnd(unknown_figures, 1) = 0 AND incomplete = 0, greatest(ceil(duration_ms) - ceil(runtime_duration_ms), 0), 0) * memory_size_mb) / 1024000 AS added_gbs,
    toUInt64(countIf(cold_start = 1 AND runtime_duration_ms > 0 AND bitAnd(unknown_figures, 1) = 0 AND incomplete = 0)) AS measured_cold,
    sum(if(cold_start = 1, if(runtime_duration_ms > 0 AND bitAnd(unknown_figures, 1) = 0 AND incomplete = 0, greatest(ceil(duration_ms) - ceil(runtime_duration_ms), 0), 0), 0)) AS added_cold_ms,
    toUInt64(countIf(cold_start = 1 AND extension_init_ms > 0)) AS cold_starts,
    sum(if(cold_start = 1, extension_init_ms, 0)) AS init_ms,
    sum(if(cold_start = 1, least(extension_init_ms, greatest(greatest(billed_init_duration_ms, if(bitAnd(unknown_figures, 3) = 0, toFloat64(billed_duration_ms) - ceil(duration_ms), 0)), 0)), 0) * memory_size_mb) / 1024000 AS init_gbs,
    toUInt64(sum(tel_bytes_shipped)) AS bytes_shipped
FROM lambdascope.invocations
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
GROUP BY day, function_name, account_id, region, architecture
ORDER BY day, function_name, account_id, region, architecture
