-- Generated spans: @traces traces, each crossing @hops functions with
-- @perInvocation spans per invocation (its SERVER span, then CLIENT spans:
-- DynamoDB calls and, but on the last hop, the call into the next function).
-- Trace t starts at @begin + t * @step plus a hash-chosen jitter below @step,
-- so the data is spread evenly over the range in time order. Every value is
-- a hash of (trace, hop, span, purpose): the same numbers come out of
-- generate_invocations.sql for the same invocation. Each statement writes
-- the @rows rows from number @offset on.
INSERT INTO {{.DB}}.spans (start_time, start_unix_nano, duration_ns, trace_id, span_id, parent_span_id, name, kind,
    status_code, service_name, function_name, function_version, account_id, region, request_id,
    attributes.key, attributes.value)
SELECT toDateTime(intDiv(start_ns, 1000000000)), start_ns, dur_ns, trace_id, span_id, parent_id, name, kind,
    status, fn_name, fn_name, version, account, region, req, akeys, avals
FROM (
    SELECT
        intDiv(n, @hops * @perInvocation) AS t,
        intDiv(n % (@hops * @perInvocation), @perInvocation) AS hop,
        n % @perInvocation AS c,
        (cityHash64(t, 1) % @functions + hop * 7) % @functions AS fn,
        ((cityHash64(t, 1) % @functions + (hop + 1) * 7) % @functions) AS next_fn,
        concat('svc-', if(fn < 10, '0', ''), toString(fn)) AS fn_name,
        toString(1 + fn % 4) AS version,
        toString(100000000000 + fn % 2) AS account,
        ['us-east-1', 'eu-west-1'][fn % 2 + 1] AS region,
        @begin + t * @step + cityHash64(t, 2) % @step + hop * 5000000 AS hop_ns,
        (cityHash64(t, hop, 3) % 1000000 + 1) / 1000001 AS u,
        (20 + (fn % 10) * 30) * (0.5 - log(u)) AS dur_ms,
        (cityHash64(t, hop, 4) % 1000000) / 1000000 < 0.002 + (fn % 7) * 0.003 AS failed,
        toFixedString(concat(reinterpretAsString(bitOr(cityHash64(t, 5), 9223372036854775808)),
            reinterpretAsString(bitOr(cityHash64(t, 6), 9223372036854775808))), 16) AS trace_id,
        toFixedString(reinterpretAsString(bitOr(cityHash64(t, hop, c, 7), 9223372036854775808)), 8) AS span_id,
        multiIf(c != 0, toFixedString(reinterpretAsString(bitOr(cityHash64(t, hop, 0, 7), 9223372036854775808)), 8),
            hop = 0, toFixedString(unhex('0000000000000000'), 8),
            toFixedString(reinterpretAsString(bitOr(cityHash64(t, hop - 1, @perInvocation - 1, 7), 9223372036854775808)), 8)) AS parent_id,
        c = @perInvocation - 1 AND hop < @hops - 1 AS calls_next,
        multiIf(c = 0, concat('handle ', fn_name), calls_next, 'invoke next', 'DynamoDB.GetItem') AS name,
        if(c = 0, 2, 3) AS kind,
        if(c = 0 AND failed, 2, 0) AS status,
        if(c = 0, hop_ns, hop_ns + c * 1000000) AS start_ns,
        if(c = 0, toUInt64(dur_ms * 1000000), 2000000) AS dur_ns,
        if(c = 0, concat(lower(hex(cityHash64(t, hop, 8))), '-', lower(hex(cityHash64(t, hop, 9) % 4294967296))), '') AS req,
        multiIf(c = 0, ['tenant'], calls_next, ['faas.invoked_name'], ['db.system']) AS akeys,
        multiIf(c = 0, [concat('t', substring(toString(1000 + cityHash64(t, hop, 10) % 200), 2))],
            calls_next, [concat('svc-', if(next_fn < 10, '0', ''), toString(next_fn))], ['dynamodb']) AS avals
    FROM (SELECT number + @offset AS n FROM numbers(@rows))
)
