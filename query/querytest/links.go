package querytest

import (
	"context"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
)

// LinkedTraces are two traces joined by a queue, as the extension records
// them for functions without a tracing SDK: an API Gateway request to
// "orders" (the span inferred from the event, answered 201) that sends a
// message, and "worker" consuming an SQS batch of that message and of one
// whose sender's spans are not stored (a CONSUMER span inferred from the
// event, with one link per record).
type LinkedTraces struct {
	Orders, Worker, Unstored query.TraceID
	// APIGateway is the inferred span, Send the producer span, Consume
	// the worker's inferred SQS span, UnstoredSend the span the second
	// record links to.
	APIGateway, Send, Consume, UnstoredSend query.SpanID
	// MessageID and UnstoredMessageID are the records' message IDs.
	MessageID, UnstoredMessageID string
	Start                        time.Time
}

// WriteLinkedTraces stores LinkedTraces that started a minute ago, with
// the invocation records of both functions (orders' req-orders answered
// 201, worker's req-worker).
func WriteLinkedTraces(t testing.TB, st *storage.Store) LinkedTraces {
	t.Helper()
	lt := LinkedTraces{
		Orders:            query.TraceID{0x0a, 0x11, 15: 1},
		Worker:            query.TraceID{0x0b, 0x22, 15: 2},
		Unstored:          query.TraceID{0x0c, 0x33, 15: 3},
		APIGateway:        query.SpanID{0x0a, 7: 1},
		Send:              query.SpanID{0x0a, 7: 3},
		Consume:           query.SpanID{0x0b, 7: 1},
		UnstoredSend:      query.SpanID{0x0c, 7: 1},
		MessageID:         "059f36b4-87a3-44ab-83d2-661975830a7d",
		UnstoredMessageID: "2e1424d4-f796-459a-8184-9c92662be6da",
		Start:             time.Now().Add(-time.Minute).Truncate(time.Millisecond),
	}
	handler := query.SpanID{0x0a, 7: 2}
	at := func(ms int) uint64 { return nanos(lt.Start.Add(time.Duration(ms) * time.Millisecond)) }
	intAttr := func(k string, v int64) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
	}
	orders := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "orders", Region: "eu-west-1", AccountId: "111122223333", MemoryMb: 256},
		Invocations: []*ingestv1.Invocation{{RequestId: "req-orders", StartTimeUnixNano: at(2), DurationMs: 40, BilledDurationMs: 40,
			MemorySizeMb: 256, MaxMemoryUsedMb: 70, Status: "success", TraceId: lt.Orders[:], SpanId: lt.APIGateway[:],
			Trigger: "apigateway-rest", HttpStatusCode: 201, ResponseSize: 27}},
		ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			{TraceId: lt.Orders[:], SpanId: lt.APIGateway[:], Name: "POST /orders", Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: at(0), EndTimeUnixNano: at(48), Attributes: []*commonpb.KeyValue{
					strAttr("lambdascope.trigger", "apigateway-rest"), strAttr("lambdascope.invocation_id", "req-orders"),
					strAttr("http.request.method", "POST"), strAttr("http.route", "/orders"), intAttr("http.response.status_code", 201)}},
			{TraceId: lt.Orders[:], SpanId: handler[:], ParentSpanId: lt.APIGateway[:], Name: "orders", Kind: tracepb.Span_SPAN_KIND_INTERNAL,
				StartTimeUnixNano: at(2), EndTimeUnixNano: at(42), Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", "req-orders")}},
			{TraceId: lt.Orders[:], SpanId: lt.Send[:], ParentSpanId: handler[:], Name: "orders-queue send", Kind: tracepb.Span_SPAN_KIND_PRODUCER,
				StartTimeUnixNano: at(10), EndTimeUnixNano: at(22), Attributes: []*commonpb.KeyValue{strAttr("messaging.system", "aws_sqs"),
					strAttr("messaging.destination.name", "orders-queue")}},
		}}}}},
	}
	link := func(tr query.TraceID, sp query.SpanID, msg string) *tracepb.Span_Link {
		return &tracepb.Span_Link{TraceId: tr[:], SpanId: sp[:], Attributes: []*commonpb.KeyValue{strAttr("messaging.message.id", msg)}}
	}
	worker := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "worker", Region: "eu-west-1", AccountId: "111122223333", MemoryMb: 128},
		Invocations: []*ingestv1.Invocation{{RequestId: "req-worker", StartTimeUnixNano: at(900), DurationMs: 15, BilledDurationMs: 15,
			MemorySizeMb: 128, MaxMemoryUsedMb: 50, Status: "success", TraceId: lt.Worker[:], SpanId: lt.Consume[:], Trigger: "sqs"}},
		ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			{TraceId: lt.Worker[:], SpanId: lt.Consume[:], Name: "orders-queue process", Kind: tracepb.Span_SPAN_KIND_CONSUMER,
				StartTimeUnixNano: at(880), EndTimeUnixNano: at(899), Attributes: []*commonpb.KeyValue{
					strAttr("lambdascope.trigger", "sqs"), strAttr("lambdascope.invocation_id", "req-worker"),
					strAttr("messaging.system", "aws_sqs"), strAttr("messaging.destination.name", "orders-queue"),
					intAttr("messaging.batch.message_count", 2)},
				Links: []*tracepb.Span_Link{link(lt.Orders, lt.Send, lt.MessageID), link(lt.Unstored, lt.UnstoredSend, lt.UnstoredMessageID)}},
			{TraceId: lt.Worker[:], SpanId: []byte{0x0b, 0, 0, 0, 0, 0, 0, 2}, ParentSpanId: lt.Consume[:], Name: "worker", Kind: tracepb.Span_SPAN_KIND_INTERNAL,
				StartTimeUnixNano: at(900), EndTimeUnixNano: at(915), Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", "req-worker")}},
		}}}}},
	}
	for _, req := range []*ingestv1.ExportRequest{orders, worker} {
		if _, err := st.WriteExport(context.Background(), req); err != nil {
			t.Fatalf("write linked traces: %v", err)
		}
	}
	return lt
}
