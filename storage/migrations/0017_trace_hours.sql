-- Migration 17: a trace is found through the hours its spans start in, and
-- spans are stored in the order that compresses them and reads one trace
-- from one granule.
--
-- trace_hours holds one row per trace and hour a span of it starts in:
-- the trace ID's last 8 bytes (the random ones of a W3C trace ID; two
-- traces sharing them only widen each other's lookup) and the hour. A
-- lookup by trace ID reads `toStartOfHour(start_time) IN (SELECT hour FROM
-- trace_hours ...)`, which the primary key of spans uses as a set: only
-- the parts holding those hours are opened. Two narrow columns, weekly
-- partitions (a 30-day lookup opens about five parts, where trace_windows
-- opened three columns of thirty daily parts, twice) and about 1 byte per
-- span on disk (trace_windows: 4.6). ReplacingMergeTree folds the rows of
-- one trace and hour that several inserts wrote. Retention drops a week
-- when its last day is due.
--
-- trace_windows keeps the windows it holds, for traces stored before this
-- migration (the reader falls back to it); its view stops, so it gets no
-- new rows. The view of trace_hours starts before the old one stops, so no
-- span is missed by both. A trace with spans before and after this
-- migration is read only in the hours trace_hours knows.
CREATE TABLE IF NOT EXISTS {{local "trace_hours"}}{{onCluster}}
(
    trace_key FixedString(8){{codec "ZSTD(1)"}},
    hour DateTime('UTC'){{codec "ZSTD(1)"}}
)
ENGINE = {{engine "ReplacingMergeTree" "trace_hours"}}
PARTITION BY toMonday(hour)
ORDER BY (trace_key, hour)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.trace_hours_mv{{onCluster}}
TO {{local "trace_hours"}}
AS SELECT
    toFixedString(substring(trace_id, 9, 8), 8) AS trace_key,
    toStartOfHour(start_time) AS hour
FROM {{local "spans"}}
GROUP BY trace_key, hour;
{{distributed "trace_hours" "cityHash64(trace_key)"}};

DROP TABLE IF EXISTS {{.Database}}.trace_windows_mv{{onCluster}};
{{- if not .Cluster}}

-- spans is made again with the key (hour, trace ID, service, start) and
-- 1024 rows per granule, instead of (hour, trace ID, span ID) and 8192:
-- a trace's spans follow each other service by service in start order, so
-- the columns that repeat inside a service (names, resource, scope, the
-- request ID) and the kinds, names and attribute keys of a trace's spans in
-- their usual order compress into runs; one trace is read from one granule
-- of 1024 rows instead of 8192. 18.16 cannot change a sorting key: the
-- new table is made here, and the migration's step in Go (rebuildSpans,
-- migrate_spans.go) then swaps it in under the name spans before moving
-- the old rows, so writes that arrive while the rows move go to the new
-- table and are kept. On a cluster a move could reach only the migrating
-- shard, so clusters keep the layout of migration 1.
CREATE TABLE IF NOT EXISTS {{.Database}}.spans_v17
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
ENGINE = MergeTree()
PARTITION BY toDate(start_time)
ORDER BY (toStartOfHour(start_time), trace_id, service_name, start_unix_nano)
SETTINGS index_granularity = 1024;
{{- end}}
