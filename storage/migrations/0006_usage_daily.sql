-- Migration 6: what each function configuration is billed for per UTC day,
-- kept by a materialized view on invocations for the cost report.
--
-- The key is everything a price depends on: day, account, region, function,
-- version, architecture, memory, ephemeral storage and initialization type.
-- The sums are those of the raw table (count, billed duration, billed init
-- duration, duration) and the largest memory used; read them with
-- countMerge, sumMerge and maxMerge. Like every view here it covers rows
-- inserted after it exists: readers use it only for days that start after
-- this migration was applied (schema_migrations.applied_at).
CREATE TABLE IF NOT EXISTS {{local "usage_daily"}}{{onCluster}}
(
    day Date,
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
ENGINE = {{engine "AggregatingMergeTree" "usage_daily"}}
PARTITION BY day
ORDER BY (day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb, initialization_type)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.usage_daily_mv{{onCluster}}
TO {{local "usage_daily"}}
AS SELECT
    toDate(start_time) AS day,
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
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type;
{{distributed "usage_daily" "rand()"}};
