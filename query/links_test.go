package query_test

import (
	"testing"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
)

// A trace view shows both ends of a queue: the consumer's trace lists
// where its batch came from (the stored producer span, and a record whose
// sender is not stored), the producer's trace the invocation that
// consumed what it sent.
func TestTraceLinksBothWays(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	lt := querytest.WriteLinkedTraces(t, st)
	svc := query.NewService(st)

	worker, err := svc.TraceByID(t.Context(), lt.Worker)
	if err != nil {
		t.Fatalf("TraceByID(worker): %v", err)
	}
	if len(worker.LinksOut) != 2 || len(worker.LinksIn) != 0 {
		t.Fatalf("worker: %d links out, %d in; want 2 out, none in: %+v", len(worker.LinksOut), len(worker.LinksIn), worker.LinksOut)
	}
	from := worker.LinksOut[0]
	if from.SpanID != lt.Consume || from.MessageID != lt.MessageID || !from.Other.Stored || from.Other.TraceID != lt.Orders ||
		from.Other.SpanID != lt.Send || from.Other.Name != "orders-queue send" || from.Other.FunctionName != "orders" ||
		from.Other.Kind != query.SpanKindProducer {
		t.Errorf("first link out = %+v, want orders' send span, message %s", from, lt.MessageID)
	}
	if u := worker.LinksOut[1]; u.Other.Stored || u.Other.TraceID != lt.Unstored || u.Other.SpanID != lt.UnstoredSend || u.MessageID != lt.UnstoredMessageID {
		t.Errorf("second link out = %+v, want the unstored sender's span, message %s", u, lt.UnstoredMessageID)
	}

	orders, err := svc.TraceByID(t.Context(), lt.Orders)
	if err != nil {
		t.Fatalf("TraceByID(orders): %v", err)
	}
	if len(orders.LinksOut) != 0 || len(orders.LinksIn) != 1 || orders.LinksInTruncated {
		t.Fatalf("orders: links out %+v, in %+v; want one in", orders.LinksOut, orders.LinksIn)
	}
	in := orders.LinksIn[0]
	if in.SpanID != lt.Send || in.MessageID != lt.MessageID || in.Other.TraceID != lt.Worker || in.Other.SpanID != lt.Consume ||
		in.Other.FunctionName != "worker" || in.Other.RequestID != "req-worker" || in.Other.Name != "orders-queue process" {
		t.Errorf("link in = %+v, want worker's consumer span of req-worker", in)
	}
	if got, err := svc.LinksIn(t.Context(), lt.Unstored, 0); err != nil || len(got) != 1 || got[0].Other.SpanID != lt.Consume {
		t.Errorf("LinksIn(unstored trace) = %+v, %v; want the worker's consumer", got, err)
	}
	if got, err := svc.LinksOut(t.Context(), lt.Worker); err != nil || len(got) != 2 {
		t.Errorf("LinksOut(worker) = %+v, %v; want 2", got, err)
	}

	var api *query.Node
	orders.Walk(func(n *query.Node) bool {
		if n.Span.SpanID == lt.APIGateway {
			api = n
		}
		return api == nil
	})
	if api == nil || api.Span.Trigger() != "API Gateway POST /orders 201" {
		t.Errorf("inferred span trigger = %q, want API Gateway POST /orders 201", api.Span.Trigger())
	}
}

func TestSpanTrigger(t *testing.T) {
	tests := []struct {
		name string
		span query.Span
		want string
	}{
		{"not inferred", query.Span{Name: "GET /orders", Attributes: map[string]string{"http.response.status_code": "200"}}, ""},
		{"HTTP API", query.Span{Name: "GET /orders", Attributes: map[string]string{"lambdascope.trigger": "apigateway-http", "http.response.status_code": "502"}},
			"API Gateway (HTTP API) GET /orders 502"},
		{"SQS batch", query.Span{Name: "q process", Attributes: map[string]string{"lambdascope.trigger": "sqs", "messaging.batch.message_count": "10"}},
			"SQS q process, 10 messages"},
		{"one record", query.Span{Name: "t process", Attributes: map[string]string{"lambdascope.trigger": "kinesis", "messaging.batch.message_count": "1"}},
			"Kinesis t process, 1 message"},
		{"a trigger this version does not know", query.Span{Name: "x", Attributes: map[string]string{"lambdascope.trigger": "mq"}}, "mq x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.span.Trigger(); got != tt.want {
				t.Errorf("Trigger() = %q, want %q", got, tt.want)
			}
		})
	}
}
