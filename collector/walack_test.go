package collector_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// gateWriter is a store whose next held writes (of any path) wait at a
// gate each until the test opens it, then either go on to ClickHouse or
// fail as a lost connection does. It records which batch IDs each method
// wrote: WriteExportsWithColumns is the direct path of Ingest API
// requests, WriteExports the WAL replay.
type gateWriter struct {
	*storage.Store
	entered chan [16]byte // a held write's first batch ID, as it starts waiting

	mu       sync.Mutex
	hold     int              // writes still to hold
	gates    []chan error     // the held writes' gates, in order
	replayed map[[16]byte]int // batch ID: WriteExports that succeeded
	direct   map[[16]byte]int // batch ID: WriteExportsWithColumns that succeeded
	failing  error            // every write fails with it while set
	// slowReplay, when set, is how long the next WAL replay's answer
	// comes after ClickHouse stored its rows (once); the replay then
	// fails if its context ended meanwhile, as a driver does whose wait
	// for the answer is cut off.
	slowReplay time.Duration
}

func newGateWriter(store *storage.Store, hold int) *gateWriter {
	return &gateWriter{Store: store, hold: hold, entered: make(chan [16]byte, 16),
		replayed: map[[16]byte]int{}, direct: map[[16]byte]int{}}
}

// wait holds the write of reqs at a new gate when writes are to be held,
// and returns what the test opens that gate with.
func (w *gateWriter) wait(reqs []*ingestv1.ExportRequest) error {
	w.mu.Lock()
	if w.failing != nil {
		err := w.failing
		w.mu.Unlock()
		return err
	}
	if w.hold == 0 {
		w.mu.Unlock()
		return nil
	}
	w.hold--
	gate := make(chan error, 1)
	w.gates = append(w.gates, gate)
	w.mu.Unlock()
	w.entered <- [16]byte(reqs[0].GetBatchId())
	return <-gate
}

// open lets the i-th held write go on (err nil) or fail with err.
func (w *gateWriter) open(i int, err error) {
	w.mu.Lock()
	gate := w.gates[i]
	w.mu.Unlock()
	gate <- err
}

func (w *gateWriter) failAll(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failing = err
}

func (w *gateWriter) count(m map[[16]byte]int, id []byte) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return m[[16]byte(id)]
}

func (w *gateWriter) record(m map[[16]byte]int, reqs []*ingestv1.ExportRequest) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range reqs {
		m[[16]byte(r.GetBatchId())]++
	}
}

func (w *gateWriter) WriteExports(ctx context.Context, reqs []*ingestv1.ExportRequest) (storage.WriteCounts, error) {
	if err := w.wait(reqs); err != nil {
		return storage.WriteCounts{}, err
	}
	c, err := w.Store.WriteExports(ctx, reqs)
	w.mu.Lock()
	slow := w.slowReplay
	if err == nil {
		w.slowReplay = 0
	}
	w.mu.Unlock()
	if err == nil && slow > 0 {
		select {
		case <-time.After(slow):
		case <-ctx.Done():
			return storage.WriteCounts{Uncertain: c.Spans + c.Logs + c.MetricPoints + c.Invocations}, fmt.Errorf("write: waiting for ClickHouse's answer: %w", ctx.Err())
		}
	}
	if err == nil {
		w.record(w.replayed, reqs)
	}
	return c, err
}

func (w *gateWriter) WriteExportsWithColumns(ctx context.Context, reqs []*ingestv1.ExportRequest, spans []*dbmodel.SpanColumns, logs []*dbmodel.LogColumns) (storage.WriteCounts, error) {
	if err := w.wait(reqs); err != nil {
		return storage.WriteCounts{}, err
	}
	c, err := w.Store.WriteExportsWithColumns(ctx, reqs, spans, logs)
	if err == nil {
		w.record(w.direct, reqs)
	}
	return c, err
}

// errLost is how a write fails when ClickHouse is not reached.
var errLost = errors.New("write: connection reset by peer")

// walAckHarness is a collector with wal.ack_after on, writing through a
// gateWriter to real ClickHouse.
type walAckHarness struct {
	store  *storage.Store
	w      *gateWriter
	srv    *collector.Server
	client ingestv1.IngestServiceClient
}

