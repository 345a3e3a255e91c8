-- Migration 5: service-to-service edges per minute, kept by a materialized
-- view on spans.
--
-- A materialized view sees one inserted block and cannot join a CLIENT span
-- with its child SERVER span in another service (the child often arrives in
-- another batch, from another function). So an edge is derived from the
-- calling side alone: every CLIENT (3) or PRODUCER (4) span names its callee
-- in the first non-empty of the attributes peer.service, faas.invoked_name,
-- rpc.service, messaging.destination.name, db.system, db.system.name,
-- server.address and net.peer.name; spans naming none are not edges. errors
-- counts calls with status ERROR; durations are the caller's view of the call.
CREATE TABLE IF NOT EXISTS {{local "service_edges"}}{{onCluster}}
(
    minute DateTime('UTC'),
    caller_service {{lc "String"}},
    caller_function {{lc "String"}},
    callee {{lc "String"}},
    calls AggregateFunction(count),
    errors AggregateFunction(sum, UInt64),
    duration_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.99), Float64)
)
ENGINE = {{engine "AggregatingMergeTree" "service_edges"}}
PARTITION BY toDate(minute)
ORDER BY (caller_service, callee, minute, caller_function)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.service_edges_mv{{onCluster}}
TO {{local "service_edges"}}
AS SELECT
    toStartOfMinute(start_time) AS minute,
    service_name AS caller_service,
    function_name AS caller_function,
    multiIf(
        attributes.value[indexOf(attributes.key, 'peer.service')] != '', attributes.value[indexOf(attributes.key, 'peer.service')],
        attributes.value[indexOf(attributes.key, 'faas.invoked_name')] != '', attributes.value[indexOf(attributes.key, 'faas.invoked_name')],
        attributes.value[indexOf(attributes.key, 'rpc.service')] != '', attributes.value[indexOf(attributes.key, 'rpc.service')],
        attributes.value[indexOf(attributes.key, 'messaging.destination.name')] != '', attributes.value[indexOf(attributes.key, 'messaging.destination.name')],
        attributes.value[indexOf(attributes.key, 'db.system')] != '', attributes.value[indexOf(attributes.key, 'db.system')],
        attributes.value[indexOf(attributes.key, 'db.system.name')] != '', attributes.value[indexOf(attributes.key, 'db.system.name')],
        attributes.value[indexOf(attributes.key, 'server.address')] != '', attributes.value[indexOf(attributes.key, 'server.address')],
        attributes.value[indexOf(attributes.key, 'net.peer.name')]) AS callee,
    countState() AS calls,
    sumState(toUInt64(status_code = 2)) AS errors,
    quantilesTDigestState(0.5, 0.9, 0.99)(duration_ns / 1000000) AS duration_ms_quantiles
FROM {{local "spans"}}
WHERE kind IN (3, 4) AND callee != ''
GROUP BY minute, caller_service, caller_function, callee;
{{distributed "service_edges" "rand()"}};
