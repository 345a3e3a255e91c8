-- version
SELECT version();

-- migrations table exists
SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations';

-- create database
CREATE DATABASE IF NOT EXISTS lambdascope;

-- create database on a cluster
CREATE DATABASE IF NOT EXISTS lambdascope ON CLUSTER lambdascope;

-- create migrations table
CREATE TABLE IF NOT EXISTS lambdascope.schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree()
ORDER BY version;

-- insert migration
INSERT INTO lambdascope.schema_migrations (version, name, applied_at);

-- select migrations
SELECT DISTINCT version FROM lambdascope.schema_migrations ORDER BY version;

-- cluster shards
SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = ?;

-- present columns
SELECT name, count() FROM system.columns WHERE database = ? AND table = ? AND has(?, name) GROUP BY name;

-- present columns on a cluster
SELECT name, count() FROM cluster('lambdascope', system, columns) WHERE database = ? AND table = ? AND has(?, name) GROUP BY name;

-- insert spans
INSERT INTO lambdascope.spans (start_time, start_unix_nano, duration_ns, trace_id, span_id, parent_span_id, trace_state, name, kind, status_code, status_message, service_name, function_name, function_version, account_id, region, request_id, scope_name, scope_version, attributes.key, attributes.value, resource_attributes.key, resource_attributes.value, events.time_unix_nano, events.name, events.attributes, links.trace_id, links.span_id, links.attributes);

-- insert logs
INSERT INTO lambdascope.logs (timestamp, time_unix_nano, observed_time_unix_nano, trace_id, span_id, severity_number, severity_text, body, service_name, function_name, function_version, account_id, region, request_id, log_type, attributes.key, attributes.value, resource_attributes.key, resource_attributes.value);

-- insert metric points
INSERT INTO lambdascope.metric_points (timestamp, time_unix_nano, start_time_unix_nano, service_name, function_name, function_version, account_id, region, scope_name, metric_name, metric_type, unit, temporality, is_monotonic, flags, value, point_count, point_sum, point_min, point_max, bucket_counts, explicit_bounds, quantile_values, attributes.key, attributes.value, resource_attributes.key, resource_attributes.value, exemplar_trace_ids, exemplar_values);

-- insert invocations
INSERT INTO lambdascope.invocations (start_time, start_unix_nano, account_id, region, function_name, function_version, service_name, architecture, runtime, initialization_type, log_stream, request_id, memory_size_mb, max_memory_used_mb, ephemeral_storage_mb, duration_ms, billed_duration_ms, billed_init_duration_ms, init_duration_ms, restore_duration_ms, cold_start, status, error_type, trace_id, span_id, xray_trace_header, response_latency_ms, response_duration_ms, runtime_overhead_ms, produced_bytes, unknown_figures, incomplete, tenant_id, trigger, http_status_code, response_size, tel_counted, tel_spans_received, tel_log_lines_received, tel_bytes_received, tel_bytes_shipped, tel_spans_sampled_out, tel_spans_dropped, tel_log_lines_dropped, tel_spans_spooled, tel_log_lines_spooled, tel_spans_spool_dropped, tel_log_lines_spool_dropped, tel_platform_logs_dropped, runtime_duration_ms, extension_init_ms, tel_spans_refused, tel_log_lines_refused, trigger_source, error_message, trace_context_source, function_error_type);

-- insert ingest losses
INSERT INTO lambdascope.ingest_losses (hour, function_name, signal, stage, reason, items);

-- select partitions
SELECT DISTINCT table, partition_id
FROM system.parts
WHERE database = ? AND active AND table IN ?
ORDER BY table, partition_id;

-- drop partition
ALTER TABLE lambdascope.spans DROP PARTITION ID ?;

-- drop partition on a cluster
ALTER TABLE lambdascope.spans_local ON CLUSTER lambdascope DROP PARTITION ID ?;

-- create distributed
CREATE TABLE IF NOT EXISTS lambdascope.spans ON CLUSTER lambdascope AS lambdascope.spans_local
ENGINE = Distributed(lambdascope, lambdascope, spans_local, cityHash64(trace_id));

-- set
SET insert_distributed_sync = 1;

