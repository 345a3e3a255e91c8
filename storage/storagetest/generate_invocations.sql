-- Generated invocation reports: first the @traces × @hops invocations of the
-- traces of generate_spans.sql (same hashes, so the same function, start,
-- duration, status, request ID and trace), then @untraced reports without
-- spans, spread evenly over the range by @untracedStep. Each statement
-- writes the @rows reports from number @offset on. Functions are the mix of
-- querytest.Load: memory, architecture and runtime follow the function's
-- number; one invocation in 50 is a cold start.
INSERT INTO {{.DB}}.invocations (start_time, start_unix_nano, account_id, region, function_name, function_version,
    service_name, architecture, runtime, initialization_type, request_id, memory_size_mb, max_memory_used_mb,
    duration_ms, billed_duration_ms, init_duration_ms, cold_start, status, error_type, trace_id, span_id)
SELECT toDateTime(intDiv(start_ns, 1000000000)), start_ns, account, region, fn_name, version,
    fn_name, arch, runtime, 'on-demand', req, mem, toUInt32(mem * (0.2 + 0.3 * u2)),
    dur_ms, toUInt64(dur_ms) + 1, if(cold, 150 + 300 * u2, 0), cold, if(failed, 'error', 'success'),
    if(failed, 'Runtime.HandlerError', ''), trace_id, span_id
FROM (
    SELECT
        n < @traces * @hops AS traced,
        if(traced, intDiv(n, @hops), n) AS t,
        if(traced, n % @hops, 100) AS hop,
        if(traced, (cityHash64(t, 1) % @functions + hop * 7) % @functions, cityHash64(t, hop, 11) % @functions) AS fn,
        concat('svc-', if(fn < 10, '0', ''), toString(fn)) AS fn_name,
        toString(1 + fn % 4) AS version,
        toString(100000000000 + fn % 2) AS account,
        ['us-east-1', 'eu-west-1'][fn % 2 + 1] AS region,
        if(fn % 3 = 0, 'arm64', 'x86_64') AS arch,
        ['nodejs22.x', 'python3.13', 'provided.al2023', 'java21'][fn % 4 + 1] AS runtime,
        toUInt32([128, 256, 512, 1024, 1769, 3008][fn % 6 + 1]) AS mem,
        if(traced, @begin + t * @step + cityHash64(t, 2) % @step + hop * 5000000,
            @begin + toUInt64(n - @traces * @hops) * @untracedStep + cityHash64(t, 12) % @untracedStep) AS start_ns,
        (cityHash64(t, hop, 3) % 1000000 + 1) / 1000001 AS u,
        (cityHash64(t, hop, 13) % 1000000) / 1000000 AS u2,
        (20 + (fn % 10) * 30) * (0.5 - log(u)) AS dur_ms,
        (cityHash64(t, hop, 4) % 1000000) / 1000000 < 0.002 + (fn % 7) * 0.003 AS failed,
        cityHash64(t, hop, 14) % 50 = 0 AS cold,
        concat(lower(hex(cityHash64(t, hop, 8))), '-', lower(hex(cityHash64(t, hop, 9) % 4294967296))) AS req,
        if(traced, toFixedString(concat(reinterpretAsString(bitOr(cityHash64(t, 5), 9223372036854775808)),
            reinterpretAsString(bitOr(cityHash64(t, 6), 9223372036854775808))), 16),
            toFixedString(unhex('00000000000000000000000000000000'), 16)) AS trace_id,
        if(traced, toFixedString(reinterpretAsString(bitOr(cityHash64(t, hop, 0, 7), 9223372036854775808)), 8),
            toFixedString(unhex('0000000000000000'), 8)) AS span_id
    FROM (SELECT number + @offset AS n FROM numbers(@rows))
)
