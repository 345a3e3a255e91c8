SELECT trace_id, min(start_unix_nano) AS hit_ns
FROM lambdascope.spans
PREWHERE status_code = ?
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND (toStartOfHour(start_time), trace_id) IN ((toDateTime(?), unhex(?)))
GROUP BY trace_id
ORDER BY hit_ns DESC, trace_id
LIMIT ?, ?
