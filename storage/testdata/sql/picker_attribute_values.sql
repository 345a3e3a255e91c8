SELECT DISTINCT attributes.value[indexOf(attributes.key, ?)] AS v
FROM lambdascope.spans
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
  AND has(attributes.key, ?)
ORDER BY v
LIMIT ?
