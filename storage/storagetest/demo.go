// Package storagetest makes telemetry for the tests and benchmarks of the
// packages that store it: spans shaped like the demo's (DemoTrace), with
// the resource, attributes, parents, kinds and statuses that the demo's
// instrumented functions send, so that figures are taken on the work users
// do; and millions of traces and invocation reports generated inside
// ClickHouse (Generate), with SQL of its own (generate_*.sql).
package storagetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// DemoResource is the resource the demo's functions send with their own
// spans (see examples/functions/internal/otelfaas), the log group's name
// as an array (aws.log.group.names) as OpenTelemetry's Lambda resource
// detector sends it.
func DemoResource(function string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		str("service.name", function), str("cloud.provider", "aws"),
		str("cloud.platform", "aws_lambda"), str("cloud.region", "eu-west-1"),
		str("faas.name", function), str("faas.version", "$LATEST"),
		str("faas.instance", "2026/06/01/[$LATEST]8f1c2a7b9d0e4f51"),
		integer("faas.max_memory", 512*1024*1024),
		str("telemetry.sdk.language", "go"), str("telemetry.sdk.name", "opentelemetry"),
		str("telemetry.sdk.version", "1.47.0"), logGroups(function),
	}}
}

// DemoExtensionResource is the resource the extension sends its own spans
// of a function with (the inferred span of the trigger, the platform
// spans): the function's identity (see extension/internal/agent's
// Resource), with the log group as DemoResource.
func DemoExtensionResource(function string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		str("service.name", function), str("cloud.provider", "aws"),
		str("cloud.platform", "aws_lambda"), str("cloud.region", "eu-west-1"),
		str("cloud.account.id", "123456789012"), str("faas.name", function), str("faas.version", "$LATEST"),
		str("faas.instance", "2026/06/01/[$LATEST]8f1c2a7b9d0e4f51"),
		integer("faas.max_memory", 512*1024*1024), logGroups(function),
	}}
}

// logGroups is aws.log.group.names of a function's default log group.
func logGroups(function string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: "aws.log.group.names", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{
		ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_StringValue{StringValue: "/aws/lambda/" + function}}}},
	}}}
}

// Scopes of the extension's own spans.
const (
	demoEventsScope   = "lambdascope/events"
	demoPlatformScope = "lambdascope/telemetry"
)

