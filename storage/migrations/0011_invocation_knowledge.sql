-- Migration 11: what an invocation record does not know.
--
-- unknown_figures: the figures the platform did not report, as an OR of
-- 1 duration, 2 billed duration, 4 memory size, 8 max memory used (the
-- Ingest API's Figure values). A figure marked unknown reads 0, except the
-- billed duration, which holds the duration rounded up to 1 ms (what AWS
-- would bill) so that the usage views and the cost report price the
-- invocation; readers mark that figure as an estimate.
-- incomplete: 1 when the platform sent no platform.report before the
-- environment shut down and the record holds what was known without it.
-- tenant_id: the tenant of a function in tenant isolation mode, empty
-- otherwise.
-- Rows written before this migration read 0 in both figures (complete,
-- every figure known) and no tenant.
--
-- 18.x has no IF NOT EXISTS on ADD COLUMN; newer servers get it, so that a
-- cluster migration cut short between its statements can run again (on
-- 18.x Migrate runs the ALTER only where a column is missing,
-- execMigrationStatement). In
-- cluster mode the Distributed table, which holds no rows, is made again
-- from the altered shard table: ALTER ... ON CLUSTER refuses a table that
-- is not replicated on a cluster whose shards are.
ALTER TABLE {{local "invocations"}}{{onCluster}}
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} unknown_figures UInt8 DEFAULT 0,
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} incomplete UInt8 DEFAULT 0,
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tenant_id {{lc "String"}} DEFAULT ''{{codec "ZSTD(1)"}};
{{- if .Cluster}}
DROP TABLE IF EXISTS {{.Database}}.invocations{{onCluster}};
{{distributed "invocations" "cityHash64(request_id)"}};
{{- end}}
