-- Migration 57: the type the function's runtime gave an error it reported
-- through /error, beside the platform's.
--
-- invocations gains function_error_type: the errorType of the /error body
-- ("errorString" or the error's Go type for aws-lambda-go, "TypeError" for
-- Node.js, "ValueError" for Python) or, when the body names none, the
-- Lambda-Runtime-Function-Error-Type header the runtime sent; redacted by
-- the extension and at most 256 bytes. error_type stays the platform's
-- ("Runtime.Unknown" for aws-lambda-go, which sends no header). Rows
-- written before, and records of extensions that do not send it, read
-- empty.
--
-- The trace view does not read it: the invocation's inferred span carries
-- the type as its error.type, so trace_invocations (migration 55) keeps its
-- packed columns.
--
-- 18.x has no IF NOT EXISTS on ADD COLUMN; newer servers get it, so that a
-- cluster migration cut short between its statements can run again (on
-- 18.x Migrate runs the ALTER only where a column is missing,
-- execMigrationStatement). In
-- cluster mode the Distributed table, which holds no rows, is made again
-- from the altered shard table (as migration 13 does).
ALTER TABLE {{local "invocations"}}{{onCluster}}
    ADD COLUMN{{if .Capabilities.Version.AtLeast 20 3}} IF NOT EXISTS{{end}} function_error_type {{lc "String"}} DEFAULT ''{{codec "ZSTD(1)"}};
{{- if .Cluster}}
DROP TABLE IF EXISTS {{.Database}}.invocations{{onCluster}};
{{distributed "invocations" "cityHash64(request_id)"}};
{{- end}}
