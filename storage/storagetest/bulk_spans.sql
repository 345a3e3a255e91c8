-- Demo-shaped spans: trace t is the demo's placed order (see
-- storage/storagetest.DemoTrace) through one of @pairs pairs of functions,
-- orders-NN calling inventory-NN: twelve spans, in the order
--   0 POST /orders (SERVER, root; the extension's, inferred from API Gateway's event)
--   1 orders (SERVER, under 0)               7 lambda.runtime_overhead (under 6)
--   2 validate order (INTERNAL, under 1)     8 inventory (SERVER, direct invoke, under 4)
--   3 INSERT shop.orders (CLIENT, under 1)   9 reserve stock (INTERNAL, under 8)
--   4 inventory invoke (CLIENT, under 1)    10 lambda.invoke (INTERNAL, under 8)
--   5 send orders-placed (PRODUCER, under 1) 11 lambda.runtime_overhead (under 10)
--   6 lambda.invoke (INTERNAL, under 1; the platform's span)
-- The function's spans carry the demo SDK's eleven resource attributes,
-- the extension's (0, 6, 7, 10, 11) the extension's nine. The request ID
-- is on each invocation's SERVER span and its platform spans; a cold start
-- in 50, a failed trace in 200 (both functions' SERVER spans in error).
-- Trace t starts at @begin + t * @step plus a hash-chosen jitter below
-- @step, so the data is spread evenly over the range in time order. Every
-- value is a hash of (trace, span, purpose): bulk_invocations.sql computes
-- the same request IDs, starts and durations.
--
-- One statement writes span {{.C}} of the @rows traces from trace @offset
-- on: with the span's position a constant, its name, kind, attribute keys
-- and offsets are constants too, and only its own attribute values are
-- computed for each row.
INSERT INTO {{.DB}}.spans (start_time, start_unix_nano, duration_ns, trace_id, span_id, parent_span_id, name, kind,
    status_code, status_message, service_name, function_name, function_version, account_id, region, request_id,
    scope_name, scope_version, attributes.key, attributes.value, resource_attributes.key, resource_attributes.value)
SELECT toDateTime(intDiv(start_ns, 1000000000)), start_ns, dur_ns, trace_id, span_id, parent_id, name, kind,
    status, status_message, fn, fn, '$LATEST', account, region, req,
    scope, scope_version, akeys, avals,
{{- if or (eq .C 0) (eq .C 6) (eq .C 7) (eq .C 10) (eq .C 11)}}
    ['service.name', 'cloud.provider', 'cloud.platform', 'cloud.region', 'cloud.account.id', 'faas.name',
        'faas.version', 'faas.instance', 'faas.max_memory', 'aws.log.group.names'],
    [fn, 'aws', 'aws_lambda', region, account, fn, '$LATEST', instance, toString(toUInt64(memory) * 1048576),
        concat('["/aws/lambda/', fn, '"]')]
{{- else}}
    ['service.name', 'cloud.provider', 'cloud.platform', 'cloud.region', 'faas.name', 'faas.version',
        'faas.instance', 'faas.max_memory', 'telemetry.sdk.language', 'telemetry.sdk.name', 'telemetry.sdk.version',
        'aws.log.group.names'],
    [fn, 'aws', 'aws_lambda', region, fn, '$LATEST', instance,
        toString(toUInt64(memory) * 1048576), 'go', 'opentelemetry', '1.47.0', concat('["/aws/lambda/', fn, '"]')]
{{- end}}
FROM (
    SELECT
        number + @offset AS t,
        {{.C}} AS c,
        {{if ge .C 8}}1{{else}}0{{end}} AS inventory,
        cityHash64(t, 1) % @pairs AS pair,
        concat('{{if ge .C 8}}inventory-{{else}}orders-{{end}}', if(pair < 10, '0', ''), toString(pair)) AS fn,
        '{{pick .C "lambdascope/events" "orders" "orders" "orders" "orders" "orders" "lambdascope/telemetry" "lambdascope/telemetry"
            "inventory" "inventory" "lambdascope/telemetry" "lambdascope/telemetry"}}' AS scope,
        '{{pick .C "" "0.1.0" "0.1.0" "0.1.0" "0.1.0" "0.1.0" "" "" "0.1.0" "0.1.0" "" ""}}' AS scope_version,
        toString(123456789012 + pair % 2) AS account,
        ['eu-west-1', 'us-east-1'][intDiv(pair, 2) % 2 + 1] AS region,
        [128, 256, 512, 1024, 1769, 3008][(pair + {{if ge .C 8}}3{{else}}0{{end}}) % 6 + 1] AS memory,
        -- an execution environment serves about a thousand traces
        concat('2026/06/01/[$LATEST]', lower(hex(cityHash64(pair, inventory, intDiv(t, 1000))))) AS instance,
        @begin + t * @step + cityHash64(t, 2) % @step AS trace_ns,
        -- durations in ms: the demo's, scaled by the pair (1× to 3×)
        1 + (pair % 5) * 0.5 AS scale,
        (cityHash64(t, 3) % 1000) / 1000 AS j,
        {{pick .C "scale * (46 + 20 * j)" "scale * (40 + 20 * j)" "scale * (0.06 + 0.03 * j)" "scale * (4 + 2 * j)"
            "scale * (16 + 6 * j)" "scale * (2 + j)" "scale * (41 + 20 * j)" "scale * (1 + 0.5 * j)"
            "scale * (12 + 6 * j)" "scale * (8 + 4 * j)" "scale * (13 + 6 * j)" "scale * (1 + 0.5 * j)"}} AS dur_ms,
        {{pick .C "0" "2" "2.1" "2.2" "8" "31" "2" "40" "10" "11" "10" "20"}} * scale AS offset_ms,
        cityHash64(t, 4) % 200 = 0 AS failed,
        cityHash64(t, inventory, 14) % 50 = 0 AS cold,
        toFixedString(concat(reinterpretAsString(bitOr(cityHash64(t, 5), 9223372036854775808)),
            reinterpretAsString(bitOr(cityHash64(t, 6), 9223372036854775808))), 16) AS trace_id,
        toFixedString(reinterpretAsString(bitOr(cityHash64(t, c, 7), 9223372036854775808)), 8) AS span_id,
{{- if eq .C 0}}
        toFixedString(unhex('0000000000000000'), 8) AS parent_id,
{{- else}}
        toFixedString(reinterpretAsString(bitOr(cityHash64(t, {{pick .C "0" "0" "1" "1" "1" "1" "1" "6" "4" "8" "8" "10"}}, 7), 9223372036854775808)), 8) AS parent_id,
{{- end}}
        '{{pick .C "POST /orders" "orders" "validate order" "INSERT shop.orders" "inventory invoke" "send orders-placed"
            "lambda.invoke" "lambda.runtime_overhead" "inventory" "reserve stock" "lambda.invoke" "lambda.runtime_overhead"}}' AS name,
        {{pick .C "2" "2" "1" "3" "3" "4" "1" "1" "2" "1" "1" "1"}} AS kind,
        lower(hex(reinterpretAsString(cityHash64(t, inventory, 8)))) AS h1,
        lower(hex(reinterpretAsString(cityHash64(t, inventory, 9)))) AS h2,
        concat(substring(h1, 1, 8), '-', substring(h1, 9, 4), '-', substring(h1, 13, 4), '-',
            substring(h2, 1, 4), '-', substring(h2, 5, 12)) AS request,
        concat('arn:aws:lambda:', region, ':', account, ':function:', fn) AS arn,
{{- if or (eq .C 1) (eq .C 8)}}
        if(failed, 2, 0) AS status,
        if(failed, '{{if eq .C 1}}{"order":"ord-1","error":"inventory answered 500"}{{else}}stock service unavailable{{end}}', '') AS status_message,
{{- else}}
        0 AS status,
        '' AS status_message,
{{- end}}
{{- if or (eq .C 1) (eq .C 6) (eq .C 7) (eq .C 8) (eq .C 10) (eq .C 11)}}
        request AS req,
{{- else}}
        '' AS req,
{{- end}}
        trace_ns + toUInt64(offset_ms * 1000000) AS start_ns,
        toUInt64(dur_ms * 1000000) AS dur_ns,
{{- if eq .C 0}}
        ['aws.apigateway.api_id', 'aws.apigateway.stage', 'faas.trigger', 'http.request.method', 'http.route',
            'server.address', 'url.path', 'lambdascope.trigger', 'lambdascope.invocation_id',
            'lambdascope.trace_context.source', 'aws.lambda.response.size', 'http.response.status_code'] AS akeys,
        [substring(h2, 1, 10), '$default', 'http', 'POST', '/orders', concat(substring(h2, 1, 10), '.execute-api.', region, '.amazonaws.com'),
            '/orders', 'apigateway-http', request, 'function', if(failed, '64', '210'), if(failed, '502', '200')] AS avals
{{- else if eq .C 1}}
        ['faas.trigger', 'faas.coldstart', 'cloud.resource_id', 'cloud.account.id', 'http.request.method',
            'url.path', 'http.route', 'http.response.status_code'] AS akeys,
        ['http', if(cold, 'true', 'false'), arn, account, 'POST', '/orders', '/orders', if(failed, '502', '200')] AS avals
{{- else if eq .C 2}}
        ['order.sku', 'order.qty'] AS akeys,
        [concat('SKU-', substring(toString(10000 + cityHash64(t, 10) % 500), 2)), toString(1 + cityHash64(t, 11) % 5)] AS avals
{{- else if eq .C 3}}
        ['db.system.name', 'db.namespace', 'db.collection.name', 'db.operation.name', 'db.query.text',
            'server.address', 'server.port'] AS akeys,
        ['postgresql', 'shop', 'orders', 'INSERT', 'INSERT INTO orders (sku, qty) VALUES ($1, $2) RETURNING id',
            'orders-db.internal', '5432'] AS avals
{{- else if eq .C 4}}
        ['rpc.system', 'rpc.service', 'rpc.method', 'cloud.region', 'faas.invoked_name',
            'faas.invoked_provider', 'faas.invoked_region', 'http.response.status_code'] AS akeys,
        ['aws-api', 'Lambda', 'Invoke', region, concat('inventory-', if(pair < 10, '0', ''), toString(pair)), 'aws', region, '200'] AS avals
{{- else if eq .C 5}}
        ['messaging.system', 'messaging.destination.name', 'messaging.operation.type', 'messaging.operation.name',
            'rpc.system', 'rpc.service', 'rpc.method', 'messaging.message.id'] AS akeys,
        ['aws_sqs', 'orders-placed', 'send', 'SendMessage', 'aws-api', 'SQS', 'SendMessage',
            lower(hex(reinterpretAsString(cityHash64(t, 12))))] AS avals
{{- else if or (eq .C 6) (eq .C 10)}}
        ['faas.coldstart', 'aws.lambda.status', 'aws.lambda.billed_duration_ms', 'aws.lambda.max_memory_used_mb'] AS akeys,
        [if(cold, 'true', 'false'), 'success', toString(toUInt64(ceil(dur_ms))), toString(toUInt32(memory * (0.2 + 0.3 * j)))] AS avals
{{- else if eq .C 8}}
        ['faas.trigger', 'faas.coldstart', 'cloud.resource_id', 'cloud.account.id'] AS akeys,
        ['other', if(cold, 'true', 'false'), arn, account] AS avals
{{- else if eq .C 9}}
        ['inventory.sku', 'inventory.qty'] AS akeys,
        [concat('SKU-', substring(toString(10000 + cityHash64(t, 10) % 500), 2)), toString(1 + cityHash64(t, 11) % 5)] AS avals
{{- else}}
        emptyArrayString() AS akeys,
        emptyArrayString() AS avals
{{- end}}
    FROM numbers(@rows)
)
