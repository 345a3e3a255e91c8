// Package collector is the ingest server. It serves the Ingest API the
// Lambdascope extension speaks over gRPC (zstd accepted), OTLP gRPC on the
// same port and OTLP/HTTP (protobuf and JSON, gzip), authenticates callers
// by API key, enforces limits, drops retried batches it has already
// accepted, and writes the rest to ClickHouse through storage in batches.
//
// A request is acknowledged only once it is in ClickHouse or fsynced in the
// WAL (on by default, in data_dir/wal). While ClickHouse is down or the WAL
// holds a backlog, requests go to the WAL, and a replayer drains it in
// order; a full WAL answers RESOURCE_EXHAUSTED (HTTP 429) instead of
// dropping. A batch ClickHouse refuses for its content, or refuses too
// often, is set aside in data_dir/quarantine so that the rest goes on.
//
// Limits: a request over max_message_bytes is refused with
// RESOURCE_EXHAUSTED (HTTP 413); one with more than max_batch_items items
// with INVALID_ARGUMENT (HTTP 400). Attributes whose key is longer than
// max_attribute_key_bytes are dropped and string values longer than
// max_attribute_value_bytes are truncated, as are names, status messages,
// log bodies and every other string over its fields.* cap; all are counted
// in /metrics and logged, and the rest of the request is stored.
package collector
