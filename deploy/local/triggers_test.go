package local_test

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
)

// TestTriggersInTheTrace runs what `make demo` runs — orders behind API
// Gateway (HTTP API and REST API events built from AWS's samples), some
// requests carrying a client's traceparent, orders sending each placed
// order to the SQS queue, and shipping, a Node.js function with no SDK,
// consuming it in batches, all with the real layer — and reads back out of ClickHouse,
// through the query package, the spans the extension inferred from the
// events: API Gateway's in front of orders, the parent of orders'
// invocation span, whether the SDK in orders took the request's
// traceparent or, the client untraced, started the trace the inferred
// span then is the root of, SQS's in front of shipping, with one link per message to the trace of
// the order that sent it.
func TestTriggersInTheTrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	stack := startStack(t, ctx, nil)
	// An HTTP API in front of orders (one order failing in inventory,
	// which orders answers with 502), then a REST API.
	calls := run(t, ctx, stack, local.Workload{Invocations: 4, Concurrency: 2, TraceEvery: 2, FailEvery: 4})
	rest := run(t, ctx, stack, local.Workload{Invocations: 2, Concurrency: 2, TraceEvery: 1, REST: true})
	trigger := map[string]string{}
	for _, c := range calls {
		trigger[c.RequestID] = "apigateway-http"
	}
	for _, c := range rest {
		trigger[c.RequestID] = "apigateway-rest"
	}
	calls = append(calls, rest...)
	placed := 0
	for _, c := range calls {
		if c.RequestID == "" || c.StatusCode != map[bool]int{false: 200, true: 502}[c.FailInventory] {
			t.Fatalf("orders call %d: request %q, status %d, function error %q", c.Index, c.RequestID, c.StatusCode, c.FunctionError)
		}
		if !c.FailInventory {
			placed++
		}
	}
	if err := stack.StopFunctions(ctx); err != nil {
		t.Fatalf("stop functions: %v", err)
	}
	st, err := stack.Emulator.QueueStats(local.OrdersQueue)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != placed || st.Delivered != placed {
		t.Fatalf("queue %s: %+v, want the %d placed orders sent and delivered", local.OrdersQueue, st, placed)
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
		inv := invocation("orders", c.RequestID)
		tr := trace(inv.TraceID)
		apigw := findSpan(tr, func(s *query.Span) bool {
			return s.Attributes["lambdascope.trigger"] == trigger[c.RequestID] && s.Attributes["lambdascope.invocation_id"] == c.RequestID
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
		} else if apigw == nil {
			// An untraced client: orders' SDK starts a trace, which the
			// inferred span joins as its root.
			t.Errorf("orders %s: no inferred API Gateway span in the trace %s orders' SDK started", c.RequestID, inv.TraceID)
		} else if apigw.ParentSpanID != (query.SpanID{}) || apigw.Attributes["lambdascope.trace_context.source"] != "function" {
			t.Errorf("orders %s: inferred API Gateway span under %s (source %q), want the root of the SDK's trace (function)",
				c.RequestID, apigw.ParentSpanID, apigw.Attributes["lambdascope.trace_context.source"])
		}
		// One tree, traced client or not: orders' invocation span (its
		// SDK's, which took the same traceparent or started the trace) is
		// the inferred span's child, and the only invocation span of the
		// request; lambda.invoke hangs under it.
		var servers []*query.Span
		tr.Walk(func(n *query.Node) bool {
			if n.Span.Kind == query.SpanKindServer && n.Span.Attributes["faas.invocation_id"] == c.RequestID {
				servers = append(servers, &n.Span)
			}
			return true
		})
		switch {
		case len(servers) != 1:
			t.Errorf("orders %s: %d invocation spans, want the SDK's only", c.RequestID, len(servers))
		case apigw != nil && servers[0].ParentSpanID != apigw.SpanID:
			t.Errorf("orders %s: its invocation span %q has parent %s, want the inferred API Gateway span %s",
				c.RequestID, servers[0].Name, servers[0].ParentSpanID, apigw.SpanID)
		}
		invoke := findSpan(tr, func(s *query.Span) bool {
			return s.FunctionName == "orders" && s.Name == "lambda.invoke" && s.Attributes["faas.invocation_id"] == c.RequestID
		})
		if invoke == nil || len(servers) != 1 || invoke.ParentSpanID != servers[0].SpanID {
			t.Errorf("orders %s: lambda.invoke %v is not under the invocation span", c.RequestID, invoke)
		}
		// The record says where the event came from and where its trace
		// context did, as the inferred span does (the SDK's trace,
		// "function", for an untraced client).
		if inv.Trigger != trigger[c.RequestID] || inv.TriggerSource != "POST /orders" || inv.ErrorMessage != "" {
			t.Errorf("orders %s: record's trigger %q from %q, error message %q; want %s from POST /orders, no message",
				c.RequestID, inv.Trigger, inv.TriggerSource, inv.ErrorMessage, trigger[c.RequestID])
		}
		if want := map[bool]string{true: "w3c", false: "function"}[c.Traceparent != ""]; inv.TraceContextSource != want ||
			(apigw != nil && apigw.Attributes["lambdascope.trace_context.source"] != want) {
			t.Errorf("orders %s: record's trace context source %q, want %q as the inferred span's", c.RequestID, inv.TraceContextSource, want)
		}
		if apigw != nil {
			if apigw.Name != "POST /orders" || apigw.Kind != query.SpanKindServer || apigw.Attributes["http.response.status_code"] != strconv.Itoa(c.StatusCode) {
				t.Errorf("orders %s: inferred API Gateway span %q kind %d attributes %v", c.RequestID, apigw.Name, apigw.Kind, apigw.Attributes)
			}
			// A 5xx answer is an error, though the invocation succeeded.
			if apigw.IsError() != (c.StatusCode >= 500) {
				t.Errorf("orders %s: answered %d, inferred span status %d", c.RequestID, c.StatusCode, apigw.StatusCode)
			}
			// It spans the request: API Gateway's request time to the answer.
			server := findSpan(tr, func(s *query.Span) bool { return s.FunctionName == "orders" && s.Name == "orders" })
			if server != nil && (apigw.Start.After(server.Start) || apigw.End().Before(server.End())) {
				t.Errorf("orders %s: inferred API Gateway span [%v, %v] does not cover the invocation [%v, %v]",
					c.RequestID, apigw.Start, apigw.End(), server.Start, server.End())
			}
		}
		send := findSpan(tr, func(s *query.Span) bool { return s.FunctionName == "orders" && s.Name == "send orders-placed" })
		if c.FailInventory {
			if send != nil {
				t.Errorf("orders %s: the order failed but was sent", c.RequestID)
			}
			continue
		}
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
	consumedBy := map[query.SpanID]sent{}
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
		// The record names the queue and, as the inferred span, the
		// context of the batch's first message (the order's traceparent).
		if inv.Trigger != "sqs" || inv.TriggerSource != local.OrdersQueue || inv.TraceContextSource != "w3c" ||
			sqs.Attributes["lambdascope.trace_context.source"] != inv.TraceContextSource {
			t.Errorf("shipping %s: record's trigger %q from %q, trace context source %q (inferred span's %q); want sqs from %s, w3c",
				inv.RequestID, inv.Trigger, inv.TriggerSource, inv.TraceContextSource, sqs.Attributes["lambdascope.trace_context.source"], local.OrdersQueue)
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
			consumedBy[l.SpanID] = sent{trace: inv.TraceID, span: sqs.SpanID}
		}
	}
	for id, s := range sends {
		if linked[id] != 1 {
			t.Errorf("the message sent in span %s is linked %d times from shipping's spans, want once", id, linked[id])
			continue
		}
		// The other way: the order's trace knows who consumed what it
		// sent (a batch's first message is consumed in its own trace).
		c := consumedBy[id]
		if c.trace == s.trace {
			continue
		}
		in, err := svc.LinksIn(ctx, s.trace, 0)
		if err != nil {
			t.Fatalf("links into %s: %v", s.trace, err)
		}
		found := false
		for _, l := range in {
			found = found || (l.SpanID == id && l.Other.TraceID == c.trace && l.Other.SpanID == c.span && l.Other.FunctionName == "shipping")
		}
		if !found {
			t.Errorf("trace %s: no link in from shipping's span %s/%s to its send span %s: %+v", s.trace, c.trace, c.span, id, in)
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
