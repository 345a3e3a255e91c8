-- Demo-shaped spans: trace t is the demo's request (see
-- storage/storagetest.DemoTrace) through one of @pairs pairs of functions,
-- orders-NN calling inventory-NN: six spans, in the order
--   0 POST /orders (SERVER, root)       3 inventory invoke (CLIENT, under 1)
--   1 place order (INTERNAL, under 0)   4 inventory (SERVER, direct invoke, under 3)
--   2 INSERT shop.orders (CLIENT, under 1)  5 reserve stock (INTERNAL, under 4)
-- with the demo's ten resource attributes and its span attributes, the
-- request ID on each invocation's SERVER span, a cold start in 50 and a
-- failed trace in 200 (both SERVER spans in error). Trace t starts at
-- @begin + t * @step plus a hash-chosen jitter below @step, so the data is
-- spread evenly over the range in time order. Every value is a hash of
-- (trace, span, purpose): bulk_invocations.sql computes the same request
-- IDs, starts and durations.
--
-- One statement writes span {{.C}} of the @rows traces from trace @offset
-- on: with the span's position a constant, its name, kind, attribute keys
-- and offsets are constants too, and only its own attribute values are
-- computed for each row.
INSERT INTO {{.DB}}.spans (start_time, start_unix_nano, duration_ns, trace_id, span_id, parent_span_id, name, kind,
    status_code, status_message, service_name, function_name, function_version, account_id, region, request_id,
    scope_name, scope_version, attributes.key, attributes.value, resource_attributes.key, resource_attributes.value)
SELECT toDateTime(intDiv(start_ns, 1000000000)), start_ns, dur_ns, trace_id, span_id, parent_id, name, kind,
    status, status_message, concat(fn, '-svc'), fn, '$LATEST', account, region, req,
    scope, '0.1.0', akeys, avals,
    ['service.name', 'cloud.provider', 'cloud.platform', 'cloud.region', 'faas.name', 'faas.version',
        'faas.instance', 'faas.max_memory', 'telemetry.sdk.language', 'telemetry.sdk.name'],
    [concat(fn, '-svc'), 'aws', 'aws_lambda', region, fn, '$LATEST', instance,
        toString(toUInt64(memory) * 1048576), 'go', 'opentelemetry']
