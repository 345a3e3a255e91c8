-- Migration 50: what the completeness report compares, per function and
-- hour, in one table partitioned by month, kept by materialized views on
-- invocations, spans and logs, so that a 30-day report reads a few parts
-- of one narrow table instead of every counted invocation record (sixteen
-- columns), every span and every log line of the range.
--
-- The key is the report's: the hour (of the invocation's start, the
-- span's start, the log line's time) and the function. invocations and
-- the tel_* sums are those of the records that carry the extension's
-- counts (tel_counted = 1, migration 16), summed as the report sums them;
-- spans_stored and log_lines_stored count the rows stored. Each view fills
-- its own columns and writes 0 to the others (18.x wants every column of
-- the table from a view); rows of one key are summed when
-- parts merge (read with sum()). ingest_losses, already hourly, is read as
-- it is. The views cover only the rows inserted after they exist: the
-- horizons recorded below, one per table, say from when the table is whole
-- (view_horizons, migration 8; the reader takes the latest). Its
-- partitions are months, so retention by day leaves them whole, as
-- cost_hours' (migration 30).
CREATE TABLE IF NOT EXISTS {{local "completeness_hours"}}{{onCluster}}
(
    hour DateTime('UTC'),
    function_name {{lc "String"}},
    invocations UInt64,
    tel_spans_received UInt64,
    tel_log_lines_received UInt64,
    tel_bytes_received UInt64,
    tel_bytes_shipped UInt64,
    tel_spans_sampled_out UInt64,
    tel_spans_dropped UInt64,
    tel_log_lines_dropped UInt64,
    tel_spans_spooled UInt64,
    tel_log_lines_spooled UInt64,
    tel_spans_spool_dropped UInt64,
    tel_log_lines_spool_dropped UInt64,
    tel_platform_logs_dropped UInt64,
    tel_spans_refused UInt64,
    tel_log_lines_refused UInt64,
    spans_stored UInt64,
    log_lines_stored UInt64
)
ENGINE = {{engine "SummingMergeTree" "completeness_hours"}}
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, function_name)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.completeness_hours_invocations_mv{{onCluster}}
TO {{local "completeness_hours"}}
AS SELECT
    toStartOfHour(start_time) AS hour,
    function_name,
    count() AS invocations,
    sum(tel_spans_received) AS tel_spans_received,
    sum(tel_log_lines_received) AS tel_log_lines_received,
    sum(tel_bytes_received) AS tel_bytes_received,
    sum(tel_bytes_shipped) AS tel_bytes_shipped,
    sum(tel_spans_sampled_out) AS tel_spans_sampled_out,
    sum(tel_spans_dropped) AS tel_spans_dropped,
    sum(tel_log_lines_dropped) AS tel_log_lines_dropped,
    sum(tel_spans_spooled) AS tel_spans_spooled,
    sum(tel_log_lines_spooled) AS tel_log_lines_spooled,
    sum(tel_spans_spool_dropped) AS tel_spans_spool_dropped,
    sum(tel_log_lines_spool_dropped) AS tel_log_lines_spool_dropped,
    sum(tel_platform_logs_dropped) AS tel_platform_logs_dropped,
    sum(tel_spans_refused) AS tel_spans_refused,
    sum(tel_log_lines_refused) AS tel_log_lines_refused,
    toUInt64(0) AS spans_stored,
    toUInt64(0) AS log_lines_stored
FROM {{local "invocations"}}
WHERE tel_counted = 1
GROUP BY hour, function_name;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.completeness_hours_spans_mv{{onCluster}}
TO {{local "completeness_hours"}}
AS SELECT
    toStartOfHour(start_time) AS hour,
    function_name,
    toUInt64(0) AS invocations,
    toUInt64(0) AS tel_spans_received,
    toUInt64(0) AS tel_log_lines_received,
    toUInt64(0) AS tel_bytes_received,
    toUInt64(0) AS tel_bytes_shipped,
    toUInt64(0) AS tel_spans_sampled_out,
    toUInt64(0) AS tel_spans_dropped,
    toUInt64(0) AS tel_log_lines_dropped,
    toUInt64(0) AS tel_spans_spooled,
    toUInt64(0) AS tel_log_lines_spooled,
    toUInt64(0) AS tel_spans_spool_dropped,
    toUInt64(0) AS tel_log_lines_spool_dropped,
    toUInt64(0) AS tel_platform_logs_dropped,
    toUInt64(0) AS tel_spans_refused,
    toUInt64(0) AS tel_log_lines_refused,
    count() AS spans_stored,
    toUInt64(0) AS log_lines_stored
FROM {{local "spans"}}
GROUP BY hour, function_name;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.completeness_hours_logs_mv{{onCluster}}
TO {{local "completeness_hours"}}
AS SELECT
    toStartOfHour(timestamp) AS hour,
    function_name,
    toUInt64(0) AS invocations,
    toUInt64(0) AS tel_spans_received,
    toUInt64(0) AS tel_log_lines_received,
    toUInt64(0) AS tel_bytes_received,
    toUInt64(0) AS tel_bytes_shipped,
    toUInt64(0) AS tel_spans_sampled_out,
    toUInt64(0) AS tel_spans_dropped,
    toUInt64(0) AS tel_log_lines_dropped,
    toUInt64(0) AS tel_spans_spooled,
    toUInt64(0) AS tel_log_lines_spooled,
    toUInt64(0) AS tel_spans_spool_dropped,
    toUInt64(0) AS tel_log_lines_spool_dropped,
    toUInt64(0) AS tel_platform_logs_dropped,
    toUInt64(0) AS tel_spans_refused,
    toUInt64(0) AS tel_log_lines_refused,
    toUInt64(0) AS spans_stored,
    count() AS log_lines_stored
FROM {{local "logs"}}
GROUP BY hour, function_name;
{{distributed "completeness_hours" "rand()"}};

-- The horizons: the end of the last second a row of each table was stored
-- for (the hours are of the second-resolution columns).
INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'completeness_hours', if(count() = 0, 0, (max(toUInt64(start_time)) + 1) * 1000000000 - 1)
FROM {{.Database}}.invocations;

INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'completeness_hours', if(count() = 0, 0, (max(toUInt64(start_time)) + 1) * 1000000000 - 1)
FROM {{.Database}}.spans;

INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'completeness_hours', if(count() = 0, 0, (max(toUInt64(timestamp)) + 1) * 1000000000 - 1)
FROM {{.Database}}.logs;
