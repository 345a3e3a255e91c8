-- Migration 1: the three tables the collector writes and the query layer reads.
--
-- Rendered with text/template against {Database, Capabilities}. The baseline
-- is what ClickHouse 18.16 accepts; `lc` adds LowCardinality, `codec` adds a
-- compression codec and the INDEX lines appear only where the server has them.
-- In cluster mode `local` names the per-shard table, `engine` makes it
-- replicated and `distributed` adds the Distributed table readers and writers
-- use under the plain name; on a single server they render the same DDL as
-- before cluster mode existed (the goldens prove it).
-- Times are DateTime('UTC') seconds for partitioning and primary keys, plus
-- UInt64 nanoseconds for precision (18.16 has no DateTime64). IDs are binary.

-- spans: one row per OTLP span.
-- ORDER BY (toStartOfHour(start_time), trace_id, span_id): a time-range scan
-- reads only the hours it asks for, and inside each hour one trace's spans are
-- adjacent, so finding a trace by ID binary-searches the primary index once per
-- hour instead of reading the table. The hour, not the second, leads the key so
-- that a trace's spans stay together although they start seconds apart.
CREATE TABLE IF NOT EXISTS {{local "spans"}}{{onCluster}}
(
    start_time DateTime('UTC'){{codec "ZSTD(1)"}},
    start_unix_nano UInt64{{codec "ZSTD(1)"}},
    duration_ns UInt64{{codec "T64, ZSTD(1)"}},
    trace_id FixedString(16){{codec "ZSTD(1)"}},
    span_id FixedString(8){{codec "ZSTD(1)"}},
    parent_span_id FixedString(8){{codec "ZSTD(1)"}},
    trace_state String{{codec "ZSTD(1)"}},
    name {{lc "String"}}{{codec "ZSTD(1)"}},
    kind UInt8,
    status_code UInt8,
    status_message String{{codec "ZSTD(1)"}},
    service_name {{lc "String"}}{{codec "ZSTD(1)"}},
    function_name {{lc "String"}}{{codec "ZSTD(1)"}},
    function_version {{lc "String"}}{{codec "ZSTD(1)"}},
    account_id {{lc "String"}}{{codec "ZSTD(1)"}},
    region {{lc "String"}}{{codec "ZSTD(1)"}},
    request_id String{{codec "ZSTD(1)"}},
    scope_name {{lc "String"}}{{codec "ZSTD(1)"}},
    scope_version {{lc "String"}}{{codec "ZSTD(1)"}},
    attributes Nested(key {{lc "String"}}, value String),
    resource_attributes Nested(key {{lc "String"}}, value String),
    events Nested(time_unix_nano UInt64, name String, attributes String),
    links Nested(trace_id FixedString(16), span_id FixedString(8), attributes String)
{{- if .Capabilities.SkipIndexes}},
    INDEX idx_request_id request_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration duration_ns TYPE minmax GRANULARITY 1
{{- end}}
)
ENGINE = {{engine "MergeTree" "spans"}}
PARTITION BY toDate(start_time)
ORDER BY (toStartOfHour(start_time), trace_id, span_id)
SETTINGS index_granularity = 8192;
{{distributed "spans" "cityHash64(trace_id)"}};

