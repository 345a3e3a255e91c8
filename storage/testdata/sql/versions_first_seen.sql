SELECT function_name, function_version, min(start_unix_nano)
FROM lambdascope.invocations
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
GROUP BY function_name, function_version
ORDER BY function_name, function_version
