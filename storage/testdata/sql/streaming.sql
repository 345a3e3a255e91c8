SELECT toDate(start_time) AS day, account_id, region, function_name, function_version,
    count(), sum(toUInt64(greatest(produced_bytes, response_size) - 6291456))
FROM lambdascope.invocations
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
  AND greatest(produced_bytes, response_size) > 6291456
GROUP BY day, account_id, region, function_name, function_version
ORDER BY day, account_id, region, function_name, function_version