func startWALAck(t *testing.T, dsn string, store *storage.Store, walDir string, hold int, mutate ...func(*collector.Config)) *walAckHarness {
	t.Helper()
	cfg := testConfig(t, dsn)
	cfg.HTTPAddr = ""
	cfg.WAL.Dir = walDir
	cfg.WAL.AckAfter = 20 * time.Millisecond
	for _, m := range mutate {
		m(&cfg)
	}
	w := newGateWriter(store, hold)
	srv, err := collector.New(cfg, w, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("new collector: %v", err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &walAckHarness{store: store, w: w, srv: srv, client: ingestv1.NewIngestServiceClient(conn)}
}

// exportAsync sends req and delivers the answer on the returned channel.
func (h *walAckHarness) exportAsync(t *testing.T, req *ingestv1.ExportRequest) <-chan error {
	ch := make(chan error, 1)
	go func() {
		resp, err := h.client.Export(withKey(t.Context(), apiKey), req)
		if err == nil && (resp.GetDuplicate() || resp.GetAcceptedSpans() == 0) {
			err = errors.New("acknowledged as " + resp.String() + ", want the spans accepted")
		}
		ch <- err
	}()
	return ch
}

// metric returns the value of the /metrics line starting with series.
func (h *walAckHarness) metric(t *testing.T, series string) float64 {
	t.Helper()
	_, body := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	for l := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", l, err)
			}
			return f
		}
	}
	return 0
}

func walAcks(outcome string) string {
	return `lambdascope_collector_wal_acks_total{outcome="` + outcome + `"}`
}

// acked waits for an answer that cannot come before the held write goes on
// unless the collector acknowledged it from the WAL.
func acked(t *testing.T, what string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s: no acknowledgement while its insert is held", what)
	}
}

// TestSlowInsertIsAcknowledgedFromTheWAL: a batch whose insert is held
// past wal.ack_after is acknowledged while the insert is still held; once
// the insert stores it, the replayer skips its WAL record, so it is stored
// once. A batch sent meanwhile goes straight to ClickHouse, not behind it
// through the WAL.
func TestSlowInsertIsAcknowledgedFromTheWAL(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	h := startWALAck(t, dsn, store, t.TempDir(), 1)

	trace := [16]byte{0xac, 0x1}
	slow := batch(t, trace, 3)
	ack := h.exportAsync(t, slow)
	if got := <-h.w.entered; got != [16]byte(slow.GetBatchId()) {
		t.Fatalf("held write of %x, want the slow batch", got)
	}
	acked(t, "slow batch", ack)
	if n := h.metric(t, walAcks("acked")); n != 1 {
		t.Errorf("wal_acks acked = %v, want 1", n)
	}
	if rows, _ := spanCounts(t, store, trace); rows != 0 {
		t.Fatalf("%d rows stored while the only insert is held, want 0 (the replayer must wait for it)", rows)
	}

	// The next batch is not held: it goes straight to ClickHouse.
	next := batch(t, [16]byte{0xac, 0x2}, 2)
	if err := <-h.exportAsync(t, next); err != nil {
		t.Fatalf("next batch: %v", err)
	}
	waitFor(t, "the next batch's direct insert", time.Minute, func() bool { return h.w.count(h.w.direct, next.GetBatchId()) == 1 })

	h.w.open(0, nil)
	waitFor(t, "the slow batch's WAL record to be skipped", time.Minute, func() bool {
		return h.metric(t, walAcks("skipped_on_replay")) >= 1 && h.metric(t, "lambdascope_collector_wal_records") == 0
	})
	if n := h.metric(t, walAcks("stored_directly")); n < 1 {
		t.Errorf("wal_acks stored_directly = %v, want at least 1", n)
	}
	for _, b := range []*ingestv1.ExportRequest{slow, next} {
		if d, r := h.w.count(h.w.direct, b.GetBatchId()), h.w.count(h.w.replayed, b.GetBatchId()); d != 1 || r != 0 {
			t.Errorf("batch %x written %d times directly and %d from the WAL, want 1 and 0", b.GetBatchId(), d, r)
		}
	}
	if rows, distinct := spanCounts(t, store, trace); rows != 3 || distinct != 3 {
		t.Errorf("ClickHouse holds %d rows of %d distinct spans, want 3 of 3", rows, distinct)
	}
	if n := h.metric(t, walAcks("insert_failed")); n != 0 {
		t.Errorf("wal_acks insert_failed = %v, want 0", n)
	}
	// A retry of the acknowledged batch is a duplicate.
	resp, err := h.client.Export(withKey(t.Context(), apiKey), slow)
	if err != nil || !resp.GetDuplicate() {
		t.Errorf("retry of the slow batch: %v, %v; want a duplicate", resp, err)
	}
}

