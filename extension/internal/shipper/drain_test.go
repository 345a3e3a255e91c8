package shipper

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// slowCollector answers its first Export only once a second one has
// arrived (or after a minute): a collector whose insert of one batch is
// slow while it takes the next.
type slowCollector struct {
	ingestv1.UnimplementedIngestServiceServer
	addr   string
	first  chan struct{} // closed when the first call arrived
	second chan struct{} // closed when the second call arrived

	mu       sync.Mutex
	calls    int
	answered [][]string // request IDs of each batch, in the order answered
}

func startSlowCollector(t *testing.T) *slowCollector {
	t.Helper()
	c := &slowCollector{first: make(chan struct{}), second: make(chan struct{})}
	c.addr = collectortest.Serve(t, c)
	return c
}

func (c *slowCollector) Export(ctx context.Context, req *ingestv1.ExportRequest) (*ingestv1.ExportResponse, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	c.mu.Unlock()
	switch n {
	case 1:
		close(c.first)
		select {
		case <-c.second:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Minute):
		}
	case 2:
		close(c.second)
	}
	var ids []string
	for _, inv := range req.GetInvocations() {
		ids = append(ids, inv.GetRequestId())
	}
	c.mu.Lock()
	c.answered = append(c.answered, ids)
	c.mu.Unlock()
	return &ingestv1.ExportResponse{AcceptedInvocations: uint64(len(ids))}, nil
}

func (c *slowCollector) answeredIDs() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.answered)
}

// TestDrainSendsBesideARunningFlush: at shutdown the background loop has a
// batch in flight to a collector that is slow to answer it; what was
// buffered since goes out at once beside it, not after it, so both are in
// within one round trip.
func TestDrainSendsBesideARunningFlush(t *testing.T) {
	srv := startSlowCollector(t)
	s, buf := newShipper(t, srv.addr, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addWork(buf, "req-1")
	s.Kick()
	select {
	case <-srv.first:
	case <-time.After(10 * time.Second):
		t.Fatal("the background loop sent nothing after Kick")
	}
	addWork(buf, "req-2")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.Drain(ctx); err != nil {
		t.Fatalf("Drain = %v, want both batches in", err)
	}
	got := srv.answeredIDs()
	slices.SortFunc(got, slices.Compare)
	if want := [][]string{{"req-1"}, {"req-2"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches answered %v, want %v", got, want)
	}
	if st := buf.Stats(); st.Sent[buffer.Invocations] != 2 {
		t.Errorf("sent %v, want 2 invocations", st.Sent)
	}
}

// TestDrainKeepsWhatTheCollectorDidNotTake: when neither the batch in
// flight nor the one sent beside it is answered before the deadline, both
// go to the spool with the batch IDs they were sent with.
func TestDrainKeepsWhatTheCollectorDidNotTake(t *testing.T) {
	srv := collectortest.Start(t)
	srv.Hang(2)
	sp := openSpool(t, t.TempDir())
	s, buf := newShipper(t, srv.Addr, func(c *Config) { c.Spool = sp })
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addWork(buf, "req-1")
	s.Kick()
	select {
	case <-srv.Called():
	case <-time.After(10 * time.Second):
		t.Fatal("the background loop sent nothing after Kick")
	}
	addWork(buf, "req-2")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := s.Drain(ctx); err == nil {
		t.Fatal("Drain succeeded against a collector that answers nothing")
	}
	sctx, scancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	spooled, dropped, err := s.SpoolRemaining(sctx)
	if err != nil {
		t.Fatalf("SpoolRemaining: %v", err)
	}
	if spooled[buffer.Invocations] != 2 || !dropped.IsZero() {
		t.Errorf("spooled %v, dropped %v; want 2 invocations spooled, nothing dropped", spooled, dropped)
	}
	calls := srv.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want the one in flight and the one beside it", len(calls))
	}
	for range calls {
		e, ok := sp.Oldest()
		if !ok {
			t.Fatal("spool holds fewer batches than were sent")
		}
		if !slices.ContainsFunc(calls, func(c collectortest.Call) bool { return bytes.Equal(c.Request.GetBatchId(), e.Request.GetBatchId()) }) {
			t.Errorf("spooled batch %x was never sent under that ID", e.Request.GetBatchId())
		}
		sp.Done(e, true)
	}
}

// TestDrainRetriesPastTheBudget: at shutdown a collector that refuses
// more times than the retry budget allows (restarting, or "retry later")
// is retried until it takes the batch, within the drain's deadline: the
// spool would only help if Lambda reused this environment.
func TestDrainRetriesPastTheBudget(t *testing.T) {
	srv := collectortest.Start(t)
	srv.Script(unavailable(8)...)
	sp := openSpool(t, t.TempDir())
	s, buf := newShipper(t, srv.Addr, func(c *Config) { c.MaxAttempts, c.Spool = 3, sp })
	addWork(buf, "req-1")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := s.Drain(ctx); err != nil {
		t.Fatalf("Drain = %v, want the batch in after 8 refusals", err)
	}
	if n := len(srv.Calls()); n != 9 {
		t.Errorf("%d calls, want 8 refused and 1 accepted", n)
	}
	acc := srv.Accepted()
	if len(acc) != 1 || acc[0].GetInvocations()[0].GetRequestId() != "req-1" {
		t.Fatalf("accepted %v, want the one batch", acc)
	}
	if st := sp.Stats(); st.Files != 0 || !st.Spooled.IsZero() {
		t.Errorf("spool stats = %+v, want nothing spooled", st)
	}
}

// TestDrainSpoolsAtItsDeadline: a collector that never takes the batch
// keeps it for SpoolRemaining when the drain's deadline comes, whatever
// the budget, and nothing is dropped.
func TestDrainSpoolsAtItsDeadline(t *testing.T) {
	srv := collectortest.Start(t)
	srv.Script(unavailable(1000)...)
	sp := openSpool(t, t.TempDir())
	s, buf := newShipper(t, srv.Addr, func(c *Config) { c.MaxAttempts, c.Spool = 3, sp })
	addWork(buf, "req-1")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := s.Drain(ctx); err == nil {
		t.Fatal("Drain succeeded against a collector that takes nothing")
	}
	if n := len(srv.Calls()); n <= 3 {
		t.Errorf("%d calls before the deadline, want more than the budget of 3", n)
	}
	sctx, scancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer scancel()
	spooled, dropped, err := s.SpoolRemaining(sctx)
	if err != nil {
		t.Fatalf("SpoolRemaining: %v", err)
	}
	if spooled[buffer.Invocations] != 1 || !dropped.IsZero() {
		t.Errorf("spooled %v, dropped %v; want the invocation spooled, nothing dropped", spooled, dropped)
	}
}
