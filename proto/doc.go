// Package proto holds the .proto sources of the Ingest API and checks that
// the generated Go code under proto/ingestv1 matches them.
package proto
