package collector_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// What the collector takes in and does not store is recorded per function
// and hour, at its stage: a malformed span at the collector, a batch
// ClickHouse refuses at storage, so that the completeness report names
// them. A record that says it sent 3 spans beside 2 stored reads the one
// left out at the collector.
func TestItemsLeftOutAreRecordedAtTheirStage(t *testing.T) {
	dsn, db := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	if err := chtest.ConnTo(t, store.Config().DSN).Exec(t.Context(), fmt.Sprintf(
		"ALTER TABLE %s.spans ADD COLUMN poison UInt8 MATERIALIZED throwIf(name = 'poison')", db)); err != nil {
		t.Fatalf("add the poison rule: %v", err)
	}
	cfg := testConfig(t, dsn)
	cfg.HTTPAddr = ""
	srv := serve(t, cfg, store)
	client := ingestv1.NewIngestServiceClient(dialGRPC(t, srv.Addr()))
	ctx := withKey(t.Context(), apiKey)

	// One span with a span ID of 3 bytes, which the collector leaves out.
	malformed := batch(t, [16]byte{0x10, 0x55, 1}, 3)
	malformed.ResourceSpans[0].ScopeSpans[0].Spans[1].SpanId = []byte{1, 2, 3}
	malformed.Invocations[0].Telemetry = &ingestv1.TelemetryCounts{SpansReceived: 3}
	if _, err := client.Export(ctx, malformed); err != nil {
		t.Fatalf("export the batch with a malformed span: %v", err)
	}
	// A batch ClickHouse refuses, on its own function.
	poison := batch(t, [16]byte{0x10, 0x55, 2}, 2)
	poison.Function.Name = "poisoned"
	poison.Invocations = nil
	for _, sp := range poison.ResourceSpans[0].ScopeSpans[0].Spans {
		sp.Name = "poison"
	}
	if _, err := client.Export(ctx, poison); err != nil {
		t.Fatalf("export the poison batch: %v (it is set aside and acknowledged)", err)
	}
	waitFor(t, "the poison batch to be quarantined", time.Minute, func() bool { return srv.QuarantinedBatches() == 1 })
	// Losses are recorded with the next write.
	if _, err := client.Export(ctx, batch(t, [16]byte{0x10, 0x55, 3}, 1)); err != nil {
		t.Fatalf("export a good batch: %v", err)
	}

	hour := time.Now().UTC().Truncate(time.Hour)
	f := storage.UsageFilter{Since: hour.Add(-time.Hour), Until: hour.Add(2 * time.Hour)}
	var recs []storage.CompletenessRecord
	waitFor(t, "the losses to be recorded", time.Minute, func() bool {
		var err error
		if recs, err = store.Completeness(t.Context(), f); err != nil {
			t.Fatalf("Completeness: %v", err)
		}
		n := 0
		for _, r := range recs {
			n += int(r.SpansCollectorLost + r.SpansStorageLost)
		}
		return n >= 3
	})
	got := map[string]storage.CompletenessRecord{}
	for _, r := range recs {
		got[r.FunctionName] = r
	}
	if r := got["orders"]; r.SpansReceived != 3 || r.SpansCollectorLost != 1 || r.SpansStorageLost != 0 {
		t.Errorf("orders: received %d, lost at the collector %d, at storage %d; want 3, 1, 0", r.SpansReceived, r.SpansCollectorLost, r.SpansStorageLost)
	}
	if r := got["poisoned"]; r.SpansStorageLost != 2 || r.SpansStored != 0 || r.Invocations != 0 {
		t.Errorf("poisoned: lost at storage %d, stored %d, records %d; want 2, 0, 0", r.SpansStorageLost, r.SpansStored, r.Invocations)
	}
}
