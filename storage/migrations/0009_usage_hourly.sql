-- Migration 9: what each function configuration is billed for per hour,
-- kept by a materialized view on invocations, for the partial days at the
-- edges of a cost report's range (the whole days come from usage_daily).
--
-- Same key and sums as usage_daily (migration 6) with the hour instead of
-- the day. The view covers only the rows inserted after it exists: the
-- horizon recorded below (see view_horizons, migration 8) says from when it
-- is whole.
CREATE TABLE IF NOT EXISTS {{local "usage_hourly"}}{{onCluster}}
(
    hour DateTime('UTC'),
    account_id {{lc "String"}},
    region {{lc "String"}},
    function_name {{lc "String"}},
    function_version {{lc "String"}},
    architecture {{lc "String"}},
    memory_size_mb UInt32,
    ephemeral_storage_mb UInt32,
    initialization_type {{lc "String"}},
    invocations AggregateFunction(count),
    billed_duration_ms_sum AggregateFunction(sum, UInt64),
    billed_init_duration_ms_sum AggregateFunction(sum, Float64),
    duration_ms_sum AggregateFunction(sum, Float64),
    max_memory_used_mb AggregateFunction(max, UInt32)
)
ENGINE = {{engine "AggregatingMergeTree" "usage_hourly"}}
PARTITION BY toDate(hour)
ORDER BY (hour, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb, initialization_type)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.usage_hourly_mv{{onCluster}}
TO {{local "usage_hourly"}}
AS SELECT
    toStartOfHour(start_time) AS hour,
    account_id,
    region,
    function_name,
    function_version,
    architecture,
    memory_size_mb,
    ephemeral_storage_mb,
    initialization_type,
    countState() AS invocations,
    sumState(billed_duration_ms) AS billed_duration_ms_sum,
    sumState(billed_init_duration_ms) AS billed_init_duration_ms_sum,
    sumState(duration_ms) AS duration_ms_sum,
    maxState(max_memory_used_mb) AS max_memory_used_mb
FROM {{local "invocations"}}
GROUP BY hour, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type;
{{distributed "usage_hourly" "rand()"}};

INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'usage_hourly', max(start_unix_nano)
FROM {{.Database}}.invocations;
