SELECT toDate(timestamp) AS day, function_name, count() AS lines, toUInt64(sum(length(body))) AS body_bytes
FROM lambdascope.logs
WHERE timestamp >= toDateTime(?)
  AND timestamp < toDateTime(?)
  AND time_unix_nano >= ?
  AND time_unix_nano < ?
  AND function_name = ?
GROUP BY day, function_name
ORDER BY day, function_name
