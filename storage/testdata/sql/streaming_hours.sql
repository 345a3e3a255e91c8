SELECT toDate(hour) AS day, account_id, region, function_name, function_version,
    countMerge(streamed), sumMerge(billed_bytes)
FROM lambdascope.streaming_hours
WHERE hour >= toDateTime(?)
  AND hour < toDateTime(?)
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
GROUP BY day, account_id, region, function_name, function_version
ORDER BY day, account_id, region, function_name, function_version
