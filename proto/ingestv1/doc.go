// Package ingestv1 holds the Go code generated from the Ingest API
// (proto/lambdascope/ingest/v1/ingest.proto): the messages and the gRPC
// client and server the extension and the collector speak. Run `make proto`
// after changing the .proto file; the generated code is committed.
package ingestv1
