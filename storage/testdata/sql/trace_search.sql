SELECT trace_id, min(start_unix_nano) AS hit_ns
FROM lambdascope.spans
PREWHERE status_code = ?
  AND duration_ns >= ?
  AND duration_ns <= ?
  AND name = ?
  AND function_name = ?
  AND service_name = ?
  AND has(attributes.value, ?)
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND arrayExists((k, v) -> k = ? AND v = ?, attributes.key, attributes.value)
  AND request_id IN (SELECT request_id FROM lambdascope.invocations WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND cold_start = 1)
GROUP BY trace_id
ORDER BY hit_ns DESC, trace_id
LIMIT ?, ?
