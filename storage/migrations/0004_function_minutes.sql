-- Migration 4: per-function, per-minute figures, kept by a materialized view
-- on invocations.
--
-- errors counts every status but "success" (error, timeout, failure);
-- timeouts counts "timeout" alone. duration_ms_quantiles holds t-digest states
-- for p50, p90 and p99 of the duration; read them with
-- quantilesTDigestMerge(0.5, 0.9, 0.99). billed_gb_seconds is
-- (billed duration + billed init duration) in seconds times memory in GiB.
-- Like every view here it covers rows inserted after it exists.
CREATE TABLE IF NOT EXISTS {{local "function_minutes"}}{{onCluster}}
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
    duration_ms_sum AggregateFunction(sum, Float64),
    duration_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.99), Float64),
    billed_gb_seconds AggregateFunction(sum, Float64),
    max_memory_used_mb AggregateFunction(max, UInt32)
)
ENGINE = {{engine "AggregatingMergeTree" "function_minutes"}}
PARTITION BY toDate(minute)
ORDER BY (function_name, minute, function_version, account_id, region)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.function_minutes_mv{{onCluster}}
TO {{local "function_minutes"}}
AS SELECT
    toStartOfMinute(start_time) AS minute,
    function_name,
    function_version,
    account_id,
    region,
    countState() AS invocations,
    sumState(toUInt64(status != 'success')) AS errors,
    sumState(toUInt64(status = 'timeout')) AS timeouts,
    sumState(toUInt64(cold_start)) AS cold_starts,
    sumState(duration_ms) AS duration_ms_sum,
    quantilesTDigestState(0.5, 0.9, 0.99)(duration_ms) AS duration_ms_quantiles,
    sumState((toFloat64(billed_duration_ms) + billed_init_duration_ms) * memory_size_mb / 1024000) AS billed_gb_seconds,
    maxState(max_memory_used_mb) AS max_memory_used_mb
FROM {{local "invocations"}}
GROUP BY minute, function_name, function_version, account_id, region;
{{distributed "function_minutes" "rand()"}};
