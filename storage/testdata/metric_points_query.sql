SELECT time_unix_nano, start_time_unix_nano,
    service_name, function_name, function_version, account_id, region, scope_name,
    metric_name, metric_type, unit, temporality, is_monotonic, flags,
    value, point_count, point_sum, point_min, point_max, bucket_counts, explicit_bounds, quantile_values,
    attributes.key, attributes.value, resource_attributes.key, resource_attributes.value,
    exemplar_trace_ids, exemplar_values
FROM lambdascope.metric_points
WHERE metric_name = ?
  AND function_name = ?
  AND service_name = ?
  AND timestamp >= toDateTime(?)
  AND time_unix_nano >= ?
  AND timestamp <= toDateTime(?)
  AND time_unix_nano < ?
ORDER BY metric_name, function_name, timestamp, time_unix_nano
LIMIT ?
