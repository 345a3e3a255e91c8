-- Migration 13: what the extension reads from an invocation's event and
-- answer, an HTTP 5xx answer counted as an error, and span links found by
-- the trace they point to.
--
-- invocations gains trigger (the lambdascope.trigger of the event:
-- "apigateway-rest", "sqs", "direct", ...; empty when no event was seen),
-- http_status_code (what a proxy integration answered, 0 for none) and
-- response_size (bytes of the runtime's answer, 0 when not seen). Rows
-- written before read empty and 0.
--
-- 18.x has no IF NOT EXISTS on ADD COLUMN; newer servers get it, so that a
-- cluster migration cut short between its statements can run again (on
-- 18.x Migrate runs the ALTER only where a column is missing,
-- execMigrationStatement). In
-- cluster mode the Distributed table, which holds no rows, is made again
-- from the altered shard table (as migration 11 does).
ALTER TABLE {{local "invocations"}}{{onCluster}}
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} trigger {{lc "String"}} DEFAULT ''{{codec "ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} http_status_code UInt16 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} response_size UInt64 DEFAULT 0{{codec "T64, ZSTD(1)"}};
{{- if .Cluster}}
DROP TABLE IF EXISTS {{.Database}}.invocations{{onCluster}};
{{distributed "invocations" "cityHash64(request_id)"}};
{{- end}}

-- function_figures counts an invocation answered with an HTTP status of
-- 500 or more as an error, as the raw reads do from this version on. 18.16
-- can neither change a view's query nor POPULATE a view that has a TO
-- table, so the view is made again over the same table: rows inserted
-- between the two statements are not in it. The horizon recorded after it
-- (the latest start time then stored) covers them and every row the old
-- view counted: readers take the minutes after it from the view and the
-- rest from the raw rows, which count 5xx answers too.
DROP TABLE IF EXISTS {{.Database}}.function_figures_mv{{onCluster}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.function_figures_mv{{onCluster}}
TO {{local "function_figures"}}
AS SELECT
    toStartOfMinute(start_time) AS minute,
    function_name,
    function_version,
    account_id,
    region,
    countState() AS invocations,
    sumState(toUInt64((status != 'success' AND status != '') OR http_status_code >= 500)) AS errors,
    sumState(toUInt64(status = 'timeout')) AS timeouts,
    sumState(toUInt64(cold_start)) AS cold_starts,
    sumState(if(cold_start = 1, init_duration_ms, 0)) AS init_duration_ms_sum,
    sumState(duration_ms) AS duration_ms_sum,
    quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms) AS duration_ms_quantiles,
    maxState(max_memory_used_mb) AS max_memory_used_mb,
    maxState(memory_size_mb) AS memory_size_mb
FROM {{local "invocations"}}
GROUP BY minute, function_name, function_version, account_id, region;

INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'function_figures', max(start_unix_nano)
FROM {{.Database}}.invocations;

-- span_links: one row per span link, ordered by the trace the link points
-- to, so that "which spans link to trace X" (the consumers of what X
-- produced) reads one granule range per daily part instead of every span.
-- The other way, "what did this span's batch come from", reads the links
-- column of the span itself. A view fills it from the spans inserted from
-- now on; the links of spans stored before are copied once below. A span
-- inserted between the two is copied twice: readers keep one row per
-- span and link (as they keep one span of a re-sent batch). request_id is
-- the invocation of the linking span: its own, or the one a span the
-- extension inferred from an event names in lambdascope.invocation_id.
CREATE TABLE IF NOT EXISTS {{local "span_links"}}{{onCluster}}
(
    linked_trace_id FixedString(16){{codec "ZSTD(1)"}},
    linked_span_id FixedString(8){{codec "ZSTD(1)"}},
    start_time DateTime('UTC'){{codec "ZSTD(1)"}},
    start_unix_nano UInt64{{codec "ZSTD(1)"}},
    trace_id FixedString(16){{codec "ZSTD(1)"}},
    span_id FixedString(8){{codec "ZSTD(1)"}},
    name {{lc "String"}}{{codec "ZSTD(1)"}},
    kind UInt8,
    status_code UInt8,
    service_name {{lc "String"}}{{codec "ZSTD(1)"}},
    function_name {{lc "String"}}{{codec "ZSTD(1)"}},
    request_id String{{codec "ZSTD(1)"}},
    attributes String{{codec "ZSTD(1)"}}
)
ENGINE = {{engine "MergeTree" "span_links"}}
PARTITION BY toDate(start_time)
ORDER BY (linked_trace_id, linked_span_id, trace_id, span_id)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.span_links_mv{{onCluster}}
TO {{local "span_links"}}
AS SELECT
    links.trace_id AS linked_trace_id,
    links.span_id AS linked_span_id,
    start_time,
    start_unix_nano,
    trace_id,
    span_id,
    name,
    kind,
    status_code,
    service_name,
    function_name,
    if(request_id != '', request_id, attributes.value[indexOf(attributes.key, 'lambdascope.invocation_id')]) AS request_id,
    links.attributes AS attributes
FROM {{local "spans"}}
ARRAY JOIN links;
{{distributed "span_links" "cityHash64(linked_trace_id)"}};

INSERT INTO {{.Database}}.span_links
SELECT
    links.trace_id AS linked_trace_id,
    links.span_id AS linked_span_id,
    start_time,
    start_unix_nano,
    trace_id,
    span_id,
    name,
    kind,
    status_code,
    service_name,
    function_name,
    if(request_id != '', request_id, attributes.value[indexOf(attributes.key, 'lambdascope.invocation_id')]) AS request_id,
    links.attributes AS attributes
FROM {{.Database}}.spans
ARRAY JOIN links;
