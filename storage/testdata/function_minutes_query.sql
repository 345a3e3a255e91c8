SELECT minute, function_name,
    countMerge(invocations), sumMerge(errors), sumMerge(timeouts), sumMerge(cold_starts),
    sumMerge(duration_ms_sum),
    arrayMap(q -> toFloat64(q), quantilesTDigestMerge(0.5, 0.9, 0.99)(duration_ms_quantiles)),
    sumMerge(billed_gb_seconds), maxMerge(max_memory_used_mb)
FROM lambdascope.function_minutes
WHERE function_name = ?
  AND minute >= toDateTime(?)
  AND minute <= toDateTime(?)
  AND minute < toDateTime(?)
GROUP BY minute, function_name
ORDER BY function_name, minute
LIMIT ?
