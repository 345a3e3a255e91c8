package collector

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
)

// riskyStore stands for a cluster store: its writes succeed, its first
// record of losses fails with the outcome unknown, and it says how many
// rows its views may miss.
type riskyStore struct {
	mu       sync.Mutex
	lossRuns [][]storage.IngestLoss
	atRisk   atomic.Uint64
}

func (w *riskyStore) WriteExports(context.Context, []*ingestv1.ExportRequest) (storage.WriteCounts, error) {
	return storage.WriteCounts{}, nil
}

func (w *riskyStore) WriteIngestLosses(_ context.Context, losses []storage.IngestLoss) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lossRuns = append(w.lossRuns, losses)
	if len(w.lossRuns) == 1 {
		return fmt.Errorf("record ingest losses: insert into ingest_losses (%w): connection reset", storage.ErrOutcomeUnknown)
	}
	return nil
}

func (w *riskyStore) ViewsAtRisk() uint64 { return w.atRisk.Load() }

func (w *riskyStore) runs() [][]storage.IngestLoss {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]storage.IngestLoss(nil), w.lossRuns...)
}

// The collector the binary runs opens its store in the background
// (NewConnecting): the rows its views may miss (Store.ViewsAtRisk) reach
// /metrics, Stats and the stop line, and the items it left out reach the
// store's ingest_losses through it; a record of them whose outcome is
// unknown is written again with the next write and its items counted as
// possibly doubled.
func TestConnectingCollectorReportsViewsAtRiskAndRecordsLosses(t *testing.T) {
	store := &riskyStore{}
	store.atRisk.Store(7)
	cfg := DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "", "127.0.0.1:0"
	cfg.NoAuth = true
	cfg.DataDir = t.TempDir()
	cfg.WAL.AckAfter = 0
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	srv, err := NewConnecting(cfg, func(context.Context) (BatchWriter, error) { return store, nil }, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Shutdown(context.Background())
		}
	})
	deadline := time.Now().Add(time.Minute)
	for srv.conn.writer() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the store was not opened within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}

	hour := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range 2 {
		srv.pipe.losses.add(hour, "orders", sigSpans, storage.StageCollector, "max_spans_per_request", 1)
		req := otlpBatch()
		req.Function = &ingestv1.FunctionIdentity{Name: "orders"}
		if _, err := srv.pipe.submit(t.Context(), req, nil); err != nil {
			t.Fatalf("submit %d: %v", i+1, err)
		}
	}
	runs := store.runs()
	if len(runs) != 2 {
		t.Fatalf("the store got %d records of losses, want 2 (one per write): %v", len(runs), runs)
	}
	if l := runs[1]; len(l) != 1 || l[0].Items != 2 {
		t.Errorf("second record = %+v, want one row of 2 items (the first, of unknown outcome, again, and the new one)", l)
	}

	_, body := httpGet(t, "http://"+srv.AdminAddr()+"/metrics")
	for _, want := range []string{
		"lambdascope_collector_view_rows_at_risk_total 7",
		`lambdascope_collector_duplicate_risk_items_total{reason="loss_record_outcome_unknown"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no line %q", want)
		}
	}
	store.atRisk.Store(9)
	if st := srv.Stats(); st.ViewRowsAtRisk != 9 {
		t.Errorf("Stats().ViewRowsAtRisk = %d, want 9", st.ViewRowsAtRisk)
	}
	stopped = true
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "view_rows_at_risk=9") {
		t.Errorf("the stop line does not say view_rows_at_risk=9:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
