package querybench

import (
	"context"
	"io"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// The benchmarks' data is storagetest's bulk generator: the demo's request
// as demo-shaped rows (see storage/storagetest/bulk_spans.sql).
const (
	SpansPerTrace       = storagetest.BulkSpansPerTrace
	InvocationsPerTrace = storagetest.BulkInvocationsPerTrace
)

// Config sizes a generated data set; Data is one generated.
type (
	Config = storagetest.BulkConfig
	Data   = storagetest.BulkData
)

// Generate writes cfg's data into database db, with progress on w (see
// storagetest.GenerateBulk).
func Generate(ctx context.Context, conn clickhouse.Conn, db string, cfg Config, w io.Writer) (Data, error) {
	return storagetest.GenerateBulk(ctx, conn, db, cfg, w)
}

// TraceIDs is the IDs of traces ts of the data set d, in their order; a
// trace number beyond d's traces is an error.
func TraceIDs(ctx context.Context, conn clickhouse.Conn, d Data, ts []uint64) ([]query.TraceID, error) {
	ids, err := storagetest.BulkTraceIDs(ctx, conn, d, ts)
	out := make([]query.TraceID, len(ids))
	for i, id := range ids {
		out[i] = query.TraceID(id)
	}
	return out, err
}
