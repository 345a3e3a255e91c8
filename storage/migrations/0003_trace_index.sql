-- Migration 3: the trace index, one aggregated row per trace and day, kept
-- by a materialized view on spans.
--
-- SpansByTraceID reads it first (the key is the trace ID, so this is one
-- binary search per daily partition) and then reads spans only inside the
-- trace's [start_min, end_max] window, which prunes every other day's
-- partition and every other hour in the spans primary key. span_count counts
-- stored rows, so a retried batch counts twice; the reader deduplicates spans.
-- The view sees only rows inserted after it exists: spans stored before this
-- migration are not indexed, and the reader falls back to a full lookup when
-- a trace has no index row.
CREATE TABLE IF NOT EXISTS {{local "trace_index"}}{{onCluster}}
(
    day Date,
    trace_id FixedString(16),
    start_min AggregateFunction(min, UInt64),
    end_max AggregateFunction(max, UInt64),
    service_names AggregateFunction(groupUniqArray, String),
    function_names AggregateFunction(groupUniqArray, String),
    span_count AggregateFunction(count)
)
ENGINE = {{engine "AggregatingMergeTree" "trace_index"}}
PARTITION BY day
ORDER BY trace_id
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.trace_index_mv{{onCluster}}
TO {{local "trace_index"}}
AS SELECT
    toDate(start_time) AS day,
    trace_id,
    minState(start_unix_nano) AS start_min,
    maxState(start_unix_nano + duration_ns) AS end_max,
    groupUniqArrayState(toString(service_name)) AS service_names,
    groupUniqArrayState(toString(function_name)) AS function_names,
    countState() AS span_count
FROM {{local "spans"}}
GROUP BY day, trace_id;
{{distributed "trace_index" "cityHash64(trace_id)"}};
