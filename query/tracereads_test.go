package query_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
)

// failingStore is the real store, failing the read named fail and
// counting the reads still running.
type failingStore struct {
	*storage.Store
	fail    string
	running atomic.Int64
}

var errInjected = errors.New("injected failure")

func (f *failingStore) read(name string) (func(), error) {
	f.running.Add(1)
	if f.fail == name {
		return func() { f.running.Add(-1) }, errInjected
	}
	return func() { f.running.Add(-1) }, nil
}

func (f *failingStore) SpansByTraceID(ctx context.Context, id [16]byte) ([]storage.SpanRecord, error) {
	done, err := f.read("spans")
	defer done()
	if err != nil {
		return nil, err
	}
	return f.Store.SpansByTraceID(ctx, id)
}

func (f *failingStore) TraceSpanLayout(ctx context.Context, id [16]byte) (storage.TraceLayout, error) {
	done, err := f.read("spans")
	defer done()
	if err != nil {
		return storage.TraceLayout{}, err
	}
	return f.Store.TraceSpanLayout(ctx, id)
}

func (f *failingStore) SpansInLayout(ctx context.Context, id [16]byte, l storage.TraceLayout) ([]storage.SpanRecord, error) {
	done, err := f.read("spans in layout")
	defer done()
	if err != nil {
		return nil, err
	}
	return f.Store.SpansInLayout(ctx, id, l)
}

func (f *failingStore) Invocations(ctx context.Context, flt storage.InvocationFilter) ([]storage.InvocationRecord, error) {
	done, err := f.read("invocations")
	defer done()
	if err != nil {
		return nil, err
	}
	return f.Store.Invocations(ctx, flt)
}

func (f *failingStore) SpansLinkingTo(ctx context.Context, id [16]byte, limit int) ([]storage.LinkingSpan, error) {
	done, err := f.read("links in")
	defer done()
	if err != nil {
		return nil, err
	}
	return f.Store.SpansLinkingTo(ctx, id, limit)
}

// TestTraceByIDReadsTogether checks the reads TraceByID runs at once: a
// failure of any is its error, no read runs on after it returns, and the
// invocations joined to the spans hold what a read of the invocations
// holds.
func TestTraceByIDReadsTogether(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	want := querytest.WriteTwoFunctionTrace(t, st)
	for _, fail := range []string{"spans", "spans in layout", "invocations", "links in"} {
		t.Run(fail+" fails", func(t *testing.T) {
			fs := &failingStore{Store: st, fail: fail}
			tr, err := query.NewService(fs).TraceByID(t.Context(), want.TraceID)
			if !errors.Is(err, errInjected) {
				t.Errorf("TraceByID = %v, %v; want the injected failure", tr, err)
			}
			if n := fs.running.Load(); n != 0 {
				t.Errorf("%d reads still running after TraceByID returned", n)
			}
		})
	}

	svc := query.NewService(st)
	tr, err := svc.TraceByID(t.Context(), want.TraceID)
	if err != nil {
		t.Fatalf("TraceByID: %v", err)
	}
	joined := 0
	tr.Walk(func(n *query.Node) bool {
		if n.Invocation == nil {
			return true
		}
		joined++
		invs, err := svc.Invocations(t.Context(), query.InvocationFilter{RequestIDs: []string{n.Invocation.RequestID}})
		if err != nil {
			t.Fatalf("Invocations: %v", err)
		}
		if len(invs) != 1 || invs[0] != *n.Invocation {
			t.Errorf("span %s joined invocation %+v, a read of the invocations gives %+v", n.Span.SpanID, *n.Invocation, invs)
		}
		return true
	})
	if joined == 0 {
		t.Error("no span of the trace joined an invocation")
	}
}
