-- Migration 16: what the extension received for each invocation and what
-- became of it, and what the collector refused, so that readers can compare
-- what was sent with what was stored and name where anything went missing.
--
-- invocations gains the extension's counts (the Ingest API's
-- TelemetryCounts): tel_counted is 1 when the record carries them (records
-- of extensions that do not count, and rows written before, read 0
-- everywhere). The counts are those since the extension's previous record:
-- summed over a function's records they are what its extensions received
-- (spans, log lines, encoded bytes), shipped (bytes), left out by sampling,
-- dropped (tel_*_dropped; of them tel_*_refused by the collector for
-- good), moved to the spool, lost by the spool, and what Lambda itself
-- reported as dropped (platform.logsDropped).
--
-- It gains what observability costs, too: runtime_duration_ms, the
-- runtime's part of the invocation (platform.runtimeDone's duration; the
-- billed time beyond it is the extensions'), and extension_init_ms, on the
-- first record of an environment, the extension's own start to its first
-- /event/next. Both read 0 when unknown.
--
-- 18.x has no IF NOT EXISTS on ADD COLUMN; newer servers get it, so that a
-- cluster migration cut short between its statements can run again (on
-- 18.x Migrate runs the ALTER only where a column is missing,
-- execMigrationStatement). In
-- cluster mode the Distributed table, which holds no rows, is made again
-- from the altered shard table (as migration 11 does).
ALTER TABLE {{local "invocations"}}{{onCluster}}
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_counted UInt8 DEFAULT 0,
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_spans_received UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_log_lines_received UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_bytes_received UInt64 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_bytes_shipped UInt64 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_spans_sampled_out UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_spans_dropped UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_log_lines_dropped UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_spans_spooled UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_log_lines_spooled UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_spans_spool_dropped UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_log_lines_spool_dropped UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_platform_logs_dropped UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_spans_refused UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} tel_log_lines_refused UInt32 DEFAULT 0{{codec "T64, ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} runtime_duration_ms Float64 DEFAULT 0{{codec "ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} extension_init_ms Float64 DEFAULT 0{{codec "ZSTD(1)"}};
{{- if .Cluster}}
DROP TABLE IF EXISTS {{.Database}}.invocations{{onCluster}};
{{distributed "invocations" "cityHash64(request_id)"}};
{{- end}}

-- ingest_losses: the items the collector took in and did not store, per
-- hour of the items' own time, function, signal, stage and reason
-- ("collector" / "item_limit", "bad_item", ...; "storage" / "refused" for a
-- batch ClickHouse refused). The collector adds rows as it drops; rows of
-- one key are summed when parts merge (read with sum(items)).
CREATE TABLE IF NOT EXISTS {{local "ingest_losses"}}{{onCluster}}
(
    hour DateTime('UTC'),
    function_name {{lc "String"}},
    signal {{lc "String"}},
    stage {{lc "String"}},
    reason {{lc "String"}},
    items UInt64
)
ENGINE = {{engine "SummingMergeTree" "ingest_losses"}}
PARTITION BY toDate(hour)
ORDER BY (function_name, hour, signal, stage, reason)
SETTINGS index_granularity = 8192;
{{distributed "ingest_losses" "cityHash64(function_name)"}};
