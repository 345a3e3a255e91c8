-- Migration 31: the horizon of trace_hours (migration 17; see
-- view_horizons, migration 8), so that a trace search reads the found
-- traces only in the hours trace_hours holds for them where it knows them
-- all.
--
-- trace_hours counts the spans inserted after migration 17; the spans
-- stored before were moved into the new spans table by partition, which
-- its view does not see. On a database that migration 1 made in the same
-- run as migration 17 (within ten minutes) no span came before: the
-- horizon is 0. Otherwise it is an hour after migration 17 was recorded:
-- the spans stored before it started before then, unless a clock ran more
-- than an hour ahead.
INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'trace_hours',
    if(toUInt32(maxIf(applied_at, version = 17)) < toUInt32(minIf(applied_at, version = 1)) + 600,
        toUInt64(0),
        (toUInt64(toUInt32(maxIf(applied_at, version = 17))) + 3600) * 1000000000)
FROM {{.Database}}.schema_migrations;
