package storage

import (
	"fmt"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestClusterIngestLossesOfTwoEqualFlushesCountTwice records, through the
// Distributed table of a two-shard cluster, the same loss rows in two
// separate writes (one item of each function left out by the same limit
// in two requests of an hour). ReplicatedMergeTree drops an inserted block
// equal to a recent one, which would count each loss once; both writes
// must count, on the shard of the server written to and on the other one.
func TestClusterIngestLossesOfTwoEqualFlushesCountTwice(t *testing.T) {
	c := chtest.StartCluster(t, 2)
	ctx := t.Context()
	st := openClusterStore(t, c.Servers[0], c.Name)
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on cluster: %v", err)
	}
	hour := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var losses []IngestLoss
	for i := range 8 {
		losses = append(losses, IngestLoss{Hour: hour, FunctionName: fmt.Sprintf("fn-%d", i), Signal: "spans",
			Stage: StageCollector, Reason: "max_spans_per_request", Items: 1})
	}
	for i := range 2 {
		if err := st.WriteIngestLosses(ctx, losses); err != nil {
			t.Fatalf("WriteIngestLosses, write %d: %v", i+1, err)
		}
	}
	for i, srv := range c.Servers {
		var fns, items uint64
		if err := chtest.ConnTo(t, srv.DSN()).QueryRow(ctx,
			"SELECT uniqExact(function_name), sum(items) FROM lambdascope.ingest_losses_local").Scan(&fns, &items); err != nil {
			t.Fatalf("read ingest_losses_local on shard %d: %v", i+1, err)
		}
		if fns == 0 {
			t.Fatalf("shard %d holds no loss rows; the test needs functions on both shards", i+1)
		}
		if items != 2*fns {
			t.Errorf("shard %d counts %d items of %d functions, want %d (one of each write)", i+1, items, fns, 2*fns)
		}
	}
	var total uint64
	if err := st.conn.QueryRow(ctx, "SELECT sum(items) FROM lambdascope.ingest_losses").Scan(&total); err != nil {
		t.Fatalf("read ingest_losses: %v", err)
	}
	if total != 2*uint64(len(losses)) {
		t.Errorf("ingest_losses counts %d items, want %d (two writes of %d)", total, 2*len(losses), len(losses))
	}
}
