package collector_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestRetryAfterRestartIsStoredOnce stores a batch straight into
// ClickHouse (the WAL stays empty), restarts the collector on the same WAL
// directory and sends the same batch again, as an extension does when the
// acknowledgement was lost in the restart: it is recognised from the dedup
// log and stored once.
func TestRetryAfterRestartIsStoredOnce(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	walDir := t.TempDir()
	export := func(req *ingestv1.ExportRequest) (*ingestv1.ExportResponse, collector.Stats) {
		t.Helper()
		cfg := testConfig(t, dsn)
		cfg.WAL.Dir = walDir
		srv := serve(t, cfg, store)
		conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		resp, err := ingestv1.NewIngestServiceClient(conn).Export(withKey(t.Context(), apiKey), req)
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		_ = conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		return resp, srv.Stats()
	}

	trace := [16]byte{0xde, 0xd0, 1}
	req := batch(t, trace, 4)
	first, _ := export(req)
	if first.GetDuplicate() || first.GetAcceptedSpans() != 4 {
		t.Fatalf("first export: %+v, want 4 spans accepted", first)
	}
	retry, stats := export(req)
	if !retry.GetDuplicate() {
		t.Fatalf("retry after restart was not recognised as a duplicate: %+v", retry)
	}
	if stats.DuplicateBatches != 1 || stats.Spans != 0 {
		t.Errorf("restarted collector's stats %+v: want 1 duplicate batch and no span stored", stats)
	}
	if rows, distinct := spanCounts(t, store, trace); rows != 4 || distinct != 4 {
		t.Errorf("ClickHouse holds %d rows of %d distinct spans, want 4 of 4", rows, distinct)
	}
	other, _ := export(batch(t, [16]byte{0xde, 0xd0, 2}, 2))
	if other.GetDuplicate() || other.GetAcceptedSpans() != 2 {
		t.Errorf("a new batch after the restart: %+v, want 2 spans accepted", other)
	}
}
