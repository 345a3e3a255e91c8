-- Migration 12: in cluster mode, metric points are sharded by what they
-- are (function, metric, time) instead of at random. A retried batch then
-- sends the same rows to the same shard in the same block, which the
-- shard's ReplicatedMergeTree drops as a duplicate; with rand() each retry
-- split the points differently and stored them again. The Distributed
-- table holds no rows (inserts are synchronous), so it is replaced: inserts
-- and reads of metric points fail for the moment between the two
-- statements, and the collector retries them. Nothing on a single server.
{{- if .Cluster}}
DROP TABLE IF EXISTS {{.Database}}.metric_points{{onCluster}};
{{distributed "metric_points" "cityHash64(function_name, metric_name, time_unix_nano)"}};
{{- end}}
