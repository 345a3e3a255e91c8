-- Migration 46: trace_hours (migration 17) is partitioned by month
-- instead of by week.
--
-- A trace is looked up in trace_hours by its key alone, without a time
-- range (a trace ID says nothing of when the trace was), so the lookup
-- opens both columns of every part of every partition: over 30 days the
-- weekly partitions gave five or six partitions and about ten parts, 40
-- files that a cold read waits for one by one, two thirds of the first
-- step of a trace read. By month, 30 days lie in one or two partitions,
-- whose parts merge into fewer and larger ones. The table stays small
-- (about 1 byte per span). Retention drops a month once its last day is
-- due (cost_hours and streaming_hours are partitioned so too): the index
-- keeps up to a month of hours whose spans are gone, which a lookup reads
-- as hours holding nothing.
--
-- 18.16 cannot change a partition key: the new table is made here, and
-- the migration's step in Go (rebuildTraceHours, migrate_trace_hours.go)
-- gives it the name trace_hours, whose view then writes into it by name,
-- before the old rows are copied in week by week; a copy cut short starts
-- again at the week it stopped in, and ReplacingMergeTree folds a week
-- copied twice. Each month is then merged into one part (OPTIMIZE ...
-- FINAL): the copy leaves a part per week, which background merges would
-- leave as they are in a month that gets no more rows. Clusters keep the weekly table of migration 17 (a copy
-- would reach only the migrating shard); retention knows both.
{{- if not .Cluster}}
CREATE TABLE IF NOT EXISTS {{.Database}}.trace_hours_v46
(
    trace_key FixedString(8){{codec "ZSTD(1)"}},
    hour DateTime('UTC'){{codec "ZSTD(1)"}}
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (trace_key, hour)
SETTINGS index_granularity = 1024;
{{- end}}
