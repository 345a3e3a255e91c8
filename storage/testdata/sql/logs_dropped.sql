SELECT function_name, toUInt64(sum(increase)) AS records, countIf(increase > 0) AS environments
FROM (
    SELECT function_name, start_time_unix_nano,
        if(start_time_unix_nano >= ?, max(value), max(value) - min(value)) AS increase
    FROM lambdascope.metric_points
    WHERE metric_name = ?
  AND timestamp >= toDateTime(?)
  AND timestamp < toDateTime(?)
  AND time_unix_nano >= ?
  AND time_unix_nano < ?
  AND function_name = ?
    GROUP BY function_name, start_time_unix_nano)
GROUP BY function_name
HAVING records > 0
ORDER BY records DESC, function_name
