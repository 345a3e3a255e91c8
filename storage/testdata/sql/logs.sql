SELECT time_unix_nano, observed_time_unix_nano, trace_id, span_id, severity_number, severity_text, body,
    service_name, function_name, function_version, account_id, region, request_id, log_type,
    attributes.key, attributes.value, resource_attributes.key, resource_attributes.value
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
ORDER BY timestamp DESC, time_unix_nano DESC
LIMIT ?