// TestAckedInsertKeepsItsBytesInFlight: a batch acknowledged from the
// WAL keeps its bytes charged to max_inflight_bytes while its insert is
// held, so the budget counts what that insert holds. The budget is one
// request's reservation (max_message_bytes): a request sent meanwhile is
// refused as over budget at once, counted, retryable, not kept waiting.
// When the insert ends, stored or failed, the bytes are given back and the
// next request is taken.
func TestAckedInsertKeepsItsBytesInFlight(t *testing.T) {
	const inflight = "lambdascope_collector_inflight_bytes"
	const overBudget = `lambdascope_collector_refused_requests_total{reason="over_budget"}`
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	for i, end := range []error{nil, errLost} {
		name := "stored"
		if end != nil {
			name = "failed"
		}
		t.Run(name, func(t *testing.T) {
			h := startWALAck(t, dsn, store, t.TempDir(), 1, func(c *collector.Config) {
				c.MaxInflightBytes = int64(c.MaxMessageBytes)
			})
			trace := [16]byte{0xac, 0x30, byte(i)}
			slow := batch(t, trace, 3)
			ack := h.exportAsync(t, slow)
			<-h.w.entered
			// A failing check must not leave the insert held: the
			// collector's shutdown waits for it.
			opened := false
			t.Cleanup(func() {
				if !opened {
					h.w.open(0, errLost)
				}
			})
			acked(t, "slow batch", ack)

			next := batch(t, [16]byte{0xac, 0x31, byte(i)}, 2)
			_, err := h.client.Export(withKey(t.Context(), apiKey), next)
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("a request while the acknowledged batch's insert is held: %v, want RESOURCE_EXHAUSTED (over max_inflight_bytes)", err)
			}
			if n := h.metric(t, overBudget); n != 1 {
				t.Errorf("refused over_budget = %v, want 1", n)
			}
			size := proto.Size(slow)
			if got := h.metric(t, inflight); got != float64(size) {
				t.Errorf("inflight bytes = %v while the acknowledged batch's insert is held, want its %d bytes", got, size)
			}
			if got := h.srv.Stats().InflightBytes; got != int64(size) {
				t.Errorf("Stats().InflightBytes = %d while the insert is held, want %d", got, size)
			}

			h.w.open(0, end)
			opened = true
			outcome := "stored_directly"
			if end != nil {
				outcome = "insert_failed"
			}
			waitFor(t, "the insert to end and give its bytes back", time.Minute, func() bool {
				return h.metric(t, walAcks(outcome)) == 1 && h.metric(t, inflight) == 0
			})
			if err := <-h.exportAsync(t, next); err != nil {
				t.Fatalf("a request after the insert ended: %v", err)
			}
			waitFor(t, "the WAL to be consumed", time.Minute, func() bool {
				return h.metric(t, "lambdascope_collector_wal_records") == 0
			})
			if rows, distinct := spanCounts(t, store, trace); rows != 3 || distinct != 3 {
				t.Errorf("ClickHouse holds %d rows of %d distinct spans of the acknowledged batch, want 3 of 3", rows, distinct)
			}
			if got := h.srv.Stats().InflightBytes; got != 0 {
				t.Errorf("Stats().InflightBytes = %d with nothing in flight, want 0", got)
			}
		})
	}
}