-- logs: one row per OTLP log record (function, extension and platform lines
-- from the Telemetry API, or any OTLP source). Reads are "this function,
-- this time range" and "this request / this trace", so the function leads the
-- key, then time; request and trace lookups use skip indexes where available.
CREATE TABLE IF NOT EXISTS {{local "logs"}}{{onCluster}}
(
    timestamp DateTime('UTC'){{codec "DoubleDelta, ZSTD(1)"}},
    time_unix_nano UInt64{{codec "DoubleDelta, ZSTD(1)"}},
    observed_time_unix_nano UInt64{{codec "DoubleDelta, ZSTD(1)"}},
    trace_id FixedString(16){{codec "ZSTD(1)"}},
    span_id FixedString(8){{codec "ZSTD(1)"}},
    severity_number UInt8,
    severity_text {{lc "String"}}{{codec "ZSTD(1)"}},
    body String{{codec "ZSTD(1)"}},
    service_name {{lc "String"}}{{codec "ZSTD(1)"}},
    function_name {{lc "String"}}{{codec "ZSTD(1)"}},
    function_version {{lc "String"}}{{codec "ZSTD(1)"}},
    account_id {{lc "String"}}{{codec "ZSTD(1)"}},
    region {{lc "String"}}{{codec "ZSTD(1)"}},
    request_id String{{codec "ZSTD(1)"}},
    log_type {{lc "String"}}{{codec "ZSTD(1)"}},
    attributes Nested(key {{lc "String"}}, value String),
    resource_attributes Nested(key {{lc "String"}}, value String)
{{- if .Capabilities.SkipIndexes}},
    INDEX idx_request_id request_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1
{{- end}}
)
ENGINE = {{engine "MergeTree" "logs"}}
PARTITION BY toDate(timestamp)
ORDER BY (function_name, timestamp, request_id)
SETTINGS index_granularity = 8192;
{{distributed "logs" "cityHash64(trace_id, request_id)"}};

-- invocations: one row per invocation the platform reported, with the
-- function's identity. Reads are per function over a time range (metrics,
-- cost, cold starts), so the function leads the key, then time.
CREATE TABLE IF NOT EXISTS {{local "invocations"}}{{onCluster}}
(
    start_time DateTime('UTC'){{codec "DoubleDelta, ZSTD(1)"}},
    start_unix_nano UInt64{{codec "DoubleDelta, ZSTD(1)"}},
    account_id {{lc "String"}}{{codec "ZSTD(1)"}},
    region {{lc "String"}}{{codec "ZSTD(1)"}},
    function_name {{lc "String"}}{{codec "ZSTD(1)"}},
    function_version {{lc "String"}}{{codec "ZSTD(1)"}},
    service_name {{lc "String"}}{{codec "ZSTD(1)"}},
    architecture {{lc "String"}}{{codec "ZSTD(1)"}},
    runtime {{lc "String"}}{{codec "ZSTD(1)"}},
    initialization_type {{lc "String"}}{{codec "ZSTD(1)"}},
    log_stream {{lc "String"}}{{codec "ZSTD(1)"}},
    request_id String{{codec "ZSTD(1)"}},
    memory_size_mb UInt32{{codec "T64, ZSTD(1)"}},
    max_memory_used_mb UInt32{{codec "T64, ZSTD(1)"}},
    ephemeral_storage_mb UInt32{{codec "T64, ZSTD(1)"}},
    duration_ms Float64{{codec "ZSTD(1)"}},
    billed_duration_ms UInt64{{codec "T64, ZSTD(1)"}},
    billed_init_duration_ms Float64{{codec "ZSTD(1)"}},
    init_duration_ms Float64{{codec "ZSTD(1)"}},
    restore_duration_ms Float64{{codec "ZSTD(1)"}},
    cold_start UInt8,
    status {{lc "String"}}{{codec "ZSTD(1)"}},
    error_type {{lc "String"}}{{codec "ZSTD(1)"}},
    trace_id FixedString(16){{codec "ZSTD(1)"}},
    span_id FixedString(8){{codec "ZSTD(1)"}},
    xray_trace_header String{{codec "ZSTD(1)"}},
    response_latency_ms Float64{{codec "ZSTD(1)"}},
    response_duration_ms Float64{{codec "ZSTD(1)"}},
    runtime_overhead_ms Float64{{codec "ZSTD(1)"}},
    produced_bytes UInt64{{codec "T64, ZSTD(1)"}}
{{- if .Capabilities.SkipIndexes}},
    INDEX idx_request_id request_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 1
{{- end}}
)
ENGINE = {{engine "MergeTree" "invocations"}}
PARTITION BY toDate(start_time)
ORDER BY (function_name, start_time, request_id)
SETTINGS index_granularity = 8192;
{{distributed "invocations" "cityHash64(request_id)"}};
