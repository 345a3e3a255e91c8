package collector_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestDuplicateRiskIsCounted makes the spans insert fail after the
// invocations insert of the same write succeeded: the retry will store the
// invocation again, and the collector says so in its stats and metrics.
func TestDuplicateRiskIsCounted(t *testing.T) {
	h := start(t, func(c *collector.Config) { c.WAL.Enabled = false })
	db := h.store.Database()
	if err := chtest.ConnTo(t, h.store.Config().DSN).Exec(t.Context(), fmt.Sprintf("RENAME TABLE %s.spans TO %s.spans_away", db, db)); err != nil {
		t.Fatalf("rename spans: %v", err)
	}
	_, err := h.client.Export(withKey(t.Context(), apiKey), batch(t, [16]byte{0xdd, 1}, 2))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("export with the spans table gone: got %v, want UNAVAILABLE", err)
	}
	if st := h.srv.Stats(); st.DuplicateRiskItems != 1 {
		t.Fatalf("duplicate-risk items = %d, want 1 (the invocation stored before the spans insert failed)", st.DuplicateRiskItems)
	}
	code, body := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	want := `lambdascope_collector_duplicate_risk_items_total{reason="stored_before_failure"} 1`
	if code != http.StatusOK || !strings.Contains(body, want) {
		t.Fatalf("/metrics: %d, want a line %q in:\n%s", code, want, grep(body, "duplicate_risk"))
	}
	// ClickHouse refused the spans insert (unknown table): that outcome is
	// known, so nothing is counted as outcome_unknown.
	if strings.Contains(body, `reason="outcome_unknown"`) {
		t.Fatalf("a refused insert was counted as outcome_unknown:\n%s", grep(body, "duplicate_risk"))
	}
}

// muteAfter is how many bytes of the insert reach ClickHouse before its
// answers are muted: past the query, inside the data block.
const muteAfter = 4096

// TestLostAcknowledgementIsCountedAsOutcomeUnknown loses the answer to a
// spans insert whose block ClickHouse stored: the collector cannot know
// whether the rows are stored, refuses the batch for a retry, and counts
// the rows as outcome_unknown. ClickHouse holds them, so that retry would
// store them twice: the count is honest.
func TestLostAcknowledgementIsCountedAsOutcomeUnknown(t *testing.T) {
	dsn, db := chtest.NewDatabase(t)
	px := chtest.NewProxy(t, chtest.Server().Addr())
	store := migratedStore(t, "clickhouse://"+px.Addr()+"/"+db)
	cfg := testConfig(t, dsn)
	cfg.HTTPAddr = ""
	cfg.NoAuth = true
	cfg.WriteTimeout = 2 * time.Second
	cfg.WAL.Enabled = false
	srv := serve(t, cfg, store)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := ingestv1.NewIngestServiceClient(conn)

	trace := [16]byte{0xdd, 2}
	const spans = 500
	req := batch(t, trace, spans)
	req.Invocations = nil
	for i, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
		sp.SpanId = []byte{0xdd, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)}
	}
	px.MuteAfter(muteAfter)
	if _, err := client.Export(t.Context(), req); status.Code(err) != codes.Unavailable {
		t.Fatalf("export with the acknowledgement lost: got %v, want UNAVAILABLE", err)
	}
	if st := srv.Stats(); st.DuplicateRiskItems != spans {
		t.Fatalf("duplicate-risk items = %d, want %d", st.DuplicateRiskItems, spans)
	}
	code, body := get(t, "http://"+srv.AdminAddr()+"/metrics")
	want := fmt.Sprintf(`lambdascope_collector_duplicate_risk_items_total{reason="outcome_unknown"} %d`, spans)
	if code != http.StatusOK || !strings.Contains(body, want) {
		t.Fatalf("/metrics: %d, want a line %q in:\n%s", code, want, grep(body, "duplicate_risk"))
	}
	check, err := storage.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = check.Close() })
	waitFor(t, "ClickHouse to hold the unacknowledged block", 30*time.Second, func() bool {
		rows, _ := spanCounts(t, check, trace)
		return rows == spans
	})
}
