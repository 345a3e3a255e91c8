-- Migration 30: everything the cost report prices, per hour, in one table
-- partitioned by month, kept by a materialized view on invocations, so
-- that a month's report reads a few parts of one table instead of a part
-- per day of usage_daily and the raw invocations (SnapStart restores and
-- estimated billed durations were summed from the raw rows). Read cold,
-- a report costs about the files it opens: two month partitions hold a
-- 30-day range.
--
-- The key is usage_hourly's (migration 9) with the runtime, which says
-- whether SnapStart restores are charged; the sums are usage_hourly's, the
-- cold starts (restores, for initialization_type snap-start), and the
-- invocations whose billed duration the platform did not report (bit 2 of
-- unknown_figures, migration 11) with the estimate stored for them. Read
-- with countMerge, sumMerge and maxMerge. The view covers only the rows
-- inserted after it exists: the horizon recorded below (see view_horizons,
-- migration 8) says from when it is whole. Its partitions are months, so
-- retention by day leaves them.
CREATE TABLE IF NOT EXISTS {{local "cost_hours"}}{{onCluster}}
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
    runtime {{lc "String"}},
    invocations AggregateFunction(count),
    billed_duration_ms_sum AggregateFunction(sum, UInt64),
    billed_init_duration_ms_sum AggregateFunction(sum, Float64),
    duration_ms_sum AggregateFunction(sum, Float64),
    max_memory_used_mb AggregateFunction(max, UInt32),
    cold_starts AggregateFunction(sum, UInt64),
    estimated AggregateFunction(sum, UInt64),
    estimated_billed_ms AggregateFunction(sum, UInt64)
)
ENGINE = {{engine "AggregatingMergeTree" "cost_hours"}}
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type, runtime)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.cost_hours_mv{{onCluster}}
TO {{local "cost_hours"}}
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
    runtime,
    countState() AS invocations,
    sumState(billed_duration_ms) AS billed_duration_ms_sum,
    sumState(billed_init_duration_ms) AS billed_init_duration_ms_sum,
    sumState(duration_ms) AS duration_ms_sum,
    maxState(max_memory_used_mb) AS max_memory_used_mb,
    sumState(toUInt64(cold_start = 1)) AS cold_starts,
    sumState(toUInt64(bitAnd(unknown_figures, 2) != 0)) AS estimated,
    sumState(if(bitAnd(unknown_figures, 2) != 0, billed_duration_ms, toUInt64(0))) AS estimated_billed_ms
FROM {{local "invocations"}}
GROUP BY hour, account_id, region, function_name, function_version, architecture, memory_size_mb, ephemeral_storage_mb,
    initialization_type, runtime;
{{distributed "cost_hours" "rand()"}};

INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'cost_hours', max(start_unix_nano)
FROM {{.Database}}.invocations;