// TestAckedOTLPHTTPInsertKeepsItsBytesInFlight: an OTLP/HTTP request
// acknowledged from the WAL keeps its body's bytes charged until its
// insert ends, as a gRPC one does.
func TestAckedOTLPHTTPInsertKeepsItsBytesInFlight(t *testing.T) {
	const inflight = "lambdascope_collector_inflight_bytes"
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	h := startWALAck(t, dsn, store, t.TempDir(), 1, func(c *collector.Config) {
		c.HTTPAddr = "127.0.0.1:0"
		c.MaxInflightBytes = int64(c.MaxMessageBytes)
	})
	body, err := proto.Marshal(otlpTraces([16]byte{0xac, 0x32}, 3))
	if err != nil {
		t.Fatal(err)
	}
	answer := make(chan string, 1)
	go func() {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+h.srv.HTTPAddr()+"/v1/traces", bytes.NewReader(body))
		if err != nil {
			answer <- err.Error()
			return
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Authorization", "Bearer "+apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answer <- err.Error()
			return
		}
		_ = resp.Body.Close()
		answer <- resp.Status
	}()
	<-h.w.entered
	opened := false
	t.Cleanup(func() {
		if !opened {
			h.w.open(0, errLost)
		}
	})
	select {
	case got := <-answer:
		if got != "200 OK" {
			t.Fatalf("OTLP/HTTP request: %s, want 200 OK", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("OTLP/HTTP request: no acknowledgement while its insert is held")
	}
	if got := h.metric(t, inflight); got != float64(len(body)) {
		t.Errorf("inflight bytes = %v while the acknowledged request's insert is held, want its %d bytes", got, len(body))
	}
	if _, err := h.client.Export(withKey(t.Context(), apiKey), batch(t, [16]byte{0xac, 0x33}, 2)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a request while the insert is held: %v, want RESOURCE_EXHAUSTED (over max_inflight_bytes)", err)
	}
	h.w.open(0, nil)
	opened = true
	waitFor(t, "the insert to end and give its bytes back", time.Minute, func() bool {
		return h.metric(t, walAcks("stored_directly")) == 1 && h.metric(t, inflight) == 0
	})
}

// TestInsertFailingAfterWALAckIsReplayed: the held insert of a batch
// acknowledged from the WAL fails; the replayer, which waited for it, then
// stores the batch, once.
func TestInsertFailingAfterWALAckIsReplayed(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	h := startWALAck(t, dsn, store, t.TempDir(), 1)

	trace := [16]byte{0xac, 0x3}
	req := batch(t, trace, 4)
	ack := h.exportAsync(t, req)
	<-h.w.entered
	acked(t, "batch", ack)
	if rows, _ := spanCounts(t, store, trace); rows != 0 {
		t.Fatalf("%d rows stored while the only insert is held, want 0", rows)
	}
	h.w.open(0, errLost)
	waitFor(t, "the WAL to replay the batch", time.Minute, func() bool {
		return h.w.count(h.w.replayed, req.GetBatchId()) == 1 && h.metric(t, "lambdascope_collector_wal_records") == 0
	})
	if n := h.metric(t, walAcks("insert_failed")); n != 1 {
		t.Errorf("wal_acks insert_failed = %v, want 1", n)
	}
	if n := h.metric(t, walAcks("stored_directly")) + h.metric(t, walAcks("skipped_on_replay")); n != 0 {
		t.Errorf("wal_acks stored_directly + skipped_on_replay = %v, want 0", n)
	}
	if rows, distinct := spanCounts(t, store, trace); rows != 4 || distinct != 4 {
		t.Errorf("ClickHouse holds %d rows of %d distinct spans, want 4 of 4", rows, distinct)
	}
}

// TestRestartSkipsBatchStoredDirectly: two batches are acknowledged from
// the WAL while their inserts are held; the second one's insert stores it,
// the first one's fails and so does every write after it, so that both
// records are still in the WAL when the collector stops. After the restart
// the replay stores the first and skips the second: each is stored once.
func TestRestartSkipsBatchStoredDirectly(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	walDir := t.TempDir()
	h := startWALAck(t, dsn, store, walDir, 2)

	failed, stored := batch(t, [16]byte{0xac, 0x4}, 2), batch(t, [16]byte{0xac, 0x5}, 3)
	ack := h.exportAsync(t, failed)
	<-h.w.entered
	acked(t, "first batch", ack)
	ack = h.exportAsync(t, stored)
	<-h.w.entered
	acked(t, "second batch", ack)
	h.w.open(1, nil)
	waitFor(t, "the second batch's direct insert", time.Minute, func() bool {
		return h.metric(t, walAcks("stored_directly")) == 1
	})
	h.w.failAll(errLost)
	h.w.open(0, errLost)
	waitFor(t, "the first batch's insert to fail", time.Minute, func() bool {
		return h.metric(t, walAcks("insert_failed")) == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if rows, _ := spanCounts(t, store, [16]byte{0xac, 0x4}); rows != 0 {
		t.Fatalf("the failed batch has %d rows before the restart, want 0", rows)
	}

	h = startWALAck(t, dsn, store, walDir, 0)
	waitFor(t, "the replay after the restart", time.Minute, func() bool {
		return h.metric(t, "lambdascope_collector_wal_records") == 0
	})
	if n := h.metric(t, walAcks("skipped_on_replay")); n != 1 {
		t.Errorf("after the restart wal_acks skipped_on_replay = %v, want 1", n)
	}
	if r := h.w.count(h.w.replayed, stored.GetBatchId()); r != 0 {
		t.Errorf("the batch stored directly was replayed %d times after the restart, want 0", r)
	}
	if r := h.w.count(h.w.replayed, failed.GetBatchId()); r != 1 {
		t.Errorf("the batch whose insert failed was replayed %d times after the restart, want 1", r)
	}
	for _, c := range []struct {
		trace [16]byte
		spans uint64
	}{{[16]byte{0xac, 0x4}, 2}, {[16]byte{0xac, 0x5}, 3}} {
		if rows, distinct := spanCounts(t, store, c.trace); rows != c.spans || distinct != c.spans {
			t.Errorf("trace %x: %d rows of %d distinct spans, want %d of %d", c.trace[:2], rows, distinct, c.spans, c.spans)
		}
	}
	for _, b := range []*ingestv1.ExportRequest{failed, stored} {
		resp, err := h.client.Export(withKey(t.Context(), apiKey), b)
		if err != nil || !resp.GetDuplicate() {
			t.Errorf("retry of %x after the restart: %v, %v; want a duplicate", b.GetBatchId(), resp, err)
		}
	}
}

// TestAcksFromTheWALAreBounded: at most wal.ack_max_pending batches at a
// time (4 here) are acknowledged from the WAL while their inserts run; the
// next one waits for its insert. One writer gathers all five batches in one
// group (batch.max_items is their items, the flush interval a minute) and
// its insert is held. Every batch is stored once.
func TestAcksFromTheWALAreBounded(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	h := startWALAck(t, dsn, store, t.TempDir(), 1, func(c *collector.Config) {
		c.Batch.MaxItems = 5 * 3 // 2 spans and an invocation each
		c.Batch.FlushInterval = time.Minute
		c.WAL.AckMaxPending = 4
	})

	var reqs []*ingestv1.ExportRequest
	for i := range 4 {
		req := batch(t, [16]byte{0xac, 0x10, byte(i)}, 2)
		reqs = append(reqs, req)
		acked(t, fmt.Sprintf("batch %d", i), h.exportAsync(t, req))
	}
	over := batch(t, [16]byte{0xac, 0x10, 4}, 2)
	reqs = append(reqs, over)
	overAck := h.exportAsync(t, over)
	<-h.w.entered // the group of five
	waitFor(t, "the fifth batch to find the bound reached", time.Minute, func() bool {
		return h.metric(t, walAcks("busy")) == 1
	})
	select {
	case err := <-overAck:
		t.Fatalf("the batch over the bound was answered (%v) while its insert is held", err)
	default:
	}
	if n := h.metric(t, walAcks("acked")); n != 4 {
		t.Errorf("wal_acks acked = %v, want 4", n)
	}
	h.w.open(0, nil)
	if err := <-overAck; err != nil {
		t.Fatalf("the batch over the bound: %v", err)
	}
	waitFor(t, "the WAL to be consumed", time.Minute, func() bool {
		return h.metric(t, "lambdascope_collector_wal_records") == 0 && h.metric(t, walAcks("skipped_on_replay")) == 4
	})
	for i, req := range reqs {
		if d, r := h.w.count(h.w.direct, req.GetBatchId()), h.w.count(h.w.replayed, req.GetBatchId()); d != 1 || r != 0 {
			t.Errorf("batch %d written %d times directly and %d from the WAL, want 1 and 0", i, d, r)
		}
		if rows, distinct := spanCounts(t, store, [16]byte{0xac, 0x10, byte(i)}); rows != 2 || distinct != 2 {
			t.Errorf("batch %d: %d rows of %d distinct spans, want 2 of 2", i, rows, distinct)
		}
	}
}

// TestQueuedBatchIsAcknowledgedFromTheWAL: a small batch that has not
// reached a writer by wal.ack_after (both writers' inserts are held, as in
// a burst of cold starts' first flushes) is acknowledged from the WAL too,
// and written once, directly, when a writer takes it.
func TestQueuedBatchIsAcknowledgedFromTheWAL(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	h := startWALAck(t, dsn, store, t.TempDir(), 2)
	for i := range 2 {
		ack := h.exportAsync(t, batch(t, [16]byte{0xac, 0x20, byte(i)}, 2))
		<-h.w.entered
		acked(t, fmt.Sprintf("batch %d", i), ack)
	}
	queued := batch(t, [16]byte{0xac, 0x20, 2}, 2)
	acked(t, "the queued batch", h.exportAsync(t, queued))
	if n := h.metric(t, walAcks("acked")); n != 3 {
		t.Errorf("wal_acks acked = %v, want 3", n)
	}
	h.w.open(0, nil)
	h.w.open(1, nil)
	waitFor(t, "the WAL to be consumed", time.Minute, func() bool {
		return h.metric(t, "lambdascope_collector_wal_records") == 0 && h.metric(t, walAcks("skipped_on_replay")) == 3
	})
	if d, r := h.w.count(h.w.direct, queued.GetBatchId()), h.w.count(h.w.replayed, queued.GetBatchId()); d != 1 || r != 0 {
		t.Errorf("the queued batch was written %d times directly and %d from the WAL, want 1 and 0", d, r)
	}
	if rows, distinct := spanCounts(t, store, [16]byte{0xac, 0x20, 2}); rows != 2 || distinct != 2 {
		t.Errorf("the queued batch: %d rows of %d distinct spans, want 2 of 2", rows, distinct)
	}
}

// TestAckAfterOffWaitsForTheInsert: with wal.ack_after 0 a held insert
// holds its request: the answer comes only after the insert goes on.
func TestAckAfterOffWaitsForTheInsert(t *testing.T) {
	answeredAfterInsert(t, 0, 256)
}

// A batch larger than wal.ack_max_items waits for its insert, however long
// the insert runs past wal.ack_after.
func TestLargeBatchWaitsForItsInsert(t *testing.T) {
	answeredAfterInsert(t, 5*time.Millisecond, 1)
}

// answeredAfterInsert holds the insert of a two-span batch and checks that
// its answer waits for it and nothing went to the WAL.
func answeredAfterInsert(t *testing.T, ackAfter time.Duration, maxItems int) {
	t.Helper()
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	h := startWALAck(t, dsn, store, t.TempDir(), 1, func(c *collector.Config) {
		c.WAL.AckAfter = ackAfter
		c.WAL.AckMaxItems = maxItems
	})
	w := h.w

	req := batch(t, [16]byte{0xac, 0x6}, 2)
	ack := h.exportAsync(t, req)
	<-w.entered
	// Held well past ack_after, so that an answer from the WAL would have
	// come; opened only after the WAL shows nothing.
	time.Sleep(20*ackAfter + 10*time.Millisecond)
	if n := h.metric(t, "lambdascope_collector_wal_appends_total"); n != 0 {
		t.Fatalf("wal_appends = %v (ack_after %s, ack_max_items %d, a batch of 2), want 0", n, ackAfter, maxItems)
	}
	select {
	case err := <-ack:
		t.Fatalf("answered (%v) while the insert is held (ack_after %s, ack_max_items %d, a batch of 2)", err, ackAfter, maxItems)
	default:
	}
	w.open(0, nil)
	if err := <-ack; err != nil {
		t.Fatalf("export: %v", err)
	}
	if n := h.metric(t, walAcks("acked")); n != 0 {
		t.Errorf("wal_acks acked = %v (ack_after %s, ack_max_items %d), want 0", n, ackAfter, maxItems)
	}
}

func TestAckAfterValidation(t *testing.T) {
	cfg := collector.DefaultConfig()
	cfg.NoAuth = true
	if cfg.WAL.AckAfter <= 0 || cfg.WAL.AckAfter >= 100*time.Millisecond {
		t.Errorf("default wal.ack_after %s, want on and well under a Lambda extension's flush budget", cfg.WAL.AckAfter)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		yaml, want string
	}{
		{"wal:\n  ack_after: -5ms\n", "wal.ack_after must not be negative"},
		{"write_timeout: 1s\nwal:\n  ack_after: 2s\n", "wal.ack_after (2s) must be shorter than write_timeout (1s)"},
		{"wal:\n  ack_after: soon\n", "time.Duration"},
		{"wal:\n  ack_max_items: 0\n", "wal.ack_max_items must be positive"},
		{"wal:\n  ack_max_pending: -1\n", "wal.ack_max_pending must be positive"},
	} {
		cfg := collector.DefaultConfig()
		cfg.NoAuth = true
		err := collector.ParseConfig([]byte(c.yaml), &cfg)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.yaml, err, c.want)
		}
	}
	for _, y := range []string{"wal:\n  ack_after: 0s\n", "wal:\n  ack_after: 40ms\n", "wal:\n  enabled: false\n  ack_after: 1m\n"} {
		cfg := collector.DefaultConfig()
		cfg.NoAuth = true
		if err := collector.ParseConfig([]byte(y), &cfg); err != nil {
			t.Fatalf("%q: %v", y, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%q: %v, want valid", y, err)
		}
	}
}

// TestOutageUnderLoadWithAcksFromTheWAL is the outage under load of
// TestClickHouseOutageUnderLoadLosesAndDoublesNothing with wal.ack_after
// on: batches acknowledged from the WAL whose inserts were cut by the
// outage are replayed, those stored are skipped, and every batch is
// stored exactly once.
func TestOutageUnderLoadWithAcksFromTheWAL(t *testing.T) {
	o := outageUnderLoad(t, "walack", [16]byte{0x0a, 0xac, 0x6e}, func(c *collector.Config) { c.WAL.AckAfter = 20 * time.Millisecond })
	srv, store, l, want, ackedWhileDown := o.srv, o.store, o.l, o.want, o.ackedWhileDown
	h := &walAckHarness{srv: srv}
	waitFor(t, "the WAL to be consumed", time.Minute, func() bool { return h.metric(t, "lambdascope_collector_wal_records") == 0 })
	rows, distinct := spanCounts(t, store, l.trace)
	risk := srv.Stats().DuplicateRiskItems
	if distinct != want || rows != want {
		t.Errorf("stored %d rows of %d distinct spans, want exactly %d of each (items at risk of duplication, counted: %d)", rows, distinct, want, risk)
	}
	acked, stored, failed, skipped := h.metric(t, walAcks("acked")), h.metric(t, walAcks("stored_directly")), h.metric(t, walAcks("insert_failed")), h.metric(t, walAcks("skipped_on_replay"))
	if acked != stored+failed || skipped != stored {
		t.Errorf("wal_acks: acked %v, stored_directly %v, insert_failed %v, skipped_on_replay %v; want acked = stored_directly + insert_failed and skipped_on_replay = stored_directly",
			acked, stored, failed, skipped)
	}
	t.Logf("acknowledged %d requests, %d while ClickHouse was down; %d retries; from the WAL while inserting: %v (stored %v, failed %v)",
		l.acked.Load(), l.acked.Load()-ackedWhileDown, l.retries.Load(), acked, stored, failed)
}
