SELECT intDiv(toUInt32(minute), ?) * ? AS bucket, function_name,
    countMerge(invocations) AS n,
    sumMerge(errors),
    sumMerge(timeouts),
    sumMerge(cold_starts) AS cold,
    if(cold > 0, sumMerge(init_duration_ms_sum) / cold, 0),
    arrayMap(q -> toFloat64(q), quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_ms_quantiles)),
    sumMerge(duration_ms_sum),
    maxMerge(max_memory_used_mb),
    maxMerge(memory_size_mb)
FROM lambdascope.function_figures
WHERE minute >= toDateTime(?)
  AND minute < toDateTime(?)
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
GROUP BY bucket, function_name
ORDER BY function_name, bucket
