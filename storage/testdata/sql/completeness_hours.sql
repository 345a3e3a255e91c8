SELECT hour, function_name, sum(invocations),
    sum(tel_spans_received), sum(tel_log_lines_received), sum(tel_bytes_received), sum(tel_bytes_shipped),
    sum(tel_spans_sampled_out), sum(tel_spans_dropped), sum(tel_log_lines_dropped),
    sum(tel_spans_spooled), sum(tel_log_lines_spooled), sum(tel_spans_spool_dropped),
    sum(tel_log_lines_spool_dropped), sum(tel_platform_logs_dropped),
    sum(tel_spans_refused), sum(tel_log_lines_refused),
    sum(spans_stored), sum(log_lines_stored)
FROM lambdascope.completeness_hours
WHERE hour >= toDateTime(?)
  AND hour < toDateTime(?)
  AND function_name = ?
GROUP BY hour, function_name
