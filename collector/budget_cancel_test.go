package collector_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/internal/testload"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

const (
	inflightGauge   = "lambdascope_collector_inflight_bytes"
	overBudgetCount = `lambdascope_collector_refused_requests_total{reason="over_budget"}`
)

// TestCancelledGRPCRequestKeepsItsBytesInFlight: a client that cancels
// its call while the call's insert is held does not take the call's bytes
// off max_inflight_bytes: the collector still holds the request, so the
// budget counts it until the insert ends, and a request sent meanwhile is
// refused as over budget. Then the bytes are given back and the batch is
// stored once.
func TestCancelledGRPCRequestKeepsItsBytesInFlight(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	h := startWALAck(t, dsn, store, t.TempDir(), 1, func(c *collector.Config) {
		c.WAL.AckAfter = 0 // the call waits for its insert
		c.MaxInflightBytes = int64(c.MaxMessageBytes)
	})
	trace := [16]byte{0xbc, 0x1}
	req := batch(t, trace, 3)
	ctx, cancel := context.WithCancel(withKey(t.Context(), apiKey))
	answer := make(chan error, 1)
	go func() {
		_, err := h.client.Export(ctx, req)
		answer <- err
	}()
	<-h.w.entered
	opened := false
	t.Cleanup(func() {
		if !opened {
			h.w.open(0, errLost)
		}
	})
	cancel()
	if err := <-answer; status.Code(err) != codes.Canceled {
		t.Fatalf("the cancelled call: %v, want CANCELED", err)
	}

	if got, want := h.metric(t, inflightGauge), float64(proto.Size(req)); got != want {
		t.Errorf("inflight bytes = %v while the cancelled call's insert is held, want its %v bytes", got, want)
	}
	next := batch(t, [16]byte{0xbc, 0x2}, 2)
	if _, err := h.client.Export(withKey(t.Context(), apiKey), next); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a request while the cancelled call's insert is held: %v, want RESOURCE_EXHAUSTED (over max_inflight_bytes)", err)
	}
	if n := h.metric(t, overBudgetCount); n != 1 {
		t.Errorf("refused over_budget = %v, want 1", n)
	}

	h.w.open(0, nil)
	opened = true
	waitFor(t, "the insert to end and give the bytes back", time.Minute, func() bool {
		return h.w.count(h.w.direct, req.GetBatchId()) == 1 && h.metric(t, inflightGauge) == 0
	})
	if err := <-h.exportAsync(t, next); err != nil {
		t.Fatalf("a request after the insert ended: %v", err)
	}
	if rows, distinct := spanCounts(t, store, trace); rows != 3 || distinct != 3 {
		t.Errorf("ClickHouse holds %d rows of %d distinct spans of the cancelled call's batch, want 3 of 3", rows, distinct)
	}
	if n := h.w.count(h.w.replayed, req.GetBatchId()); n != 0 {
		t.Errorf("the cancelled call's batch was replayed %d times, want 0", n)
	}
	if got := h.srv.Stats().InflightBytes; got != 0 {
		t.Errorf("Stats().InflightBytes = %d with nothing in flight, want 0", got)
	}
}

// TestCancelledOTLPHTTPRequestKeepsItsBytesInFlight: the same over
// OTLP/HTTP; the budget is one body, and the request sent meanwhile is
// refused with 429.
func TestCancelledOTLPHTTPRequestKeepsItsBytesInFlight(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	trace := [16]byte{0xbc, 0x3}
	body, err := proto.Marshal(otlpTraces(trace, 3))
	if err != nil {
		t.Fatal(err)
	}
	h := startWALAck(t, dsn, store, t.TempDir(), 1, func(c *collector.Config) {
		c.HTTPAddr = "127.0.0.1:0"
		c.WAL.AckAfter = 0
		c.MaxMessageBytes = len(body) + 64
		c.MaxInflightBytes = int64(c.MaxMessageBytes)
	})
	post := func(ctx context.Context) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+h.srv.HTTPAddr()+"/v1/traces", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Authorization", "Bearer "+apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	answer := make(chan error, 1)
	go func() {
		_, err := post(ctx)
		answer <- err
	}()
	<-h.w.entered
	opened := false
	t.Cleanup(func() {
		if !opened {
			h.w.open(0, errLost)
		}
	})
	cancel()
	if err := <-answer; err == nil {
		t.Fatal("the cancelled request was answered while its insert is held")
	}
	if got := h.metric(t, inflightGauge); got != float64(len(body)) {
		t.Errorf("inflight bytes = %v while the cancelled request's insert is held, want its %d bytes", got, len(body))
	}
	if code, err := post(t.Context()); err != nil || code != http.StatusTooManyRequests {
		t.Errorf("a request while the cancelled request's insert is held: %d %v, want 429 (over max_inflight_bytes)", code, err)
	}
	if n := h.metric(t, overBudgetCount); n != 1 {
		t.Errorf("refused over_budget = %v, want 1", n)
	}
	h.w.open(0, nil)
	opened = true
	waitFor(t, "the insert to end and give the bytes back", time.Minute, func() bool {
		return h.metric(t, inflightGauge) == 0 && h.metric(t, `lambdascope_collector_requests_total{result="accepted"}`) == 1
	})
	if rows, distinct := spanCounts(t, store, trace); rows != 3 || distinct != 3 {
		t.Errorf("ClickHouse holds %d rows of %d distinct spans of the cancelled request, want 3 of 3", rows, distinct)
	}
}

