-- Invocation reports without spans (storagetest.Generate): @rows reports
-- from number @offset on, spread evenly over the range by @untracedStep,
-- each of a hash-chosen function of @pairs pairs, with the configuration
-- bulk_invocations.sql gives that function (memory, architecture,
-- runtime), a cold start in 50, a failure in 200, and the extension's
-- counts (telemetryCounts), no spans received.
INSERT INTO {{.DB}}.invocations (start_time, start_unix_nano, account_id, region, function_name, function_version,
    service_name, architecture, runtime, initialization_type, request_id, memory_size_mb, max_memory_used_mb,
    duration_ms, billed_duration_ms, init_duration_ms, cold_start, status, error_type, trace_id, span_id,
    tel_counted, tel_spans_received, tel_log_lines_received, tel_bytes_received, tel_bytes_shipped, tel_spans_dropped,
    tel_log_lines_dropped, tel_spans_spooled, tel_platform_logs_dropped)
SELECT toDateTime(intDiv(start_ns, 1000000000)), start_ns, account, region, fn, '$LATEST',
    fn, arch, 'provided.al2023', 'on-demand', req, memory, toUInt32(memory * (0.2 + 0.3 * j)),
    dur_ms, toUInt64(ceil(dur_ms)), if(cold, 150 + 300 * j, 0), cold, if(failed, 'error', 'success'),
    if(failed, 'Runtime.HandlerError', ''), toFixedString(unhex('00000000000000000000000000000000'), 16),
    toFixedString(unhex('0000000000000000'), 8),
    1, 0, {{counts "req" "0"}}
FROM (
    SELECT
        number + @offset AS n,
        cityHash64(n, 11) % (2 * @pairs) AS f,
        intDiv(f, 2) AS pair,
        f % 2 AS inventory,
        concat(if(inventory = 1, 'inventory-', 'orders-'), if(pair < 10, '0', ''), toString(pair)) AS fn,
        toString(123456789012 + pair % 2) AS account,
        ['eu-west-1', 'us-east-1'][intDiv(pair, 2) % 2 + 1] AS region,
        toUInt32([128, 256, 512, 1024, 1769, 3008][(pair + inventory * 3) % 6 + 1]) AS memory,
        if(pair % 3 = 0, 'arm64', 'x86_64') AS arch,
        @begin + n * @untracedStep + cityHash64(n, 12) % @untracedStep AS start_ns,
        1 + (pair % 5) * 0.5 AS scale,
        (cityHash64(n, 13) % 1000) / 1000 AS j,
        if(inventory = 1, scale * (12 + 6 * j), scale * (40 + 20 * j)) AS dur_ms,
        cityHash64(n, 15) % 200 = 0 AS failed,
        cityHash64(n, 14) % 50 = 0 AS cold,
        lower(hex(reinterpretAsString(cityHash64(n, 16)))) AS h1,
        lower(hex(reinterpretAsString(cityHash64(n, 17)))) AS h2,
        concat(substring(h1, 1, 8), '-', substring(h1, 9, 4), '-', substring(h1, 13, 4), '-',
            substring(h2, 1, 4), '-', substring(h2, 5, 12)) AS req
    FROM numbers(@rows)
)
