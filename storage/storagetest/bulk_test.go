package storagetest_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

func openStore(t *testing.T) *storage.Store {
	t.Helper()
	dsn, _ := chtest.NewDatabase(t)
	st, err := storage.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}

// TestBulkTraceIDsAreWritten: the IDs BulkTraceIDs gives are of traces
// stored whole, up to the last generated; a trace number beyond them is
// an error, not the ID of a trace that was never written.
func TestBulkTraceIDsAreWritten(t *testing.T) {
	st := openStore(t)
	conn := chtest.ConnTo(t, st.Config().DSN)
	d, err := storagetest.GenerateBulk(t.Context(), conn, st.Database(), storagetest.BulkConfig{
		Spans: 100 * storagetest.BulkSpansPerTrace, End: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 1,
	}, io.Discard)
	if err != nil {
		t.Fatalf("GenerateBulk: %v", err)
	}
	ids, err := storagetest.BulkTraceIDs(t.Context(), conn, d, []uint64{0, 50, 99})
	if err != nil || len(ids) != 3 {
		t.Fatalf("BulkTraceIDs(0, 50, 99) = %d IDs, %v; want 3", len(ids), err)
	}
	for _, id := range ids {
		if spans, err := st.SpansByTraceID(t.Context(), id); err != nil || len(spans) != storagetest.BulkSpansPerTrace {
			t.Errorf("SpansByTraceID(%x) = %d spans, %v; want %d", id, len(spans), err, storagetest.BulkSpansPerTrace)
		}
	}
	for _, ts := range [][]uint64{{100}, {0, 1000}} {
		ids, err := storagetest.BulkTraceIDs(t.Context(), conn, d, ts)
		if err == nil || !strings.Contains(err.Error(), "beyond the 100 generated") {
			t.Errorf("BulkTraceIDs(%v) of 100 traces = %d IDs, %v; want an error naming the 100 generated", ts, len(ids), err)
		}
	}
}
