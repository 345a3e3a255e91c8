// Package storage keeps Lambdascope's telemetry in ClickHouse: it connects,
// detects what the server supports, applies the versioned schema, writes
// ingest batches and serves the reads the query layer is built on.
//
// The same logical schema runs on ClickHouse 18.16 (the baseline every
// statement here is written for) and on modern servers, where the DDL gains
// LowCardinality columns, compression codecs and skip indexes. With
// Config.Cluster set, the schema becomes replicated shard tables behind
// Distributed tables. Only this package knows SQL; callers see Go types.
// README.md describes the schema, the write semantics and cluster mode.
package storage
