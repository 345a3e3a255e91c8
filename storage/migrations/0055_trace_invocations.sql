-- Migration 55: what a trace view shows of an invocation, in a narrow
-- table kept by a materialized view on invocations, for a trace read by
-- its ID.
--
-- A trace's invocations are read by request ID from the parts of their
-- day, two or more (one per insert), and each part of invocations opens
-- 64 files for the 31 columns a trace view shows (a data and a mark file
-- each, and the key's): on a cold read that is the longest query of the
-- trace (docs/benchmarks/2026-12-07-traceid.md). trace_invocations holds
-- the same rows with the columns a read selects by (the key, the start,
-- the request ID) and the others the view shows packed into one array of
-- strings, `shown`, in the order of storage.traceInvocationShown: a part
-- opens 12 files. Granules of 1024 rows: the packed row is wide, and a
-- read reads a granule of it for each request ID.
--
-- Same partitions (days) and key as invocations, so that retention drops
-- its days with theirs and a read narrows to the same parts and granules.
-- The view covers the rows inserted after it exists: the horizon recorded
-- below (view_horizons, migration 8) says from when the table is whole;
-- reads of a range before it read invocations. On a cluster the trace
-- view reads invocations, as before: no table is made.
{{- if not .Cluster}}
CREATE TABLE IF NOT EXISTS {{.Database}}.trace_invocations
(
    start_time DateTime('UTC'){{codec "DoubleDelta, ZSTD(1)"}},
    start_unix_nano UInt64{{codec "DoubleDelta, ZSTD(1)"}},
    function_name {{lc "String"}}{{codec "ZSTD(1)"}},
    request_id String{{codec "ZSTD(1)"}},
    shown Array(String){{codec "ZSTD(1)"}}
)
ENGINE = MergeTree()
PARTITION BY toDate(start_time)
ORDER BY (function_name, start_time, request_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.trace_invocations_mv
TO {{.Database}}.trace_invocations
AS SELECT
    start_time,
    start_unix_nano,
    function_name,
    request_id,
    [CAST(account_id AS String), CAST(region AS String), CAST(function_version AS String),
     CAST(service_name AS String), CAST(architecture AS String), CAST(runtime AS String),
     CAST(initialization_type AS String), CAST(log_stream AS String),
     toString(memory_size_mb), toString(max_memory_used_mb), toString(ephemeral_storage_mb),
     toString(duration_ms), toString(billed_duration_ms), toString(billed_init_duration_ms),
     toString(init_duration_ms), toString(restore_duration_ms), toString(cold_start),
     CAST(status AS String), CAST(error_type AS String), CAST(trace_id AS String),
     CAST(span_id AS String), xray_trace_header, toString(unknown_figures), toString(incomplete),
     CAST(tenant_id AS String), CAST(trigger AS String), toString(http_status_code),
     toString(response_size)] AS shown
FROM {{.Database}}.invocations;

-- The horizon: the end of the last second an invocation was stored for
-- before the view existed.
INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'trace_invocations', if(count() = 0, 0, (max(toUInt64(start_time)) + 1) * 1000000000 - 1)
FROM {{.Database}}.invocations;
{{- end}}
