package collector_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/internal/testload"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// TestPoisonBatchLosesOnlyItself sends one batch ClickHouse refuses for its
// content (a throwIf on the spans table refuses spans named "poison") in
// the middle of steady load: straight to ClickHouse, and into the WAL during
// an outage, where it used to be retried at the head for ever once
// ClickHouse was back while every batch behind it waited. Only the poison
// batch is set aside, visibly: the counter says 1, the quarantine file
// holds it, and every other batch is stored exactly once.
//
// The load runs in three parts (before, during and after the outage), so
// that no insert is in flight when the connection to ClickHouse is cut: a
// cut insert's outcome is unknown and its retry may store it twice, which
// is counted elsewhere and not what this test is about.
func TestPoisonBatchLosesOnlyItself(t *testing.T) {
	for i, tt := range []struct {
		name   string
		outage bool
	}{
		{"direct", false},
		{"from the WAL", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dsn, db := chtest.NewDatabase(t)
			px := chtest.NewProxy(t, chtest.Server().Addr())
			store := migratedStore(t, "clickhouse://"+px.Addr()+"/"+db)
			if err := chtest.ConnTo(t, store.Config().DSN).Exec(t.Context(), fmt.Sprintf(
				"ALTER TABLE %s.spans ADD COLUMN poison UInt8 MATERIALIZED throwIf(name = 'poison')", db)); err != nil {
				t.Fatalf("add the poison rule: %v", err)
			}
			cfg := testConfig(t, dsn)
			cfg.HTTPAddr = ""
			// An insert cut by a loaded machine's slowness would be
			// retried and stored twice: the bound grows with the load.
			cfg.WriteTimeout = testload.Scale(5*time.Second, 30*time.Second)
			srv := serve(t, cfg, store)
			t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
			ctx, cancel := context.WithTimeout(t.Context(), testload.Scale(3*time.Minute, 15*time.Minute))
			defer cancel()

			parts := []*load{
				{trace: [16]byte{0x90, 0x15, byte(i), 1}, perReq: 20, pace: 5 * time.Millisecond},
				{trace: [16]byte{0x90, 0x15, byte(i), 2}, perReq: 20, pace: 5 * time.Millisecond},
				{trace: [16]byte{0x90, 0x15, byte(i), 3}, perReq: 20, pace: 5 * time.Millisecond},
			}
			const perPart = 40
			if err := parts[0].run(ctx, 4, perPart, srv.Addr); err != nil {
				t.Fatalf("load before: %v", err)
			}
			if tt.outage {
				px.Cut()
			}
			during := make(chan error, 1)
			go func() { during <- parts[1].run(ctx, 4, perPart, srv.Addr) }()
			waitFor(t, "the load to run", time.Minute, func() bool { return parts[1].acked.Load() > perPart/4 })

			poisonTrace := [16]byte{0x90, 0x15, byte(i), 0xf}
			poison := batch(t, poisonTrace, 3)
			poison.Invocations = nil
			for _, sp := range poison.ResourceSpans[0].ScopeSpans[0].Spans {
				sp.Name = "poison"
			}
			conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			if _, err := ingestv1.NewIngestServiceClient(conn).Export(withKey(t.Context(), apiKey), poison); err != nil {
				t.Fatalf("export the poison batch: %v (it is set aside and acknowledged)", err)
			}
			if err := <-during; err != nil {
				t.Fatalf("load during: %v", err)
			}
			if tt.outage {
				px.Resume("")
			}
			if err := parts[2].run(ctx, 4, perPart, srv.Addr); err != nil {
				t.Fatalf("load after: %v", err)
			}

			want := uint64(perPart * parts[0].perReq)
			for _, l := range parts {
				waitFor(t, "every batch behind the poison batch to be stored", 2*time.Minute, func() bool {
					rows, _ := spanCounts(t, store, l.trace)
					return rows >= want
				})
				if rows, distinct := spanCounts(t, store, l.trace); rows != want || distinct != want {
					t.Errorf("trace %x: stored %d rows of %d distinct spans, want exactly %d of each", l.trace[:4], rows, distinct, want)
				}
			}
			if rows, _ := spanCounts(t, store, poisonTrace); rows != 0 {
				t.Errorf("%d poison spans stored", rows)
			}
			if st := srv.Stats(); st.DuplicateRiskItems != 0 {
				t.Errorf("%d items at risk of duplication: an insert was cut", st.DuplicateRiskItems)
			}
			if n := srv.QuarantinedBatches(); n != 1 {
				t.Errorf("quarantined batches = %d, want 1", n)
			}
			code, body := get(t, "http://"+srv.AdminAddr()+"/metrics")
			wantLine := `lambdascope_collector_quarantined_batches_total{reason="refused_permanent"} 1`
			if code != http.StatusOK || !strings.Contains(body, wantLine) {
				t.Errorf("/metrics: %d, want a line %q in:\n%s", code, wantLine, grep(body, "quarantine"))
			}
			held := quarantinedBatches(t, filepath.Join(cfg.DataDir, "quarantine", "batches.seg"))
			if len(held) != 1 || !proto.Equal(held[0], poison) {
				t.Errorf("quarantine holds %d batches, want the poison batch alone", len(held))
			}
			reasons, err := os.ReadFile(filepath.Join(cfg.DataDir, "quarantine", "reasons.log"))
			if err != nil || !strings.Contains(string(reasons), fmt.Sprintf("batch_id=%x", poison.BatchId)) ||
				!strings.Contains(string(reasons), "throwIf") {
				t.Errorf("reasons.log: %v\n%s", err, reasons)
			}
		})
	}
}

