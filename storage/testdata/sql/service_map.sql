SELECT caller, callee, min(resource) AS resource,
    countMerge(calls) AS calls,
    sumMerge(errors) AS errors,
    quantilesTDigestMerge(0.5, 0.95, 0.99)(q) AS q
FROM (
    SELECT CAST(caller AS String) AS caller, CAST(callee AS String) AS callee, resource,
        calls, errors, duration_ns_quantiles AS q
    FROM lambdascope.service_map_hours
    WHERE hour >= toDateTime(?)
      AND hour < toDateTime(?)
    UNION ALL
    SELECT CAST(caller AS String) AS caller, CAST(callee AS String) AS callee, resource,
        calls, errors, duration_ns_quantiles AS q
    FROM lambdascope.service_map_minutes
    WHERE minute >= toDateTime(?)
      AND minute < toDateTime(?)
    UNION ALL
    SELECT caller, callee, resource,
        countState() AS calls,
        sumState(toUInt64(status_code = 2)) AS errors,
        quantilesTDigestState(0.5, 0.95, 0.99)(toFloat64(duration_ns)) AS q
    FROM (
        SELECT if(function_name != '', function_name, service_name) AS caller,
            multiIf(attributes.value[indexOf(attributes.key, 'peer.service')] != '', attributes.value[indexOf(attributes.key, 'peer.service')], attributes.value[indexOf(attributes.key, 'faas.invoked_name')] != '', attributes.value[indexOf(attributes.key, 'faas.invoked_name')], attributes.value[indexOf(attributes.key, 'db.system')] != '', attributes.value[indexOf(attributes.key, 'db.system')], attributes.value[indexOf(attributes.key, 'db.system.name')] != '', attributes.value[indexOf(attributes.key, 'db.system.name')], attributes.value[indexOf(attributes.key, 'messaging.system')] != '', attributes.value[indexOf(attributes.key, 'messaging.system')], attributes.value[indexOf(attributes.key, 'rpc.service')] != '', attributes.value[indexOf(attributes.key, 'rpc.service')], attributes.value[indexOf(attributes.key, 'server.address')] != '', attributes.value[indexOf(attributes.key, 'server.address')], attributes.value[indexOf(attributes.key, 'net.peer.name')]) AS callee,
            toUInt8(attributes.value[indexOf(attributes.key, 'peer.service')] = '' AND attributes.value[indexOf(attributes.key, 'faas.invoked_name')] = '') AS resource,
            status_code, duration_ns
        FROM lambdascope.spans
        WHERE start_time >= toDateTime(?)
          AND start_time < toDateTime(?)
          AND start_unix_nano >= ?
          AND start_unix_nano < ?
          AND kind IN (3, 4))
    WHERE callee != ''
    GROUP BY caller, callee, resource
    UNION ALL
    SELECT caller, callee, resource,
        countState() AS calls,
        sumState(toUInt64(status_code = 2)) AS errors,
        quantilesTDigestState(0.5, 0.95, 0.99)(toFloat64(duration_ns)) AS q
    FROM (
        SELECT if(function_name != '', function_name, service_name) AS caller,
            multiIf(attributes.value[indexOf(attributes.key, 'peer.service')] != '', attributes.value[indexOf(attributes.key, 'peer.service')], attributes.value[indexOf(attributes.key, 'faas.invoked_name')] != '', attributes.value[indexOf(attributes.key, 'faas.invoked_name')], attributes.value[indexOf(attributes.key, 'db.system')] != '', attributes.value[indexOf(attributes.key, 'db.system')], attributes.value[indexOf(attributes.key, 'db.system.name')] != '', attributes.value[indexOf(attributes.key, 'db.system.name')], attributes.value[indexOf(attributes.key, 'messaging.system')] != '', attributes.value[indexOf(attributes.key, 'messaging.system')], attributes.value[indexOf(attributes.key, 'rpc.service')] != '', attributes.value[indexOf(attributes.key, 'rpc.service')], attributes.value[indexOf(attributes.key, 'server.address')] != '', attributes.value[indexOf(attributes.key, 'server.address')], attributes.value[indexOf(attributes.key, 'net.peer.name')]) AS callee,
            toUInt8(attributes.value[indexOf(attributes.key, 'peer.service')] = '' AND attributes.value[indexOf(attributes.key, 'faas.invoked_name')] = '') AS resource,
            status_code, duration_ns
        FROM lambdascope.spans
        WHERE start_time >= toDateTime(?)
          AND start_time < toDateTime(?)
          AND start_unix_nano >= ?
          AND start_unix_nano < ?
          AND kind IN (3, 4))
    WHERE callee != ''
    GROUP BY caller, callee, resource)
GROUP BY caller, callee
ORDER BY caller, callee
