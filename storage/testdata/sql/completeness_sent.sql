SELECT toStartOfHour(start_time) AS hour, function_name, count() AS invocations,
    sum(tel_spans_received), sum(tel_log_lines_received), sum(tel_bytes_received), sum(tel_bytes_shipped),
    sum(tel_spans_sampled_out), sum(tel_spans_dropped), sum(tel_log_lines_dropped),
    sum(tel_spans_spooled), sum(tel_log_lines_spooled), sum(tel_spans_spool_dropped),
    sum(tel_log_lines_spool_dropped), sum(tel_platform_logs_dropped),
    sum(tel_spans_refused), sum(tel_log_lines_refused)
FROM lambdascope.invocations
WHERE tel_counted = 1
  AND start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND function_name = ?
GROUP BY hour, function_name
