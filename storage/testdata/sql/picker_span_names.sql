SELECT DISTINCT name AS v
FROM lambdascope.spans
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
ORDER BY v
LIMIT ?
