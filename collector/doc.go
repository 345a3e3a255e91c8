// Package collector is the ingest server: it serves the Ingest API the
// Lambdascope extension speaks over gRPC (zstd accepted), authenticates
// callers by API key, validates batches, drops retried batches it has
// already stored, and writes the rest to ClickHouse through storage.
package collector
