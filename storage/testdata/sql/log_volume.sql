SELECT intDiv(toUInt32(timestamp), ?) * ? AS bucket, function_name, severity_number, severity_text, count()
FROM lambdascope.logs
WHERE function_name = ?
  AND timestamp >= toDateTime(?)
  AND timestamp < toDateTime(?)
  AND time_unix_nano >= ?
  AND time_unix_nano < ?
  AND request_id = ?
  AND (trace_id = unhex(?) OR (trace_id = unhex(?) AND request_id IN ?))
  AND positionCaseInsensitiveUTF8(body, ?) > 0
  AND severity_number >= ?
GROUP BY bucket, function_name, severity_number, severity_text
ORDER BY bucket, function_name, severity_number, severity_text
