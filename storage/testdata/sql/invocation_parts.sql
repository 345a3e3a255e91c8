SELECT _part, count()
FROM lambdascope.invocations
PREWHERE request_id IN ?
WHERE function_name IN ?
  AND start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
GROUP BY _part