// quarantinedBatches reads back the batches of a quarantine file (WAL
// records).
func quarantinedBatches(t *testing.T, path string) []*ingestv1.ExportRequest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read quarantine: %v", err)
	}
	var out []*ingestv1.ExportRequest
	for len(b) >= 24 {
		size := int(binary.LittleEndian.Uint32(b))
		if len(b) < 24+size {
			t.Fatalf("torn record in the quarantine")
		}
		req := &ingestv1.ExportRequest{}
		if err := proto.Unmarshal(b[24:24+size], req); err != nil {
			t.Fatalf("decode quarantined batch: %v", err)
		}
		out = append(out, req)
		b = b[24+size:]
	}
	return out
}

// refusingWriter stores through a real store but has ClickHouse's refusal
// for now (as for a memory limit) stand for every write holding a span
// named "stuck": a batch refused again and again for a reason that looks
// retryable.
type refusingWriter struct {
	*storage.Store
	refusals atomic.Int64
}

func (w *refusingWriter) WriteExports(ctx context.Context, reqs []*ingestv1.ExportRequest) (storage.WriteCounts, error) {
	if err := w.refuse(reqs, nil); err != nil {
		return storage.WriteCounts{}, err
	}
	return w.Store.WriteExports(ctx, reqs)
}

// WriteExportsWithColumns refuses as WriteExports does, the spans read
// into columns by the receiver included.
func (w *refusingWriter) WriteExportsWithColumns(ctx context.Context, reqs []*ingestv1.ExportRequest, spans []*dbmodel.SpanColumns, logs []*dbmodel.LogColumns) (storage.WriteCounts, error) {
	if err := w.refuse(reqs, spans); err != nil {
		return storage.WriteCounts{}, err
	}
	return w.Store.WriteExportsWithColumns(ctx, reqs, spans, logs)
}

func (w *refusingWriter) refuse(reqs []*ingestv1.ExportRequest, spans []*dbmodel.SpanColumns) error {
	stuck := slices.ContainsFunc(spans, func(c *dbmodel.SpanColumns) bool { return slices.Contains(c.Name.Strings(), "stuck") })
	for _, r := range reqs {
		for _, rs := range r.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					stuck = stuck || sp.GetName() == "stuck"
				}
			}
		}
	}
	if !stuck {
		return nil
	}
	w.refusals.Add(1)
	return &storage.WriteError{Kind: storage.ErrRefusedRetryable, Code: 241,
		Err: errors.New("insert into spans: MEMORY_LIMIT_EXCEEDED (241): Memory limit (for query) exceeded")}
}

// TestBatchRefusedTooOftenIsQuarantined: a batch ClickHouse keeps refusing
// for a reason a retry could cure waits at the head of the WAL only
// quarantine.max_refusals times, then is set aside, and the batches behind
// it are stored once each.
func TestBatchRefusedTooOftenIsQuarantined(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	w := &refusingWriter{Store: migratedStore(t, dsn)}
	cfg := testConfig(t, dsn)
	cfg.HTTPAddr = ""
	cfg.Quarantine.MaxRefusals = 3
	srv, err := collector.New(cfg, w, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	stuck := batch(t, [16]byte{0x57, 0xc4}, 2)
	stuck.Invocations = nil
	for _, sp := range stuck.ResourceSpans[0].ScopeSpans[0].Spans {
		sp.Name = "stuck"
	}
	if _, err := ingestv1.NewIngestServiceClient(conn).Export(withKey(t.Context(), apiKey), stuck); err != nil {
		t.Fatalf("export the stuck batch: %v (it goes to the WAL)", err)
	}
	l := &load{trace: [16]byte{0x57, 0xc4, 1}, perReq: 10}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const total = 30
	if err := l.run(ctx, 2, total, srv.Addr); err != nil {
		t.Fatalf("load: %v", err)
	}
	want := uint64(total * l.perReq)
	waitFor(t, "the batches behind the stuck one to be stored", time.Minute, func() bool {
		rows, _ := spanCounts(t, w.Store, l.trace)
		return rows >= want
	})
	if rows, distinct := spanCounts(t, w.Store, l.trace); rows != want || distinct != want {
		t.Errorf("stored %d rows of %d distinct spans, want exactly %d of each", rows, distinct, want)
	}
	if n := srv.QuarantinedBatches(); n != 1 {
		t.Errorf("quarantined batches = %d, want 1", n)
	}
	if n := w.refusals.Load(); n < int64(cfg.Quarantine.MaxRefusals) {
		t.Errorf("quarantined after %d refusals, want at least %d", n, cfg.Quarantine.MaxRefusals)
	}
	code, body := get(t, "http://"+srv.AdminAddr()+"/metrics")
	wantLine := `lambdascope_collector_quarantined_batches_total{reason="refused_repeatedly"} 1`
	if code != http.StatusOK || !strings.Contains(body, wantLine) {
		t.Errorf("/metrics: %d, want a line %q in:\n%s", code, wantLine, grep(body, "quarantine"))
	}
	held := quarantinedBatches(t, filepath.Join(cfg.DataDir, "quarantine", "batches.seg"))
	if len(held) != 1 || !proto.Equal(held[0], stuck) {
		t.Errorf("quarantine holds %d batches, want the stuck batch alone", len(held))
	}
}
