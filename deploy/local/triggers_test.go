package local_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
)

// TestTriggersInTheTrace runs what `make demo` runs — orders behind API
// Gateway (events built from AWS's sample), every other request carrying
// a client's traceparent, orders sending each placed order to the SQS
// queue, and shipping, a Node.js function with no SDK, consuming it in
// batches, all with the real layer — and reads back out of ClickHouse,
// through the query package, the spans the extension inferred from the
// events: API Gateway's in front of orders, SQS's in front of shipping,
// with one link per message to the trace of the order that sent it.
func TestTriggersInTheTrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	stack := startStack(t, ctx, nil)
	const n = 6
	calls := run(t, ctx, stack, local.Workload{Invocations: n, Concurrency: 2, TraceEvery: 2})
	if err := stack.StopFunctions(ctx); err != nil {
		t.Fatalf("stop functions: %v", err)
	}
	st, err := stack.Emulator.QueueStats(local.OrdersQueue)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != n || st.Delivered != n {
		t.Fatalf("queue %s: %+v, want %d messages sent and delivered", local.OrdersQueue, st, n)
	}

	store, err := storage.Open(ctx, stack.DSN)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	defer store.Close()
	svc := query.NewService(store)
	trace := func(id query.TraceID) *query.Trace {
		t.Helper()
		tr, err := svc.TraceByID(ctx, id)
		if err != nil {
			t.Fatalf("trace %s: %v", id, err)
		}
		return tr
	}
	invocation := func(fn, requestID string) query.Invocation {
		t.Helper()
		invs, err := svc.Invocations(ctx, query.InvocationFilter{FunctionName: fn, RequestIDs: []string{requestID}})
		if err != nil || len(invs) != 1 {
			t.Fatalf("%s record of %s: %v (%d rows)", fn, requestID, err, len(invs))
		}
		return invs[0]
	}

	// The message each order sent: the orders trace and its send span.
	type sent struct {
		trace query.TraceID
		span  query.SpanID
	}
	sends := map[query.SpanID]sent{}
	for _, c := range calls {
		if c.StatusCode != 200 {
			t.Fatalf("orders call %d: status %d, function error %q", c.Index, c.StatusCode, c.FunctionError)
		}
		inv := invocation("orders", c.RequestID)
		tr := trace(inv.TraceID)
		apigw := findSpan(tr, func(s *query.Span) bool {
			return s.Attributes["lambdascope.trigger"] == "apigateway-http" && s.Attributes["lambdascope.invocation_id"] == c.RequestID
		})
		if c.Traceparent != "" {
			// The inferred span joins the client's trace, under its span.
			clientTrace, clientSpan := parseTraceparent(t, c.Traceparent)
			if inv.TraceID != clientTrace {
				t.Errorf("orders %s: trace %s, the client's traceparent says %s", c.RequestID, inv.TraceID, clientTrace)
			}
			if apigw == nil {
				t.Errorf("orders %s: no inferred API Gateway span in the client's trace %s", c.RequestID, inv.TraceID)
			} else if apigw.ParentSpanID != clientSpan {
				t.Errorf("orders %s: inferred API Gateway span's parent %s, want the client's span %s", c.RequestID, apigw.ParentSpanID, clientSpan)
			}
		}
		if apigw != nil {
			if apigw.Name != "POST /orders" || apigw.Kind != query.SpanKindServer || apigw.Attributes["http.response.status_code"] != "200" {
				t.Errorf("orders %s: inferred API Gateway span %q kind %d attributes %v", c.RequestID, apigw.Name, apigw.Kind, apigw.Attributes)
			}
			// It spans the request: API Gateway's request time to the answer.
			server := findSpan(tr, func(s *query.Span) bool { return s.FunctionName == "orders" && s.Name == "orders" })
			if server != nil && (apigw.Start.After(server.Start) || apigw.End().Before(server.End())) {
				t.Errorf("orders %s: inferred API Gateway span [%v, %v] does not cover the invocation [%v, %v]",
					c.RequestID, apigw.Start, apigw.End(), server.Start, server.End())
			}
		}
		send := findSpan(tr, func(s *query.Span) bool { return s.FunctionName == "orders" && s.Name == "send orders-placed" })
		if send == nil {
			t.Fatalf("orders %s: no send span in trace %s", c.RequestID, inv.TraceID)
		}
		if send.Kind != query.SpanKindProducer || send.Attributes["messaging.message.id"] == "" {
			t.Errorf("orders %s: send span kind %d attributes %v", c.RequestID, send.Kind, send.Attributes)
		}
		sends[send.SpanID] = sent{trace: inv.TraceID, span: send.SpanID}
	}

	// Each shipping invocation hangs under the SQS span inferred from its
	// batch, in the trace of the batch's first message, under that
	// order's send span; the span links every message's send span.
	shipping, err := svc.Invocations(ctx, query.InvocationFilter{FunctionName: "shipping", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(shipping) == 0 || len(shipping) != st.Batches {
		t.Fatalf("%d shipping invocation records, the queue made %d batches", len(shipping), st.Batches)
	}
	linked := map[query.SpanID]int{}
	for _, inv := range shipping {
		tr := trace(inv.TraceID)
		sqs := findSpan(tr, func(s *query.Span) bool {
			return s.Attributes["lambdascope.trigger"] == "sqs" && s.Attributes["lambdascope.invocation_id"] == inv.RequestID
		})
		if sqs == nil {
			t.Errorf("shipping %s: no inferred SQS span in its trace %s", inv.RequestID, inv.TraceID)
			continue
		}
		if sqs.Kind != query.SpanKindConsumer || !strings.Contains(sqs.Name, local.OrdersQueue) {
			t.Errorf("shipping %s: inferred SQS span %q kind %d", inv.RequestID, sqs.Name, sqs.Kind)
		}
		if first, ok := sends[sqs.ParentSpanID]; !ok || first.trace != inv.TraceID {
			t.Errorf("shipping %s: inferred SQS span's parent %s is no order's send span in trace %s", inv.RequestID, sqs.ParentSpanID, inv.TraceID)
		}
		invoke := findSpan(tr, func(s *query.Span) bool {
			return s.FunctionName == "shipping" && s.Name == "lambda.invoke" && s.Attributes["faas.invocation_id"] == inv.RequestID
		})
		if invoke == nil || invoke.ParentSpanID != sqs.SpanID {
			t.Errorf("shipping %s: its lambda.invoke span %v is not a child of the inferred SQS span %s", inv.RequestID, invoke, sqs.SpanID)
		}
		for _, l := range sqs.Links {
			s, ok := sends[l.SpanID]
			if !ok || s.trace != l.TraceID {
				t.Errorf("shipping %s: link to %s/%s, which is no order's send span", inv.RequestID, l.TraceID, l.SpanID)
				continue
			}
			if l.Attributes["messaging.message.id"] == "" {
				t.Errorf("shipping %s: link to %s without its message ID", inv.RequestID, l.SpanID)
			}
			linked[l.SpanID]++
		}
	}
	for id := range sends {
		if linked[id] != 1 {
			t.Errorf("the message sent in span %s is linked %d times from shipping's spans, want once", id, linked[id])
		}
	}
}

func findSpan(tr *query.Trace, pred func(*query.Span) bool) *query.Span {
	var found *query.Span
	tr.Walk(func(n *query.Node) bool {
		if pred(&n.Span) {
			found = &n.Span
			return false
		}
		return true
	})
	return found
}

func parseTraceparent(t *testing.T, tp string) (query.TraceID, query.SpanID) {
	t.Helper()
	parts := strings.Split(tp, "-")
	var tid query.TraceID
	var sid query.SpanID
	if len(parts) != 4 {
		t.Fatalf("traceparent %q", tp)
	}
	if _, err := hex.Decode(tid[:], []byte(parts[1])); err != nil {
		t.Fatalf("traceparent %q: %v", tp, err)
	}
	if _, err := hex.Decode(sid[:], []byte(parts[2])); err != nil {
		t.Fatalf("traceparent %q: %v", tp, err)
	}
	return tid, sid
}
