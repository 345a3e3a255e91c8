package storage

import (
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

var (
	producerTrace = [16]byte{0x11, 1}
	consumerTrace = [16]byte{0x22, 2}
	strangerTrace = [16]byte{0x33, 3}
	producerSpan  = [8]byte{0x11, 0, 0, 0, 0, 0, 0, 1}
	consumerSpan  = [8]byte{0x22, 0, 0, 0, 0, 0, 0, 2}
	strangerSpan  = [8]byte{0x33, 0, 0, 0, 0, 0, 0, 3}
)

// linkedBatch is an orders function sending a message (trace
// producerTrace) and a worker consuming a batch (trace consumerTrace) of
// it and of a message of a trace not stored, with a link inside its own
// trace as well.
func linkedBatch(base time.Time) *ingestv1.ExportRequest {
	ns := func(ms int) uint64 { return uint64(base.Add(time.Duration(ms) * time.Millisecond).UnixNano()) }
	msgID := func(id string) []*commonpb.KeyValue {
		return []*commonpb.KeyValue{{Key: "messaging.message.id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: id}}}}
	}
	return &ingestv1.ExportRequest{
		BatchId:  []byte("links-" + base.Format(time.RFC3339)),
		Function: &ingestv1.FunctionIdentity{Name: "worker", Region: "eu-west-1"},
		ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			{TraceId: producerTrace[:], SpanId: producerSpan[:], Name: "orders send", Kind: tracepb.Span_SPAN_KIND_PRODUCER,
				StartTimeUnixNano: ns(0), EndTimeUnixNano: ns(5)},
			{TraceId: consumerTrace[:], SpanId: consumerSpan[:], Name: "orders-queue process", Kind: tracepb.Span_SPAN_KIND_CONSUMER,
				StartTimeUnixNano: ns(1000), EndTimeUnixNano: ns(1040),
				Attributes: []*commonpb.KeyValue{{Key: "faas.invocation_id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "req-1"}}}},
				Links: []*tracepb.Span_Link{
					{TraceId: producerTrace[:], SpanId: producerSpan[:], Attributes: msgID("m-1")},
					{TraceId: strangerTrace[:], SpanId: strangerSpan[:], Attributes: msgID("m-2")},
					{TraceId: consumerTrace[:], SpanId: consumerSpan[:]},
				}},
		}}}}},
	}
}

// Links are read both ways: the spans of other traces linking to a trace
// (each link once, though the batch was written twice), and the spans a
// trace's links point to, where they are stored.
func TestSpanLinksBothWays(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 5, 3, 23, 59, 59, 0, time.UTC)
	for range 2 {
		if _, err := s.WriteExport(t.Context(), linkedBatch(base)); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}

	consumers, err := s.SpansLinkingTo(t.Context(), producerTrace, 0)
	if err != nil {
		t.Fatalf("SpansLinkingTo: %v", err)
	}
	if len(consumers) != 1 {
		t.Fatalf("consumers of the producer trace = %+v, want the worker's span once", consumers)
	}
	c := consumers[0]
	if c.Span.TraceID != consumerTrace || c.Span.SpanID != consumerSpan || c.LinkedSpanID != producerSpan ||
		c.LinkedTraceID != producerTrace || c.Span.Name != "orders-queue process" || c.Span.FunctionName != "worker" ||
		c.Span.RequestID != "req-1" || c.Span.Kind != 5 || c.Attributes["messaging.message.id"] != "m-1" ||
		!c.Span.Start.Equal(base.Add(time.Second)) {
		t.Errorf("consumer = %+v", c)
	}
	// A link inside the trace is not a consumer of it.
	if self, err := s.SpansLinkingTo(t.Context(), consumerTrace, 0); err != nil || len(self) != 0 {
		t.Errorf("spans linking to the consumer trace = %+v, %v; want none", self, err)
	}
	if got, err := s.SpansLinkingTo(t.Context(), strangerTrace, 0); err != nil || len(got) != 1 || got[0].Attributes["messaging.message.id"] != "m-2" {
		t.Errorf("spans linking to a trace not stored = %+v, %v; want the worker's, message m-2", got, err)
	}

	heads, err := s.SpansByRef(t.Context(), []SpanRef{
		{TraceID: producerTrace, SpanID: producerSpan},
		{TraceID: strangerTrace, SpanID: strangerSpan},
		// Trace and span stored, but not together.
		{TraceID: producerTrace, SpanID: consumerSpan},
	})
	if err != nil {
		t.Fatalf("SpansByRef: %v", err)
	}
	if len(heads) != 1 || heads[0].SpanID != producerSpan || heads[0].Name != "orders send" || heads[0].Duration != 5*time.Millisecond ||
		heads[0].Kind != 4 {
		t.Errorf("SpansByRef = %+v, want the producer span once", heads)
	}
	if _, err := s.SpansByRef(t.Context(), make([]SpanRef, MaxSpanRefs+1)); err == nil {
		t.Error("SpansByRef took more than MaxSpanRefs refs")
	}
}

