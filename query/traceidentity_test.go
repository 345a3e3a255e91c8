package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// stepCountingStore is the real store, counting the reads of a trace's spans
// in one step and of invocations.
type stepCountingStore struct {
	*storage.Store
	oneStep, invocations atomic.Int64
}

func (c *stepCountingStore) SpansByTraceID(ctx context.Context, id [16]byte) ([]storage.SpanRecord, error) {
	c.oneStep.Add(1)
	return c.Store.SpansByTraceID(ctx, id)
}

func (c *stepCountingStore) Invocations(ctx context.Context, f storage.InvocationFilter) ([]storage.InvocationRecord, error) {
	c.invocations.Add(1)
	return c.Store.Invocations(ctx, f)
}

// TestTraceByIDAnswersAsBefore reads traces of every shape the fixtures
// write, and traces of the bulk generator, with TraceByID and with the
// code before it read the spans in two steps (TraceByIDBefore): the
// answers are the same, as JSON. The traces trace_hours knows are read
// in two steps, with one read of the invocations per chunk of request IDs.
func TestTraceByIDAnswersAsBefore(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	// The bulk generator writes into an empty database only.
	conn := chtest.ConnTo(t, dsn)
	d, err := storagetest.GenerateBulk(t.Context(), conn, st.Database(), storagetest.BulkConfig{
		Spans: 6000, End: time.Now().UTC().Truncate(time.Hour), Days: 2,
	}, io.Discard)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	two := querytest.WriteTwoFunctionTrace(t, st)
	querytest.WriteTwoFunctionTrace(t, st) // every span and invocation stored twice
	linked := querytest.WriteLinkedTraces(t, st)
	large := querytest.WriteLargeTrace(t, st)
	many := writeManyInvocationsTrace(t, st, 520)
	bulk, err := storagetest.BulkTraceIDs(t.Context(), conn, d, []uint64{0, 1, 77, uint64(d.Traces) / 2, uint64(d.Traces) - 1})
	if err != nil {
		t.Fatalf("bulk trace IDs: %v", err)
	}
	ids := []query.TraceID{two.TraceID, linked.Orders, linked.Worker, large.TraceID, many}
	for _, id := range bulk {
		ids = append(ids, query.TraceID(id))
	}

	cs := &stepCountingStore{Store: st}
	now, before := query.NewService(cs), query.NewService(st)
	for _, id := range ids {
		t.Run(id.String(), func(t *testing.T) {
			cs.oneStep.Store(0)
			cs.invocations.Store(0)
			_, want := readTrace(t, before.TraceByIDBefore, id)
			tr, got := readTrace(t, now.TraceByID, id)
			if got != want {
				t.Errorf("TraceByID answers\n%s\nthe code before\n%s", got, want)
			}
			if n := cs.oneStep.Load(); n != 0 {
				t.Errorf("the spans were read in one step %d times; trace_hours knows the trace", n)
			}
			requests := map[string]bool{}
			tr.Walk(func(n *query.Node) bool {
				if n.Span.RequestID != "" {
					requests[n.Span.RequestID] = true
				}
				return true
			})
			if want := int64((len(requests) + 499) / 500); cs.invocations.Load() != want {
				t.Errorf("%d reads of the invocations for %d request IDs, want %d", cs.invocations.Load(), len(requests), want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := now.TraceByID(t.Context(), query.TraceID{0x99, 15: 0x99})
		_, errBefore := before.TraceByIDBefore(t.Context(), query.TraceID{0x99, 15: 0x99})
		if err == nil || errBefore == nil || err.Error() != errBefore.Error() {
			t.Errorf("a trace not stored: %v, before %v", err, errBefore)
		}
	})
	// Without trace_hours (a trace stored before migration 17), the spans
	// are looked for further, in one step, as before.
	if err := conn.Exec(t.Context(), "TRUNCATE TABLE "+st.Database()+".trace_hours"); err != nil {
		t.Fatalf("truncate trace_hours: %v", err)
	}
	for _, id := range ids[:2] {
		cs.oneStep.Store(0)
		_, got := readTrace(t, now.TraceByID, id)
		if _, want := readTrace(t, before.TraceByIDBefore, id); got != want {
			t.Errorf("trace %s unknown to trace_hours: TraceByID answers\n%s\nthe code before\n%s", id, got, want)
		}
		if cs.oneStep.Load() != 1 {
			t.Errorf("trace %s unknown to trace_hours: %d reads in one step, want 1", id, cs.oneStep.Load())
		}
	}
}

// readTrace is the trace read returns, and as JSON.
func readTrace(t *testing.T, read func(context.Context, query.TraceID) (*query.Trace, error), id query.TraceID) (*query.Trace, string) {
	t.Helper()
	tr, err := read(t.Context(), id)
	if err != nil {
		t.Fatalf("read trace %s: %v", id, err)
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	return tr, string(b)
}

// writeManyInvocationsTrace stores a trace of n spans, each the entry of
// an invocation of its own with its record: more request IDs than one
// read of the invocations takes.
func writeManyInvocationsTrace(t *testing.T, st *storage.Store, n int) query.TraceID {
	t.Helper()
	id := query.TraceID{0x3a, 0x3a, 15: 0x05}
	start := time.Now().Add(-5 * time.Minute).Truncate(time.Millisecond)
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "fan-out", Region: "eu-west-1", AccountId: "111122223333", MemoryMb: 128},
	}
	var spans []*tracepb.Span
	for i := range n {
		at := uint64(start.Add(time.Duration(i) * time.Millisecond).UnixNano())
		sid := []byte{0x5a, 0, 0, 0, byte(i >> 8), byte(i), 0, 1}
		rid := fmt.Sprintf("req-%04d", i)
		spans = append(spans, &tracepb.Span{TraceId: id[:], SpanId: sid, Name: "handle", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: at, EndTimeUnixNano: at + 5e6, Attributes: []*commonpb.KeyValue{
				{Key: "faas.invocation_id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: rid}}}}})
		req.Invocations = append(req.Invocations, &ingestv1.Invocation{RequestId: rid, StartTimeUnixNano: at, DurationMs: 5,
			BilledDurationMs: 5, MemorySizeMb: 128, MaxMemoryUsedMb: 40, Status: "success", TraceId: id[:], SpanId: sid})
	}
	req.ResourceSpans = []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}
	if _, err := st.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("write the fan-out trace: %v", err)
	}
	return id
}