// TestQueuedBatchWaitsAtMostWriteTimeout: a batch queued behind a held
// insert (one writer) that no writer takes within write_timeout is
// answered then, counted and logged: refused, retryable, without a WAL;
// put in the WAL and acknowledged with one. The writer never inserts it
// when it reaches it afterwards: it is stored once (from the WAL) or not
// at all (refused), as the sender was told.
func TestQueuedBatchWaitsAtMostWriteTimeout(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	queueTimeouts := func(outcome string) string {
		return `lambdascope_collector_queue_timeouts_total{outcome="` + outcome + `"}`
	}
	for i, withWAL := range []bool{false, true} {
		name := "no WAL"
		if withWAL {
			name = "WAL"
		}
		t.Run(name, func(t *testing.T) {
			h := startWALAck(t, dsn, store, t.TempDir(), 1, func(c *collector.Config) {
				c.WAL.Enabled = withWAL
				c.WAL.AckAfter = 0
				// The insert of the batch after the held one must end
				// within it, however loaded the machine.
				c.WriteTimeout = testload.Scale(2*time.Second, 20*time.Second)
				c.Batch.Parallelism = 1
			})
			held := batch(t, [16]byte{0xbc, 0x10, byte(i)}, 2)
			heldAnswer := h.exportAsync(t, held)
			<-h.w.entered
			opened := false
			t.Cleanup(func() {
				if !opened {
					h.w.open(0, errLost)
				}
			})
			queuedTrace := [16]byte{0xbc, 0x11, byte(i)}
			queued := batch(t, queuedTrace, 2)
			var err error
			select {
			case err = <-h.exportAsync(t, queued):
			case <-time.After(time.Minute):
				t.Fatal("the queued batch: no answer while the insert ahead of it is held")
			}
			want := "refused"
			if withWAL {
				want = "to_wal"
				if err != nil {
					t.Fatalf("the queued batch: %v, want it acknowledged from the WAL", err)
				}
			} else if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("the queued batch: %v, want RESOURCE_EXHAUSTED (no insert within write_timeout)", err)
			}
			if n := h.metric(t, queueTimeouts(want)); n != 1 {
				t.Errorf("queue_timeouts %s = %v, want 1", want, n)
			}

			h.w.open(0, errLost)
			opened = true
			<-heldAnswer
			waitFor(t, "the WAL to be consumed", time.Minute, func() bool {
				return h.metric(t, "lambdascope_collector_wal_records") == 0
			})
			// One writer takes the queue in order: once a later batch is
			// written directly, the writer has passed the queued one.
			later := batch(t, [16]byte{0xbc, 0x12, byte(i)}, 2)
			if err := <-h.exportAsync(t, later); err != nil {
				t.Fatalf("a batch after the held insert ended: %v", err)
			}
			if n := h.w.count(h.w.direct, later.GetBatchId()); n != 1 {
				t.Fatalf("the later batch was written %d times directly, want 1", n)
			}
			wantRows, wantReplays := uint64(0), 0
			if withWAL {
				wantRows, wantReplays = 2, 1
			}
			if d, r := h.w.count(h.w.direct, queued.GetBatchId()), h.w.count(h.w.replayed, queued.GetBatchId()); d != 0 || r != wantReplays {
				t.Errorf("the timed-out batch was written %d times directly and %d from the WAL, want 0 and %d", d, r, wantReplays)
			}
			if rows, _ := spanCounts(t, store, queuedTrace); rows != wantRows {
				t.Errorf("ClickHouse holds %d rows of the timed-out batch, want %d", rows, wantRows)
			}
			if got := h.srv.Stats().InflightBytes; got != 0 {
				t.Errorf("Stats().InflightBytes = %d with nothing in flight, want 0", got)
			}
		})
	}
}

// TestSlowReplayIsNotCutOffAtWriteTimeout: a batch that went to the WAL
// (no writer took it within write_timeout) is replayed by an insert whose
// answer comes after write_timeout. Nothing waits on a replay, so it is
// not cut off then (wal.replay_timeout bounds it): the batch is stored
// once. Cut off at write_timeout, the replay after it stored the rows
// again.
func TestSlowReplayIsNotCutOffAtWriteTimeout(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	const writeTimeout = time.Second
	h := startWALAck(t, dsn, store, t.TempDir(), 1, func(c *collector.Config) {
		c.WAL.AckAfter = 0
		c.WriteTimeout = writeTimeout
		c.Batch.Parallelism = 1
	})
	heldAnswer := h.exportAsync(t, batch(t, [16]byte{0xbd, 0x10}, 2))
	<-h.w.entered
	opened := false
	t.Cleanup(func() {
		if !opened {
			h.w.open(0, errLost)
		}
	})
	queuedTrace := [16]byte{0xbd, 0x11}
	queued := batch(t, queuedTrace, 2)
	select {
	case err := <-h.exportAsync(t, queued):
		if err != nil {
			t.Fatalf("the queued batch: %v, want it acknowledged from the WAL", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the queued batch: no answer while the insert ahead of it is held")
	}
	h.w.mu.Lock()
	h.w.slowReplay = writeTimeout + writeTimeout/2
	h.w.mu.Unlock()
	h.w.open(0, errLost)
	opened = true
	<-heldAnswer
	waitFor(t, "the WAL to be consumed", time.Minute, func() bool {
		return h.metric(t, "lambdascope_collector_wal_records") == 0
	})
	if r := h.w.count(h.w.replayed, queued.GetBatchId()); r != 1 {
		t.Errorf("the batch was replayed %d times with success, want 1", r)
	}
	if rows, _ := spanCounts(t, store, queuedTrace); rows != 2 {
		t.Errorf("ClickHouse holds %d rows of the replayed batch, want 2 (stored once)", rows)
	}
	if n := h.metric(t, `lambdascope_collector_duplicate_risk_items_total{reason="outcome_unknown"}`); n != 0 {
		t.Errorf("duplicate_risk_items outcome_unknown = %v, want 0", n)
	}
}
