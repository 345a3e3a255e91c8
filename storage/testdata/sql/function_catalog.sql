SELECT function_name, account_id, region,
    argMax(service_name, start_unix_nano), argMax(runtime, start_unix_nano),
    argMax(architecture, start_unix_nano), argMax(memory_size_mb, start_unix_nano),
    groupUniqArray(function_version), min(start_unix_nano), max(start_unix_nano), count(),
    countIf(((status != 'success' AND status != '') OR http_status_code >= 500))
FROM lambdascope.invocations
WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND function_name = ?
  AND function_version = ?
  AND account_id = ?
  AND region = ?
GROUP BY function_name, account_id, region
ORDER BY function_name, account_id, region
