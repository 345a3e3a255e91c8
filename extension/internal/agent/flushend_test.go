package agent

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/shipper"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// TestFlushEndBesideARunningFlush: when an invocation ends, the
// background loop may still have a batch in flight (the records of the
// invocation before, sent when this one started). The end-of-invocation
// flush sends what the invocation left at once beside it, rather than
// waiting for it within the flush budget: here that batch is never
// answered, and the invocation's record must still reach the collector
// before the budget ends.
func TestFlushEndBesideARunningFlush(t *testing.T) {
	srv := collectortest.Start(t)
	srv.Hang(1)
	log := slog.New(slog.DiscardHandler)
	buf := buffer.New(1<<20, 1<<20, log)
	cfg := shipper.DefaultConfig()
	cfg.Endpoint, cfg.Interval, cfg.Identity = srv.Addr, 0, &ingestv1.FunctionIdentity{Name: "checkout"}
	ship, err := shipper.New(cfg, buf, log)
	if err != nil {
		t.Fatalf("shipper.New: %v", err)
	}
	if err := ship.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ship.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	a := &Agent{buf: buf, ship: ship, log: log}

	buf.AddInvocation(&ingestv1.Invocation{RequestId: "earlier"})
	ship.Kick()
	select {
	case <-srv.Called():
	case <-time.After(10 * time.Second):
		t.Fatal("the background loop sent nothing after Kick")
	}
	buf.AddInvocation(&ingestv1.Invocation{RequestId: "this"})
	// The budget of an end-of-invocation flush (Options.FlushBudget).
	ctx, cancel := context.WithTimeout(t.Context(), DefaultOptions().FlushBudget)
	defer cancel()
	_ = a.flushEnd(ctx) // the hung batch keeps it from ending clean
	var got []string
	for _, req := range srv.Accepted() {
		for _, inv := range req.GetInvocations() {
			got = append(got, inv.GetRequestId())
		}
	}
	if !slices.Contains(got, "this") {
		t.Errorf("the collector accepted %v within the flush budget, want the invocation's own record (this) among them", got)
	}
}
