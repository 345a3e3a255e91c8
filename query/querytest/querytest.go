// Package querytest stores known telemetry for tests of the query layer and
// the tools built on it.
package querytest

import (
	"context"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// OpenStore gives a migrated store on a fresh database of the package's
// ClickHouse (see chtest.Main), and the database's DSN.
func OpenStore(t testing.TB) (*storage.Store, string) {
	t.Helper()
	dsn, _ := chtest.NewDatabase(t)
	st, err := storage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st, dsn
}

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func nanos(t time.Time) uint64 { return uint64(t.UnixNano()) }

// TwoFunctionTrace is a trace in which function "orders" calls function
// "billing": orders' server span, its client span (naming billing in
// faas.invoked_name, as a Lambda Invoke does), and billing's server span
// (whose clock runs 30 ms behind) with one child of its own.
type TwoFunctionTrace struct {
	TraceID                             query.TraceID
	OrdersServer, OrdersClient, Billing query.SpanID
	BillingDB                           query.SpanID
	// Start is when orders' server span started.
	Start time.Time
}

// WriteTwoFunctionTrace stores a TwoFunctionTrace that started a minute ago,
// with the invocation records of both functions: orders was a cold start
// (init 301.2 ms, request req-orders), billing failed (request req-billing).
func WriteTwoFunctionTrace(t testing.TB, st *storage.Store) TwoFunctionTrace {
	t.Helper()
	tr := TwoFunctionTrace{
		TraceID:      query.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		OrdersServer: query.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		OrdersClient: query.SpanID{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8},
		Billing:      query.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31},
		BillingDB:    query.SpanID{0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18},
		Start:        time.Now().Add(-time.Minute).Truncate(time.Millisecond),
	}
	at := func(ms int) uint64 { return nanos(tr.Start.Add(time.Duration(ms) * time.Millisecond)) }
	span := func(id, parent query.SpanID, name string, kind tracepb.Span_SpanKind, from, to int, attrs ...*commonpb.KeyValue) *tracepb.Span {
		s := &tracepb.Span{
			TraceId: tr.TraceID[:], SpanId: id[:], Name: name, Kind: kind,
			StartTimeUnixNano: at(from), EndTimeUnixNano: at(to), Attributes: attrs,
		}
		if !parent.IsZero() {
			s.ParentSpanId = parent[:]
		}
		return s
	}
	exports := []*ingestv1.ExportRequest{
		{
			BatchId:  []byte("orders-batch-001"),
			Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "orders", Version: "$LATEST", Architecture: "arm64", MemoryMb: 512},
			Invocations: []*ingestv1.Invocation{{
				RequestId: "req-orders", StartTimeUnixNano: at(-5), DurationMs: 212.5, BilledDurationMs: 213,
				MemorySizeMb: 512, MaxMemoryUsedMb: 88, ColdStart: true, InitDurationMs: 301.2, Status: "success",
				TraceId: tr.TraceID[:], SpanId: tr.OrdersServer[:],
			}},
			ResourceSpans: []*tracepb.ResourceSpans{{
				Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", "orders-api")}},
				ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
					span(tr.OrdersServer, query.SpanID{}, "POST /orders", tracepb.Span_SPAN_KIND_SERVER, 0, 200, strAttr("faas.invocation_id", "req-orders")),
					span(tr.OrdersClient, tr.OrdersServer, "invoke billing", tracepb.Span_SPAN_KIND_CLIENT, 50, 150,
						strAttr("faas.invoked_name", "billing")),
				}}},
			}},
			SentTimeUnixNano: at(300),
		},
		{
			BatchId:  []byte("billing-batch-01"),
			Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "billing", Version: "7", Architecture: "x86_64", MemoryMb: 256},
			Invocations: []*ingestv1.Invocation{{
				RequestId: "req-billing", StartTimeUnixNano: at(25), DurationMs: 80, BilledDurationMs: 80,
				MemorySizeMb: 256, MaxMemoryUsedMb: 70, Status: "error", ErrorType: "Runtime.ExitError",
				TraceId: tr.TraceID[:], SpanId: tr.Billing[:],
			}},
			ResourceSpans: []*tracepb.ResourceSpans{{
				ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
					// Billing's clock is 30 ms behind: by it, the call starts
					// before the client span that made it.
					span(tr.Billing, tr.OrdersClient, "charge", tracepb.Span_SPAN_KIND_SERVER, 30, 110, strAttr("faas.invocation_id", "req-billing")),
					span(tr.BillingDB, tr.Billing, "UPDATE accounts", tracepb.Span_SPAN_KIND_CLIENT, 40, 60),
				}}},
			}},
			SentTimeUnixNano: at(300),
		},
	}
	for _, req := range exports {
		if _, err := st.WriteExport(context.Background(), req); err != nil {
			t.Fatalf("write export %s: %v", req.GetFunction().GetName(), err)
		}
	}
	return tr
}
