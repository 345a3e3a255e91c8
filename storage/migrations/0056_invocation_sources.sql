-- Migration 56: where an invocation's event came from, why it failed and
-- where its trace context came from, as the extension read them from the
-- event and the runtime's answer.
--
-- invocations gains trigger_source (one short name per trigger: the
-- queue, topic, bucket, table or stream, the route of an HTTP request
-- "POST /orders/{id}", the ALB's target group, the schedule's rule, the
-- EventBridge source and detail type, the state machine; empty when the
-- event names none), error_message (the message of the error the runtime
-- reported through /error, redacted by the extension and at most 1 KiB;
-- never a body) and trace_context_source (the inferred span's
-- lambdascope.trace_context.source: "w3c", "xray", "lambda", "durable",
-- "function", or "none" when the event carried no context). Rows written
-- before, and records of extensions that do not send them, read empty.
--
-- The trace view does not read them: the inferred span of the invocation,
-- which the trace view shows, carries the same (the destination or route
-- in its attributes, the message as its status, the source as
-- lambdascope.trace_context.source), so trace_invocations (migration 55)
-- keeps its packed columns.
--
-- 18.x has no IF NOT EXISTS on ADD COLUMN; newer servers get it, so that a
-- cluster migration cut short between its statements can run again (on
-- 18.x Migrate runs the ALTER only where a column is missing,
-- execMigrationStatement). In
-- cluster mode the Distributed table, which holds no rows, is made again
-- from the altered shard table (as migration 13 does).
ALTER TABLE {{local "invocations"}}{{onCluster}}
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} trigger_source {{lc "String"}} DEFAULT ''{{codec "ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} error_message String DEFAULT ''{{codec "ZSTD(1)"}},
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} trace_context_source {{lc "String"}} DEFAULT ''{{codec "ZSTD(1)"}};
{{- if .Cluster}}
DROP TABLE IF EXISTS {{.Database}}.invocations{{onCluster}};
{{distributed "invocations" "cityHash64(request_id)"}};
{{- end}}
