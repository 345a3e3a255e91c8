package query_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
)

// countingStore is the real store, counting the invocation reads.
type countingStore struct {
	*storage.Store
	invocationReads atomic.Int64
}

func (c *countingStore) Invocations(ctx context.Context, f storage.InvocationFilter) ([]storage.InvocationRecord, error) {
	c.invocationReads.Add(1)
	return c.Store.Invocations(ctx, f)
}

// TestTraceCostsOneRead prices the traces of a search in one read of the
// invocations, and each the same as TraceCost prices it alone.
func TestTraceCostsOneRead(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	end := time.Now().Add(-time.Hour).Truncate(time.Minute)
	cfg := querytest.LoadConfig{
		Traces: 60, FunctionsPerTrace: 3, SpansPerInvocation: 2, UntracedInvocations: 50, Functions: 6,
		End: end, Days: 1, BatchInvocations: 1000, Seed: 3,
	}
	if _, err := querytest.Load(t.Context(), st, cfg); err != nil {
		t.Fatalf("load: %v", err)
	}
	cs := &countingStore{Store: st}
	svc := query.NewService(cs)
	r := query.TimeRange{Since: end.Add(-24 * time.Hour), Until: end}
	found, err := svc.SearchTraces(t.Context(), query.TraceSearch{Since: r.Since, Until: r.Until, Limit: 50})
	if err != nil {
		t.Fatalf("SearchTraces: %v", err)
	}
	if len(found) != 50 {
		t.Fatalf("found %d traces, want 50", len(found))
	}
	ids := make([]query.TraceID, 0, len(found)+1)
	for _, f := range found {
		ids = append(ids, f.TraceID)
	}
	ids = append(ids, query.TraceID{0xee}) // not stored
	prices := query.DefaultPrices()

	cs.invocationReads.Store(0)
	costs, err := svc.TraceCosts(t.Context(), &prices, ids, r)
	if err != nil {
		t.Fatalf("TraceCosts: %v", err)
	}
	if n := cs.invocationReads.Load(); n != 1 {
		t.Errorf("TraceCosts read the invocations %d times, want once", n)
	}
	if len(costs) != len(ids) {
		t.Fatalf("%d costs for %d traces", len(costs), len(ids))
	}
	for i, id := range ids[:len(found)] {
		alone, err := svc.TraceCost(t.Context(), &prices, id)
		if err != nil {
			t.Fatalf("TraceCost %s: %v", id, err)
		}
		got := costs[i]
		if got.TraceID != id || len(got.Invocations) != len(alone.Invocations) || !near(got.Total, alone.Total) || got.Currency != alone.Currency {
			t.Errorf("trace %s: %d invocations, total %g %s; alone %d, %g %s", id,
				len(got.Invocations), got.Total, got.Currency, len(alone.Invocations), alone.Total, alone.Currency)
		}
		if len(alone.Invocations) != cfg.FunctionsPerTrace {
			t.Errorf("trace %s has %d invocations, want %d", id, len(alone.Invocations), cfg.FunctionsPerTrace)
		}
	}
	if last := costs[len(costs)-1]; last.Total != 0 || len(last.Invocations) != 0 || last.Currency == "" {
		t.Errorf("unknown trace = %+v, want no invocations, 0 in a currency", last)
	}

	if _, err := svc.TraceCosts(t.Context(), &prices, make([]query.TraceID, query.MaxTraceCosts+1), r); err == nil {
		t.Errorf("TraceCosts of %d traces: no error", query.MaxTraceCosts+1)
	}
}
