-- Migration 8: per-function, per-minute figures as the query layer shows
-- them, kept by a materialized view on invocations, and the horizon before
-- which each view may miss rows.
--
-- function_figures holds what function_minutes lacks for the function
-- figures: the init duration of cold starts (for their mean), the memory
-- configured, quantile states at p50/p95/p99, and errors counted as the raw
-- reads count them (a status other than success and not empty).
CREATE TABLE IF NOT EXISTS {{local "function_figures"}}{{onCluster}}
(
    minute DateTime('UTC'),
    function_name {{lc "String"}},
    function_version {{lc "String"}},
    account_id {{lc "String"}},
    region {{lc "String"}},
    invocations AggregateFunction(count),
    errors AggregateFunction(sum, UInt64),
    timeouts AggregateFunction(sum, UInt64),
    cold_starts AggregateFunction(sum, UInt64),
    init_duration_ms_sum AggregateFunction(sum, Float64),
    duration_ms_sum AggregateFunction(sum, Float64),
    duration_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64),
    max_memory_used_mb AggregateFunction(max, UInt32),
    memory_size_mb AggregateFunction(max, UInt32)
)
ENGINE = {{engine "AggregatingMergeTree" "function_figures"}}
PARTITION BY toDate(minute)
ORDER BY (function_name, minute, function_version, account_id, region)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.function_figures_mv{{onCluster}}
TO {{local "function_figures"}}
AS SELECT
    toStartOfMinute(start_time) AS minute,
    function_name,
    function_version,
    account_id,
    region,
    countState() AS invocations,
    sumState(toUInt64(status != 'success' AND status != '')) AS errors,
    sumState(toUInt64(status = 'timeout')) AS timeouts,
    sumState(toUInt64(cold_start)) AS cold_starts,
    sumState(if(cold_start = 1, init_duration_ms, 0)) AS init_duration_ms_sum,
    sumState(duration_ms) AS duration_ms_sum,
    quantilesTDigestState(0.5, 0.95, 0.99)(duration_ms) AS duration_ms_quantiles,
    maxState(max_memory_used_mb) AS max_memory_used_mb,
    maxState(memory_size_mb) AS memory_size_mb
FROM {{local "invocations"}}
GROUP BY minute, function_name, function_version, account_id, region;
{{distributed "function_figures" "rand()"}};

-- view_horizons: per view, the latest start time of the raw rows that
-- existed when the view was known to exist. A view covers only the rows
-- inserted after its creation, and every row inserted before has a start
-- time at or before the horizon: the view holds every row of a time range
-- that starts after it. The horizon is taken after the views exist, so it
-- errs on the early side. The table is per server (not replicated): in
-- cluster mode only the server that migrated has the rows, and readers on
-- the others check the views against the raw tables instead.
CREATE TABLE IF NOT EXISTS {{.Database}}.view_horizons{{onCluster}}
(
    view String,
    horizon_unix_nano UInt64,
    recorded_at DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree()
ORDER BY view;

INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'function_figures', max(start_unix_nano)
FROM {{.Database}}.invocations;

INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'usage_daily', max(start_unix_nano)
FROM {{.Database}}.invocations;
