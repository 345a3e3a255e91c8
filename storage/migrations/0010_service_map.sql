-- Migration 10: the service map's edges per minute and per hour, kept by
-- materialized views on spans, with the horizon before which the views may
-- miss rows (see view_horizons, migration 8). Long ranges read whole hours,
-- their ragged ends whole minutes, and only the seconds at each end come
-- from raw spans.
--
-- An edge is a CLIENT (3) or PRODUCER (4) span naming what it calls; the
-- caller is the span's function, else its service. The callee is the first
-- non-empty of peer.service and faas.invoked_name, which name a traced
-- function or service (resource = 0), else of db.system, db.system.name,
-- messaging.system, rpc.service, server.address and net.peer.name, which
-- name a downstream resource (resource = 1). Spans naming none are not
-- edges. errors counts calls with status ERROR; durations (nanoseconds) are
-- the caller's view of the call. storage/read_sql.go computes the same from
-- raw spans for the time the views do not cover (serviceMapCalleeExpr).
CREATE TABLE IF NOT EXISTS {{local "service_map_minutes"}}{{onCluster}}
(
    minute DateTime('UTC'),
    caller {{lc "String"}},
    callee {{lc "String"}},
    resource UInt8,
    calls AggregateFunction(count),
    errors AggregateFunction(sum, UInt64),
    duration_ns_quantiles AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = {{engine "AggregatingMergeTree" "service_map_minutes"}}
PARTITION BY toDate(minute)
ORDER BY (minute, caller, callee, resource)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.service_map_minutes_mv{{onCluster}}
TO {{local "service_map_minutes"}}
AS SELECT
    toStartOfMinute(start_time) AS minute,
    if(function_name != '', function_name, service_name) AS caller,
    multiIf(
        attributes.value[indexOf(attributes.key, 'peer.service')] != '', attributes.value[indexOf(attributes.key, 'peer.service')],
        attributes.value[indexOf(attributes.key, 'faas.invoked_name')] != '', attributes.value[indexOf(attributes.key, 'faas.invoked_name')],
        attributes.value[indexOf(attributes.key, 'db.system')] != '', attributes.value[indexOf(attributes.key, 'db.system')],
        attributes.value[indexOf(attributes.key, 'db.system.name')] != '', attributes.value[indexOf(attributes.key, 'db.system.name')],
        attributes.value[indexOf(attributes.key, 'messaging.system')] != '', attributes.value[indexOf(attributes.key, 'messaging.system')],
        attributes.value[indexOf(attributes.key, 'rpc.service')] != '', attributes.value[indexOf(attributes.key, 'rpc.service')],
        attributes.value[indexOf(attributes.key, 'server.address')] != '', attributes.value[indexOf(attributes.key, 'server.address')],
        attributes.value[indexOf(attributes.key, 'net.peer.name')]) AS callee,
    toUInt8(attributes.value[indexOf(attributes.key, 'peer.service')] = ''
        AND attributes.value[indexOf(attributes.key, 'faas.invoked_name')] = '') AS resource,
    countState() AS calls,
    sumState(toUInt64(status_code = 2)) AS errors,
    quantilesTDigestState(0.5, 0.95, 0.99)(toFloat64(duration_ns)) AS duration_ns_quantiles
FROM {{local "spans"}}
WHERE kind IN (3, 4) AND callee != ''
GROUP BY minute, caller, callee, resource;
{{distributed "service_map_minutes" "rand()"}};

CREATE TABLE IF NOT EXISTS {{local "service_map_hours"}}{{onCluster}}
(
    hour DateTime('UTC'),
    caller {{lc "String"}},
    callee {{lc "String"}},
    resource UInt8,
    calls AggregateFunction(count),
    errors AggregateFunction(sum, UInt64),
    duration_ns_quantiles AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = {{engine "AggregatingMergeTree" "service_map_hours"}}
PARTITION BY toDate(hour)
ORDER BY (hour, caller, callee, resource)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.service_map_hours_mv{{onCluster}}
TO {{local "service_map_hours"}}
AS SELECT
    toStartOfHour(start_time) AS hour,
    if(function_name != '', function_name, service_name) AS caller,
    multiIf(
        attributes.value[indexOf(attributes.key, 'peer.service')] != '', attributes.value[indexOf(attributes.key, 'peer.service')],
        attributes.value[indexOf(attributes.key, 'faas.invoked_name')] != '', attributes.value[indexOf(attributes.key, 'faas.invoked_name')],
        attributes.value[indexOf(attributes.key, 'db.system')] != '', attributes.value[indexOf(attributes.key, 'db.system')],
        attributes.value[indexOf(attributes.key, 'db.system.name')] != '', attributes.value[indexOf(attributes.key, 'db.system.name')],
        attributes.value[indexOf(attributes.key, 'messaging.system')] != '', attributes.value[indexOf(attributes.key, 'messaging.system')],
        attributes.value[indexOf(attributes.key, 'rpc.service')] != '', attributes.value[indexOf(attributes.key, 'rpc.service')],
        attributes.value[indexOf(attributes.key, 'server.address')] != '', attributes.value[indexOf(attributes.key, 'server.address')],
        attributes.value[indexOf(attributes.key, 'net.peer.name')]) AS callee,
    toUInt8(attributes.value[indexOf(attributes.key, 'peer.service')] = ''
        AND attributes.value[indexOf(attributes.key, 'faas.invoked_name')] = '') AS resource,
    countState() AS calls,
    sumState(toUInt64(status_code = 2)) AS errors,
    quantilesTDigestState(0.5, 0.95, 0.99)(toFloat64(duration_ns)) AS duration_ns_quantiles
FROM {{local "spans"}}
WHERE kind IN (3, 4) AND callee != ''
GROUP BY hour, caller, callee, resource;
{{distributed "service_map_hours" "rand()"}};

INSERT INTO {{.Database}}.view_horizons (view, horizon_unix_nano)
SELECT 'service_map', max(start_unix_nano)
FROM {{.Database}}.spans;