// DemoTrace builds one trace shaped like the one `make demo` stores for a
// placed order (deploy/local's TestEndToEnd holds the demo to it), twelve
// spans in two requests, each request the function's own spans under its
// resource and the extension's spans under the extension's:
//
//	orders:    POST /orders (SERVER, the extension's span inferred from the
//	           API Gateway event, the root)
//	             orders (SERVER, the function's invocation span)
//	               validate order, INSERT shop.orders (CLIENT),
//	               inventory invoke (CLIENT), send orders-placed (PRODUCER),
//	               lambda.invoke (the platform's, from the report)
//	                 lambda.runtime_overhead
//	inventory: inventory (SERVER, a direct invocation under orders' invoke)
//	             reserve stock, lambda.invoke
//	                              lambda.runtime_overhead
//
// A warm trace: no lambda.init.
func DemoTrace(rng *rand.Rand, at time.Time) []*ingestv1.ExportRequest {
	var traceID [16]byte
	for i := range traceID {
		traceID[i] = byte(rng.Uint32())
	}
	spanID := func() []byte {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	ns := func(d time.Duration) uint64 { return uint64(at.Add(d).UnixNano()) }
	jitter := func(base time.Duration) time.Duration { return base + time.Duration(rng.IntN(int(base/2)+1)) }
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff)
	}
	requestID, invRequestID := uuid(), uuid()
	inferred, root, validate, db, invoke, send, platform, overhead := spanID(), spanID(), spanID(), spanID(), spanID(), spanID(), spanID(), spanID()
	invRoot, invBiz, invPlatform, invOverhead := spanID(), spanID(), spanID(), spanID()
	ms := time.Millisecond
	total := jitter(40 * ms)     // orders' invocation
	invTotal := jitter(12 * ms)  // inventory's
	invokeDur := invTotal + 4*ms // orders' call of inventory, around it
	span := func(id, parent []byte, name string, kind tracepb.Span_SpanKind, start, dur time.Duration, attrs ...*commonpb.KeyValue) *tracepb.Span {
		return &tracepb.Span{TraceId: traceID[:], SpanId: id, ParentSpanId: parent, Name: name, Kind: kind,
			StartTimeUnixNano: ns(start), EndTimeUnixNano: ns(start + dur), Attributes: attrs,
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_UNSET}}
	}
	sku, qty := fmt.Sprintf("SKU-%04d", rng.IntN(500)), int64(1+rng.IntN(5))
	platformSpans := func(id, parent, overheadID []byte, request string, start, dur time.Duration) []*tracepb.Span {
		return []*tracepb.Span{
			span(id, parent, "lambda.invoke", tracepb.Span_SPAN_KIND_INTERNAL, start, dur+ms,
				str("faas.invocation_id", request), boolean("faas.coldstart", false), str("aws.lambda.status", "success"),
				integer("aws.lambda.billed_duration_ms", int64((dur+ms)/ms)+1), integer("aws.lambda.max_memory_used_mb", 14)),
			span(overheadID, id, "lambda.runtime_overhead", tracepb.Span_SPAN_KIND_INTERNAL, start+dur-ms, jitter(ms),
				str("faas.invocation_id", request)),
		}
	}
	orders := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "orders", Version: "$LATEST", Region: "eu-west-1", AccountId: "123456789012"},
		ResourceSpans: []*tracepb.ResourceSpans{
			{Resource: DemoResource("orders"), ScopeSpans: []*tracepb.ScopeSpans{{
				Scope: &commonpb.InstrumentationScope{Name: "orders", Version: "0.1.0"},
				Spans: []*tracepb.Span{
					span(root, inferred, "orders", tracepb.Span_SPAN_KIND_SERVER, 2*ms, total,
						str("faas.trigger", "http"), boolean("faas.coldstart", false), str("faas.invocation_id", requestID),
						str("cloud.resource_id", "arn:aws:lambda:eu-west-1:123456789012:function:orders"),
						str("cloud.account.id", "123456789012"), str("http.request.method", "POST"),
						str("url.path", "/orders"), str("http.route", "/orders"), integer("http.response.status_code", 200)),
					span(validate, root, "validate order", tracepb.Span_SPAN_KIND_INTERNAL, 2*ms+100*time.Microsecond, jitter(60*time.Microsecond),
						str("order.sku", sku), integer("order.qty", qty)),
					span(db, root, "INSERT shop.orders", tracepb.Span_SPAN_KIND_CLIENT, 2*ms+200*time.Microsecond, jitter(4*ms),
						str("db.system.name", "postgresql"), str("db.namespace", "shop"), str("db.collection.name", "orders"),
						str("db.operation.name", "INSERT"),
						str("db.query.text", "INSERT INTO orders (sku, qty) VALUES ($1, $2) RETURNING id"),
						str("server.address", "orders-db.internal"), integer("server.port", 5432)),
					span(invoke, root, "inventory invoke", tracepb.Span_SPAN_KIND_CLIENT, 8*ms, invokeDur,
						str("rpc.system", "aws-api"), str("rpc.service", "Lambda"), str("rpc.method", "Invoke"),
						str("cloud.region", "eu-west-1"), str("faas.invoked_name", "inventory"),
						str("faas.invoked_provider", "aws"), str("faas.invoked_region", "eu-west-1"),
						integer("http.response.status_code", 200)),
					// A placed order goes to the orders-placed queue.
					span(send, root, "send orders-placed", tracepb.Span_SPAN_KIND_PRODUCER, 8*ms+invokeDur+ms, jitter(2*ms),
						str("messaging.system", "aws_sqs"), str("messaging.destination.name", "orders-placed"),
						str("messaging.operation.type", "send"), str("messaging.operation.name", "SendMessage"),
						str("rpc.system", "aws-api"), str("rpc.service", "SQS"), str("rpc.method", "SendMessage"),
						str("messaging.message.id", uuid())),
				},
			}}},
			{Resource: DemoExtensionResource("orders"), ScopeSpans: []*tracepb.ScopeSpans{
				{Scope: &commonpb.InstrumentationScope{Name: demoEventsScope}, Spans: []*tracepb.Span{
					// The request carried no trace context: the span inferred
					// from API Gateway's event is the root of the trace
					// orders' SDK started.
					span(inferred, nil, "POST /orders", tracepb.Span_SPAN_KIND_SERVER, 0, total+4*ms,
						str("aws.apigateway.api_id", "a1b2c3d4e5"), str("aws.apigateway.stage", "$default"),
						str("faas.trigger", "http"), str("http.request.method", "POST"), str("http.route", "/orders"),
						str("server.address", "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"), str("url.path", "/orders"),
						str("lambdascope.trigger", "apigateway-http"), str("lambdascope.invocation_id", requestID),
						str("lambdascope.trace_context.source", "function"), integer("aws.lambda.response.size", 210),
						integer("http.response.status_code", 200)),
				}},
				{Scope: &commonpb.InstrumentationScope{Name: demoPlatformScope},
					Spans: platformSpans(platform, root, overhead, requestID, 2*ms, total)},
			}},
		},
	}
	inventory := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "inventory", Version: "$LATEST", Region: "eu-west-1", AccountId: "123456789012"},
		ResourceSpans: []*tracepb.ResourceSpans{
			{Resource: DemoResource("inventory"), ScopeSpans: []*tracepb.ScopeSpans{{
				Scope: &commonpb.InstrumentationScope{Name: "inventory", Version: "0.1.0"},
				Spans: []*tracepb.Span{
					// orders invokes inventory directly (the trace context in
					// the event): a direct invocation, no HTTP in between,
					// and no span inferred.
					span(invRoot, invoke, "inventory", tracepb.Span_SPAN_KIND_SERVER, 10*ms, invTotal,
						str("faas.trigger", "other"), boolean("faas.coldstart", false), str("faas.invocation_id", invRequestID),
						str("cloud.resource_id", "arn:aws:lambda:eu-west-1:123456789012:function:inventory"),
						str("cloud.account.id", "123456789012")),
					span(invBiz, invRoot, "reserve stock", tracepb.Span_SPAN_KIND_INTERNAL, 11*ms, jitter(8*ms),
						str("inventory.sku", sku), integer("inventory.qty", qty)),
				},
			}}},
			{Resource: DemoExtensionResource("inventory"), ScopeSpans: []*tracepb.ScopeSpans{
				{Scope: &commonpb.InstrumentationScope{Name: demoPlatformScope},
					Spans: platformSpans(invPlatform, invRoot, invOverhead, invRequestID, 10*ms, invTotal)},
			}},
		},
	}
	return []*ingestv1.ExportRequest{orders, inventory}
}

