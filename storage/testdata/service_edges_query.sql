SELECT caller_service, callee,
    countMerge(calls), sumMerge(errors),
    arrayMap(q -> toFloat64(q), quantilesTDigestMerge(0.5, 0.9, 0.99)(duration_ms_quantiles))
FROM lambdascope.service_edges
WHERE (caller_service = ? OR callee = ?)
  AND minute >= toDateTime(?)
  AND minute <= toDateTime(?)
  AND minute < toDateTime(?)
GROUP BY caller_service, callee
ORDER BY caller_service, callee
LIMIT ?
