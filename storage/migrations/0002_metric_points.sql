-- Migration 2: metric data points from the OTLP ResourceMetrics of a batch.
--
-- One row per data point. Gauges and sums fill value; histograms fill
-- point_count, point_sum, point_min, point_max, bucket_counts and
-- explicit_bounds; exponential histograms keep count, sum, min and max;
-- summaries keep count and sum with their quantiles in explicit_bounds and the
-- values in quantile_values. temporality is the OTLP AggregationTemporality
-- number (1 delta, 2 cumulative). Exemplars keep their trace ID and value, so
-- a point links to a trace. Reads are "this metric of this function over a
-- time range": the metric name leads the key, then the function, then time.
CREATE TABLE IF NOT EXISTS {{local "metric_points"}}{{onCluster}}
(
    timestamp DateTime('UTC'){{codec "DoubleDelta, ZSTD(1)"}},
    time_unix_nano UInt64{{codec "DoubleDelta, ZSTD(1)"}},
    start_time_unix_nano UInt64{{codec "ZSTD(1)"}},
    service_name {{lc "String"}}{{codec "ZSTD(1)"}},
    function_name {{lc "String"}}{{codec "ZSTD(1)"}},
    function_version {{lc "String"}}{{codec "ZSTD(1)"}},
    account_id {{lc "String"}}{{codec "ZSTD(1)"}},
    region {{lc "String"}}{{codec "ZSTD(1)"}},
    scope_name {{lc "String"}}{{codec "ZSTD(1)"}},
    metric_name {{lc "String"}}{{codec "ZSTD(1)"}},
    metric_type {{lc "String"}}{{codec "ZSTD(1)"}},
    unit {{lc "String"}}{{codec "ZSTD(1)"}},
    temporality UInt8,
    is_monotonic UInt8,
    flags UInt32{{codec "ZSTD(1)"}},
    value Float64{{codec "ZSTD(1)"}},
    point_count UInt64{{codec "T64, ZSTD(1)"}},
    point_sum Float64{{codec "ZSTD(1)"}},
    point_min Float64{{codec "ZSTD(1)"}},
    point_max Float64{{codec "ZSTD(1)"}},
    bucket_counts Array(UInt64){{codec "ZSTD(1)"}},
    explicit_bounds Array(Float64){{codec "ZSTD(1)"}},
    quantile_values Array(Float64){{codec "ZSTD(1)"}},
    attributes Nested(key {{lc "String"}}, value String),
    resource_attributes Nested(key {{lc "String"}}, value String),
    exemplar_trace_ids Array(FixedString(16)){{codec "ZSTD(1)"}},
    exemplar_values Array(Float64){{codec "ZSTD(1)"}}
{{- if .Capabilities.SkipIndexes}},
    INDEX idx_service service_name TYPE bloom_filter(0.01) GRANULARITY 1
{{- end}}
)
ENGINE = {{engine "MergeTree" "metric_points"}}
PARTITION BY toDate(timestamp)
ORDER BY (metric_name, function_name, timestamp)
SETTINGS index_granularity = 8192;
{{distributed "metric_points" "rand()"}};