FROM (
    SELECT
        number + @offset AS t,
        {{.C}} AS c,
        {{if ge .C 4}}1{{else}}0{{end}} AS inventory,
        cityHash64(t, 1) % @pairs AS pair,
        concat('{{if ge .C 4}}inventory-{{else}}orders-{{end}}', if(pair < 10, '0', ''), toString(pair)) AS fn,
        '{{if ge .C 4}}inventory{{else}}orders{{end}}' AS scope,
        toString(123456789012 + pair % 2) AS account,
        ['eu-west-1', 'us-east-1'][intDiv(pair, 2) % 2 + 1] AS region,
        [128, 256, 512, 1024, 1769, 3008][(pair + {{if ge .C 4}}3{{else}}0{{end}}) % 6 + 1] AS memory,
        -- an execution environment serves about a thousand traces
        concat('2026/06/01/[$LATEST]', lower(hex(cityHash64(pair, inventory, intDiv(t, 1000))))) AS instance,
        @begin + t * @step + cityHash64(t, 2) % @step AS trace_ns,
        -- durations in ms: the demo's, scaled by the pair (1× to 3×)
        1 + (pair % 5) * 0.5 AS scale,
        (cityHash64(t, 3) % 1000) / 1000 AS j,
        {{pick .C "scale * (40 + 20 * j)" "scale * (40 + 20 * j) - 2 * scale" "scale * (4 + 2 * j)" "scale * (20 + 10 * j)"
            "scale * (12 + 6 * j)" "scale * (8 + 4 * j)"}} AS dur_ms,
        {{pick .C "0" "1" "2" "10" "12" "13"}} * scale AS offset_ms,
        cityHash64(t, 4) % 200 = 0 AS failed,
        cityHash64(t, inventory, 14) % 50 = 0 AS cold,
        toFixedString(concat(reinterpretAsString(bitOr(cityHash64(t, 5), 9223372036854775808)),
            reinterpretAsString(bitOr(cityHash64(t, 6), 9223372036854775808))), 16) AS trace_id,
        toFixedString(reinterpretAsString(bitOr(cityHash64(t, c, 7), 9223372036854775808)), 8) AS span_id,
{{- if eq .C 0}}
        toFixedString(unhex('0000000000000000'), 8) AS parent_id,
{{- else}}
        toFixedString(reinterpretAsString(bitOr(cityHash64(t, {{pick .C "0" "0" "1" "1" "3" "4"}}, 7), 9223372036854775808)), 8) AS parent_id,
{{- end}}
        '{{pick .C "POST /orders" "place order" "INSERT shop.orders" "inventory invoke" "inventory" "reserve stock"}}' AS name,
        {{pick .C "2" "1" "3" "3" "2" "1"}} AS kind,
{{- if or (eq .C 0) (eq .C 4)}}
        if(failed, 2, 0) AS status,
        if(failed, '{{if eq .C 0}}inventory answered 500{{else}}stock service unavailable{{end}}', '') AS status_message,
        lower(hex(reinterpretAsString(cityHash64(t, inventory, 8)))) AS h1,
        lower(hex(reinterpretAsString(cityHash64(t, inventory, 9)))) AS h2,
        concat(substring(h1, 1, 8), '-', substring(h1, 9, 4), '-', substring(h1, 13, 4), '-',
            substring(h2, 1, 4), '-', substring(h2, 5, 12)) AS req,
        concat('arn:aws:lambda:', region, ':', account, ':function:', fn) AS arn,
{{- else}}
        0 AS status,
        '' AS status_message,
        '' AS req,
{{- end}}
        trace_ns + toUInt64(offset_ms * 1000000) AS start_ns,
        toUInt64(dur_ms * 1000000) AS dur_ns,
{{- if eq .C 0}}
        ['faas.trigger', 'faas.coldstart', 'cloud.resource_id', 'cloud.account.id', 'http.request.method',
            'url.path', 'http.route', 'http.response.status_code'] AS akeys,
        ['http', if(cold, 'true', 'false'), arn, account, 'POST', '/orders', '/orders', if(failed, '502', '201')] AS avals
{{- else if eq .C 1}}
        ['order.sku', 'order.qty'] AS akeys,
        [concat('SKU-', substring(toString(10000 + cityHash64(t, 10) % 500), 2)), toString(1 + cityHash64(t, 11) % 5)] AS avals
{{- else if eq .C 2}}
        ['db.system.name', 'db.namespace', 'db.collection.name', 'db.operation.name', 'db.query.text',
            'server.address', 'server.port'] AS akeys,
        ['postgresql', 'shop', 'orders', 'INSERT', 'INSERT INTO orders (sku, qty) VALUES ($1, $2) RETURNING id',
            'orders-db.internal', '5432'] AS avals
{{- else if eq .C 3}}
        ['rpc.system', 'rpc.service', 'rpc.method', 'cloud.region', 'faas.invoked_name',
            'faas.invoked_provider', 'faas.invoked_region'] AS akeys,
        ['aws-api', 'Lambda', 'Invoke', region, concat('inventory-', if(pair < 10, '0', ''), toString(pair)), 'aws', region] AS avals
{{- else if eq .C 4}}
        ['faas.trigger', 'faas.coldstart', 'cloud.resource_id', 'cloud.account.id'] AS akeys,
        ['other', if(cold, 'true', 'false'), arn, account] AS avals
{{- else}}
        ['inventory.sku', 'inventory.qty'] AS akeys,
        [concat('SKU-', substring(toString(10000 + cityHash64(t, 10) % 500), 2)), toString(1 + cityHash64(t, 11) % 5)] AS avals
{{- end}}
    FROM numbers(@rows)
)