// SpansPerDemoTrace is the number of spans DemoTrace makes.
const SpansPerDemoTrace = 12

// DemoSpanRequest is one request of at least n demo-shaped spans of one
// function's own (its SDK's, under its resource; not the extension's): the
// spans of consecutive demo traces (a new trace every five or two spans),
// the orders function's or the inventory function's.
func DemoSpanRequest(rng *rand.Rand, at time.Time, n int, inventory bool) *ingestv1.ExportRequest {
	which := 0
	if inventory {
		which = 1
	}
	var out *ingestv1.ExportRequest
	for i := 0; out == nil || len(out.ResourceSpans[0].ScopeSpans[0].Spans) < n; i++ {
		req := DemoTrace(rng, at.Add(time.Duration(i)*time.Millisecond))[which]
		if out == nil {
			out = req
			out.ResourceSpans = out.ResourceSpans[:1]
			continue
		}
		ss := out.ResourceSpans[0].ScopeSpans[0]
		ss.Spans = append(ss.Spans, req.ResourceSpans[0].ScopeSpans[0].Spans...)
	}
	return out
}

// DemoLogRequest is one request of exactly n log records of the demo's
// orders function (or inventory's), as the extension ships its lines: five
// per invocation, four text lines as the Go runtime prints them ("time
// requestId LEVEL message", a WARN now and then) and one line of the
// structured logger whose fields became attributes; each with its
// severity, the invocation's trace and span IDs, the log type and request
// ID attributes, under the demo's resource and the extension's scope.
func DemoLogRequest(rng *rand.Rand, at time.Time, n int, inventory bool) *ingestv1.ExportRequest {
	function := "orders"
	if inventory {
		function = "inventory"
	}
	recs := make([]*logspb.LogRecord, 0, n)
	var traceID, spanID []byte
	var requestID, sku string
	var order, qty int64
	for i := range n {
		line := i % 5
		if line == 0 {
			traceID, spanID = make([]byte, 16), make([]byte, 8)
			for j := range traceID {
				traceID[j] = byte(rng.Uint32())
			}
			for j := range spanID {
				spanID[j] = byte(rng.Uint32())
			}
			requestID = fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff)
			sku, order, qty = fmt.Sprintf("SKU-%04d", rng.IntN(500)), 10000+rng.Int64N(90000), int64(1+rng.IntN(5))
		}
		t := at.Add(time.Duration(i) * 700 * time.Microsecond)
		level, severity := "INFO", logspb.SeverityNumber_SEVERITY_NUMBER_INFO
		var msg string
		switch line {
		case 0:
			msg = fmt.Sprintf("received POST /orders sku=%s qty=%d", sku, qty)
			if inventory {
				msg = fmt.Sprintf("invoked by orders: reserve sku=%s qty=%d", sku, qty)
			}
		case 1:
			msg = fmt.Sprintf("INSERT INTO orders (sku, qty) VALUES ($1, $2) RETURNING id: id=%d in %.1f ms", order, 2+4*rng.Float64())
		case 2:
			msg = fmt.Sprintf("invoked inventory: reserved %d of %s", qty, sku)
			if rng.IntN(10) == 0 {
				level, severity = "WARN", logspb.SeverityNumber_SEVERITY_NUMBER_WARN
				msg = fmt.Sprintf("inventory answered slowly (%d ms), retrying once", 200+rng.IntN(300))
			}
		case 4:
			msg = fmt.Sprintf("answered 201 in %.1f ms", 20+40*rng.Float64())
		}
		rec := &logspb.LogRecord{
			TimeUnixNano: uint64(t.UnixNano()), ObservedTimeUnixNano: uint64(t.Add(3 * time.Millisecond).UnixNano()),
			SeverityNumber: severity, SeverityText: level, TraceId: traceID, SpanId: spanID,
		}
		if line == 3 {
			// The structured logger's line: the message is the body, the
			// other fields attributes.
			rec.Body = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "order placed"}}
			rec.Attributes = []*commonpb.KeyValue{integer("order.id", order), integer("order.qty", qty), str("order.sku", sku)}
		} else {
			rec.Body = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{
				StringValue: t.UTC().Format("2006-01-02T15:04:05.000Z") + "\t" + requestID + "\t" + level + "\t" + msg}}
		}
		rec.Attributes = append(rec.Attributes, str("lambdascope.log.type", "function"), str("faas.invocation_id", requestID))
		recs = append(recs, rec)
	}
	return &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: function, Version: "$LATEST", Region: "eu-west-1", AccountId: "123456789012"},
		ResourceLogs: []*logspb.ResourceLogs{{Resource: DemoResource(function), ScopeLogs: []*logspb.ScopeLogs{{
			Scope: &commonpb.InstrumentationScope{Name: "lambdascope/telemetry"}, LogRecords: recs,
		}}}},
	}
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func boolean(k string, v bool) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}}
}

