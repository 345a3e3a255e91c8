-- The invocation reports of the traces of bulk_spans.sql: two per trace,
-- orders-NN's and inventory-NN's, with the same request IDs, starts,
-- durations, cold starts and failures as their SERVER spans. Memory,
-- architecture and runtime follow the pair's number. One statement writes
-- the reports of {{if eq .C 1}}inventory{{else}}orders{{end}}-NN for the @rows traces from trace @offset on.
{{- if .Counted}}
-- Each report carries the extension's counts (storagetest.Generate): the
-- spans of its invocation received, {{pick .C "8" "4"}}, and the rest as telemetryCounts says.
{{- end}}
INSERT INTO {{.DB}}.invocations (start_time, start_unix_nano, account_id, region, function_name, function_version,
    service_name, architecture, runtime, initialization_type, request_id, memory_size_mb, max_memory_used_mb,
    duration_ms, billed_duration_ms, init_duration_ms, cold_start, status, error_type, trace_id, span_id
{{- if .Counted}},
    tel_counted, tel_spans_received, tel_log_lines_received, tel_bytes_received, tel_bytes_shipped, tel_spans_dropped,
    tel_log_lines_dropped, tel_spans_spooled, tel_platform_logs_dropped
{{- end}})
SELECT toDateTime(intDiv(start_ns, 1000000000)), start_ns, account, region, fn, '$LATEST',
    fn, arch, 'provided.al2023', 'on-demand', req, memory, toUInt32(memory * (0.2 + 0.3 * j)),
    dur_ms, toUInt64(ceil(dur_ms)), if(cold, 150 + 300 * j, 0), cold, if(failed, 'error', 'success'),
    if(failed, 'Runtime.HandlerError', ''), trace_id, span_id
{{- if .Counted}},
    1, {{if eq .C 1}}4{{else}}8{{end}}, {{counts "req" (pick .C "8" "4")}}
{{- end}}
FROM (
    SELECT
        number + @offset AS t,
        toUInt8({{.C}}) AS inventory,
        toUInt8({{if eq .C 1}}8{{else}}1{{end}}) AS c,
        cityHash64(t, 1) % @pairs AS pair,
        concat('{{if eq .C 1}}inventory-{{else}}orders-{{end}}', if(pair < 10, '0', ''), toString(pair)) AS fn,
        toString(123456789012 + pair % 2) AS account,
        ['eu-west-1', 'us-east-1'][intDiv(pair, 2) % 2 + 1] AS region,
        toUInt32([128, 256, 512, 1024, 1769, 3008][(pair + {{if eq .C 1}}3{{else}}0{{end}}) % 6 + 1]) AS memory,
        if(pair % 3 = 0, 'arm64', 'x86_64') AS arch,
        @begin + t * @step + cityHash64(t, 2) % @step AS trace_ns,
        1 + (pair % 5) * 0.5 AS scale,
        (cityHash64(t, 3) % 1000) / 1000 AS j,
        {{if eq .C 1}}scale * (12 + 6 * j){{else}}scale * (40 + 20 * j){{end}} AS dur_ms,
        trace_ns + toUInt64({{if eq .C 1}}10{{else}}2{{end}} * scale * 1000000) AS start_ns,
        cityHash64(t, 4) % 200 = 0 AS failed,
        cityHash64(t, inventory, 14) % 50 = 0 AS cold,
        toFixedString(concat(reinterpretAsString(bitOr(cityHash64(t, 5), 9223372036854775808)),
            reinterpretAsString(bitOr(cityHash64(t, 6), 9223372036854775808))), 16) AS trace_id,
        toFixedString(reinterpretAsString(bitOr(cityHash64(t, c, 7), 9223372036854775808)), 8) AS span_id,
        lower(hex(reinterpretAsString(cityHash64(t, inventory, 8)))) AS h1,
        lower(hex(reinterpretAsString(cityHash64(t, inventory, 9)))) AS h2,
        concat(substring(h1, 1, 8), '-', substring(h1, 9, 4), '-', substring(h1, 13, 4), '-',
            substring(h2, 1, 4), '-', substring(h2, 5, 12)) AS req
    FROM numbers(@rows)
)
