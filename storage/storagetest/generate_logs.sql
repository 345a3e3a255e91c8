-- The log lines the generated reports say were received
-- (telemetryCounts: two for one report in 5), each under its invocation's
-- request ID, trace and function, 1 and 2 ms after its start.
INSERT INTO {{.DB}}.logs (timestamp, time_unix_nano, observed_time_unix_nano, trace_id, span_id, severity_number,
    severity_text, body, service_name, function_name, function_version, account_id, region, request_id, log_type)
SELECT toDateTime(intDiv(ts, 1000000000)), ts, ts, trace_id, span_id, 9, 'INFO',
    if(line = 1, concat('order ', request_id, ' received'), concat('order ', request_id, ' done')),
    service_name, function_name, function_version, account_id, region, request_id, 'function'
FROM (SELECT start_unix_nano + line * 1000000 AS ts, line, trace_id, span_id, service_name, function_name, function_version,
        account_id, region, request_id
    FROM {{.DB}}.invocations ARRAY JOIN [1, 2] AS line
    WHERE tel_log_lines_received = 2)
