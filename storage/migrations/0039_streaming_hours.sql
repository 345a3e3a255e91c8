-- Migration 39: the bytes of streamed responses that Lambda charges for,
-- per hour and function version, kept by a materialized view on
-- invocations. Lambda does not charge for the first 6 MiB of a response
-- (a buffered one can be no larger); a streamed one pays per GB for the
-- bytes beyond them. The record's produced_bytes (migration 1, the
-- Telemetry API's platform.runtimeDone metrics.producedBytes) is the
-- response's size, and response_size (migration 13) the same as the
-- Runtime API proxy counted it, there when runtimeDone was lost; the
-- larger is taken. Only invocations past 6 MiB make rows here: the
-- table stays small, and the cost report reads it beside cost_hours
-- (migration 30). Read with countMerge and sumMerge. The view covers only
-- the rows inserted after it exists: the horizon recorded below (see
-- view_horizons, migration 8) says from when it is whole; before it the
-- report reads the raw invocations. Its partitions are months, as
-- cost_hours's are.
CREATE TABLE IF NOT EXISTS {{local "streaming_hours"}}{{onCluster}}
(
    hour DateTime('UTC'),
    account_id {{lc "String"}},
    region {{lc "String"}},
    function_name {{lc "String"}},
    function_version {{lc "String"}},
    streamed AggregateFunction(count),
    billed_bytes AggregateFunction(sum, UInt64)
)
ENGINE = {{engine "AggregatingMergeTree" "streaming_hours"}}
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, account_id, region, function_name, function_version)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.streaming_hours_mv{{onCluster}}
TO {{local "streaming_hours"}}
AS SELECT
    toStartOfHour(start_time) AS hour,
    account_id,
    region,
    function_name,
    function_version,
    countState() AS streamed,
    sumState(toUInt64(greatest(produced_bytes, response_size) - 6291456)) AS billed_bytes
FROM {{local "invocations"}}
WHERE greatest(produced_bytes, response_size) > 6291456
GROUP BY hour, account_id, region, function_name, function_version;
{{distributed "streaming_hours" "rand()"}};

INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'streaming_hours', max(start_unix_nano)
FROM {{.Database}}.invocations;
