SELECT start_unix_nano, function_name, request_id, shown
FROM lambdascope.trace_invocations
PREWHERE request_id IN ?
WHERE function_name IN ?
  AND start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
ORDER BY start_time DESC, start_unix_nano DESC, request_id
LIMIT ?
