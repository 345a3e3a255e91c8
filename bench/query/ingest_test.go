package querybench

import (
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// TestIngestWritesWholeTracesItCounts holds the ingest beside the cold
// reads to what it says it wrote: every span it counts is in the store,
// in whole demo traces, stamped with the time of its batch.
func TestIngestWritesWholeTracesItCounts(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	before := time.Now().Add(-time.Minute)
	in, err := StartIngest(t.Context(), st, 5*storagetest.SpansPerDemoTrace)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for in.Stats().Batches < 2 {
		if time.Now().After(deadline) {
			in.Stop()
			t.Fatalf("no two batches written in two minutes: %s", in.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s, err := in.Stop()
	if err != nil {
		t.Fatalf("stop: %v", err)
	}
	if s.Batches < 2 || s.Spans != s.Batches*5*storagetest.SpansPerDemoTrace {
		t.Fatalf("stats %s: want at least 2 batches of 5 traces of %d spans", s, storagetest.SpansPerDemoTrace)
	}
	var rows, traces uint64
	var oldest time.Time
	if err := connOf(t, st).QueryRow(t.Context(), "SELECT count(), uniqExact(trace_id), min(start_time) FROM "+st.Database()+".spans").Scan(&rows, &traces, &oldest); err != nil {
		t.Fatalf("count spans: %v", err)
	}
	if rows != uint64(s.Spans) || traces != uint64(s.Spans/storagetest.SpansPerDemoTrace) {
		t.Errorf("store holds %d spans in %d traces; ingest says %d spans (%s)", rows, traces, s.Spans, s)
	}
	if oldest.Before(before) {
		t.Errorf("oldest span at %s, before the ingest started (%s)", oldest, before)
	}
	if !strings.Contains(s.String(), "spans/s") {
		t.Errorf("stats say no rate: %s", s)
	}
}

// TestIngestRefusesLessThanATraceABatch: a rate that rounds to no trace a
// batch is an error, not an ingest that writes nothing.
func TestIngestRefusesLessThanATraceABatch(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	if _, err := StartIngest(t.Context(), st, storagetest.SpansPerDemoTrace-1); err == nil || !strings.Contains(err.Error(), "less than one trace") {
		t.Fatalf("StartIngest(%d spans/s) = %v, want an error naming the rate", storagetest.SpansPerDemoTrace-1, err)
	}
}