func integer(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// SpanShapes are resource spans of the shapes AWS Lambda functions send
// and of shapes only a faulty or hostile sender makes, for the tests that
// hold two decoders of spans to the same rows: the demo's; one with
// events, links and every kind of attribute value; a resource without
// attributes; spans storage refuses (IDs of the wrong length or zeros, a
// start after 2105); long names and values; arrays, key-value lists and
// scope attributes; repeated request IDs.
func SpanShapes(rng *rand.Rand) []*tracepb.ResourceSpans {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	demo := DemoSpanRequest(rng, at, 12, false).ResourceSpans[0]
	inv := DemoSpanRequest(rng, at, 6, true).ResourceSpans[0]
	tid := make([]byte, 16)
	sid := make([]byte, 8)
	for i := range tid {
		tid[i] = byte(rng.Uint32() | 1)
	}
	copy(sid, tid)
	ns := uint64(at.UnixNano())
	anyKV := func(v *commonpb.AnyValue) *commonpb.KeyValue { return &commonpb.KeyValue{Key: "v", Value: v} }
	rich := &tracepb.Span{
		TraceId: tid, SpanId: sid, ParentSpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, TraceState: "rojo=00f067aa0ba902b7",
		Name: "GET /item/{id}", Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: ns, EndTimeUnixNano: ns + 1500,
		Attributes: []*commonpb.KeyValue{
			str("faas.execution", "exec-1"), str("faas.invocation_id", "exec-1"),
			{Key: "b", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}},
			{Key: "f", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.25}}},
			{Key: "inf", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.Inf(-1)}}},
			{Key: "raw", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2, 250}}}},
			integer("neg", -42), {Key: "empty"}, {Key: "unset", Value: &commonpb.AnyValue{}},
			str("", "no key"),
		},
		Events: []*tracepb.Span_Event{
			{TimeUnixNano: ns + 10, Name: "exception", Attributes: []*commonpb.KeyValue{
				str("exception.type", "ValueError"), str("exception.message", `bad "quote" <tag>`), str("exception.type", "dup")}},
			{Name: "no attributes"},
		},
		Links: []*tracepb.Span_Link{
			{TraceId: tid, SpanId: sid, TraceState: "x=1", Attributes: []*commonpb.KeyValue{integer("n", 7)}},
			{TraceId: []byte{1, 2}, SpanId: nil},
		},
		Status:                 &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "boom ✗"},
		DroppedAttributesCount: 3, Flags: 0x100,
	}
	plain := &tracepb.Span{TraceId: tid, SpanId: []byte{9, 9, 9, 9, 9, 9, 9, 9}, Name: "plain", Kind: tracepb.Span_SpanKind(300)}
	awsLike := &tracepb.ResourceSpans{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			str("cloud.account.id", "210987654321"), str("faas.name", "from-resource"), str("cloud.region", "us-east-1"),
			str("faas.version", "7"), integer("faas.max_memory", 128<<20)}},
		ScopeSpans: []*tracepb.ScopeSpans{
			{Scope: &commonpb.InstrumentationScope{Name: "io.opentelemetry.aws-lambda", Version: "2.1"}, Spans: []*tracepb.Span{rich, plain}},
			{Spans: []*tracepb.Span{plain}},
		},
		SchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
	}
	bare := &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{plain}}}}
	refused := &tracepb.ResourceSpans{Resource: DemoResource("refused"), ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
		plain,
		{TraceId: tid[:15], SpanId: sid, Name: "short trace id"},
		{TraceId: make([]byte, 16), SpanId: sid, Name: "zero trace id"},
		{TraceId: tid, SpanId: make([]byte, 8), Name: "zero span id"},
		{TraceId: tid, SpanId: sid, ParentSpanId: []byte{1}, Name: "bad parent"},
		{TraceId: tid, SpanId: sid, StartTimeUnixNano: 1 << 63, Name: "after 2105"},
	}}}}
	long := strings.Repeat("é", 20000)
	big := &tracepb.ResourceSpans{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", long), str(long, "long key")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: long, Version: long}, Spans: []*tracepb.Span{
			{TraceId: tid, SpanId: sid, Name: long, TraceState: long, Status: &tracepb.Status{Message: long},
				Attributes: []*commonpb.KeyValue{str("k", long), {Key: "raw", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte(long)}}}},
				Events:     []*tracepb.Span_Event{{Name: long, Attributes: []*commonpb.KeyValue{str(long, "x")}}},
				Links:      []*tracepb.Span_Link{{TraceId: tid, SpanId: sid, TraceState: long}}},
		}}},
	}
	arr := &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
		{Value: &commonpb.AnyValue_StringValue{StringValue: long}}, {Value: &commonpb.AnyValue_IntValue{IntValue: 1}}}}}}
	kvl := &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
		str("b", "2"), str("a", "1"), str(long, "dropped")}}}}
	nested := &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{
		Scope: &commonpb.InstrumentationScope{Name: "s", Attributes: []*commonpb.KeyValue{str("scope.attr", "x")}},
		Spans: []*tracepb.Span{{TraceId: tid, SpanId: sid, Name: "nested", Attributes: []*commonpb.KeyValue{anyKV(arr), anyKV(kvl)}}},
	}}}
	return []*tracepb.ResourceSpans{demo, inv, awsLike, bare, refused, big, nested}
}
