SELECT toStartOfHour(start_time) AS hour, function_name, count() AS n
FROM lambdascope.spans
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND function_name = ?
GROUP BY hour, function_name