// applyMigrationsBefore brings s's database to the version before, as an
// older release left it.
func applyMigrationsBefore(t *testing.T, s *Store, before uint32) {
	t.Helper()
	ms, err := renderMigrations(s.Database(), s.Capabilities(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.conn.Exec(t.Context(), createMigrationsTableSQL(s.database)); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version >= before {
			break
		}
		for _, stmt := range m.Statements {
			if err := s.conn.Exec(t.Context(), stmt); err != nil {
				t.Fatalf("migration %d: %v", m.Version, err)
			}
		}
		if step := migrationSteps[m.Version]; step != nil {
			if err := step(s, t.Context()); err != nil {
				t.Fatalf("migration %d: %v", m.Version, err)
			}
		}
		if err := s.recordMigration(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
}

// Migration 13 on a database with data: the links of spans stored before
// it are found, the function figures view counts a 5xx answer as an error
// from its new horizon on, and the minutes before come from the raw rows,
// which count it too.
func TestMigration13OnStoredData(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	applyMigrationsBefore(t, s, 13)

	base := time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC)
	old := linkedBatch(base)
	if _, err := s.WriteExport(t.Context(), &ingestv1.ExportRequest{Function: old.Function, ResourceSpans: old.ResourceSpans}); err != nil {
		t.Fatalf("write spans before migration 13: %v", err)
	}
	batch, err := s.conn.PrepareBatch(t.Context(), "INSERT INTO "+s.database+".invocations (start_time, start_unix_nano, function_name, request_id, status)")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(base, uint64(base.UnixNano()), "api", "before", "success"); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("write an invocation before migration 13: %v", err)
	}

	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate to 13: %v", err)
	}
	if got, err := s.SpansLinkingTo(t.Context(), producerTrace, 0); err != nil || len(got) != 1 || got[0].Span.SpanID != consumerSpan {
		t.Errorf("links stored before migration 13 = %+v, %v; want the worker's", got, err)
	}
	horizon, ok, err := s.viewHorizon(t.Context(), "function_figures")
	if err != nil || !ok || horizon != uint64(base.UnixNano()) {
		t.Errorf("function_figures horizon = %d, %v, %v; want the last start stored, %d", horizon, ok, err, base.UnixNano())
	}

	// Then: 30 invocations per minute for 10 minutes, every third answered
	// 502 although the function succeeded, one in ten an error. Dense
	// enough for the view to be read.
	later := base.Add(time.Hour)
	req := &ingestv1.ExportRequest{Function: &ingestv1.FunctionIdentity{Name: "api", MemoryMb: 128}}
	for i := range 300 {
		inv := &ingestv1.Invocation{RequestId: "after-" + time.Duration(i).String(), StartTimeUnixNano: uint64(later.Add(time.Duration(i) * 2 * time.Second).UnixNano()),
			DurationMs: 3, BilledDurationMs: 3, MemorySizeMb: 128, Status: "success", Trigger: "apigateway-http", HttpStatusCode: 200, ResponseSize: 17}
		switch {
		case i%10 == 0:
			inv.Status, inv.HttpStatusCode = "error", 0
		case i%3 == 0:
			inv.HttpStatusCode = 502
		}
		req.Invocations = append(req.Invocations, inv)
	}
	if _, err := s.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	// i%10 == 0: 30; i%3 == 0 and not i%10 == 0: 100 - 10 = 90.
	const wantErrors = 120
	f := UsageFilter{Since: later, Until: later.Add(10 * time.Minute), FunctionName: "api"}
	if lo, hi, err := s.figuresViewRange(t.Context(), f, time.Minute); err != nil || !lo.Equal(f.Since) || !hi.Equal(f.Until) {
		t.Fatalf("view range [%s, %s), %v; want the whole range from the view", lo, hi, err)
	}
	for name, read := range map[string]func() ([]FunctionBucketRecord, error){
		"view": func() ([]FunctionBucketRecord, error) { return s.FunctionBuckets(t.Context(), f, 10*time.Minute) },
		"raw": func() ([]FunctionBucketRecord, error) {
			return s.functionBuckets(t.Context(), f, 10*time.Minute, functionBucketsSQL)
		},
	} {
		got, err := read()
		if err != nil || len(got) != 1 || got[0].Invocations != 300 || got[0].Errors != wantErrors {
			t.Errorf("%s: buckets = %+v, %v; want 300 invocations, %d errors", name, got, err, wantErrors)
		}
	}
	recs, err := s.Invocations(t.Context(), InvocationFilter{FunctionName: "api", RequestIDs: []string{"after-3ns"}})
	if err != nil || len(recs) != 1 || recs[0].Trigger != "apigateway-http" || recs[0].HTTPStatusCode != 502 || recs[0].ResponseSize != 17 {
		t.Errorf("invocation after-3ns = %+v, %v; want trigger apigateway-http, 502, 17 bytes", recs, err)
	}
}
