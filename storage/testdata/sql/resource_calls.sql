SELECT source, resource,
    count() AS calls,
    countIf(status_code = 2) AS errors,
    quantiles(0.5, 0.95, 0.99)(duration_ns) AS q
FROM (
    SELECT if(function_name != '', function_name, service_name) AS source, status_code, duration_ns,
        arrayFirst(x -> x != '', [attributes.value[indexOf(attributes.key, 'peer.service')], attributes.value[indexOf(attributes.key, 'db.system')], attributes.value[indexOf(attributes.key, 'messaging.system')], attributes.value[indexOf(attributes.key, 'rpc.service')], attributes.value[indexOf(attributes.key, 'server.address')], attributes.value[indexOf(attributes.key, 'net.peer.name')]]) AS resource
    FROM lambdascope.spans
    WHERE start_time >= toDateTime(?)
  AND start_time < toDateTime(?)
  AND start_unix_nano >= ?
  AND start_unix_nano < ?
  AND kind IN (3, 4))
WHERE resource != ''
GROUP BY source, resource
ORDER BY source, resource
