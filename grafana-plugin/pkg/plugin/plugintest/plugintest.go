// Package plugintest stores fixed telemetry for the Grafana datasource's
// tests: the same rows on every run, so frames can be compared with golden
// files.
package plugintest

import (
	"context"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// Start is when the fixture's trace begins.
var Start = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// Fixture IDs.
const (
	TraceID       = "4bf92f3577b34da6a3ce929d0e0e4736"
	XRayTraceID   = "1-4bf92f35-77b34da6a3ce929d0e0e4736"
	OtherTraceID  = "0af7651916cd43dd8448eb211c80319c"
	OrdersServer  = "00f067aa0ba902b7"
	OrdersClient  = "53995c3f42cd8ad8"
	BillingServer = "b7ad6b7169203331"
	BillingDB     = "a1b2c3d4e5f60718"
	// OrdersInvoke and OrdersInit are the platform's spans of orders'
	// invocation, stored as the extension stores them: under OrdersServer,
	// though lambda.invoke starts 5 ms before it and lambda.init ends
	// before it begins.
	OrdersInvoke = "1c0ffee000000001"
	OrdersInit   = "1c0ffee000000002"
)

// Database is a migrated database holding the fixture.
type Database struct {
	// Name is the database's name; Addr is host:port of the server.
	Name, Addr string
	Store      *storage.Store
}

// NewDatabase creates a fresh database on the package's ClickHouse (see
// chtest.Main), migrates it and writes the fixture: a trace in which
// function "orders" (cold start) calls function "billing" (which fails,
// and whose clock runs 30 ms behind), with orders' platform spans
// (lambda.invoke, lambda.init), plus one more invocation of orders outside
// any trace.
func NewDatabase(t testing.TB) Database {
	t.Helper()
	db := NewEmptyDatabase(t)
	st, err := storage.Open(context.Background(), chtest.Server().DSNFor(db.Name))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for _, req := range exports() {
		if _, err := st.WriteExport(context.Background(), req); err != nil {
			t.Fatalf("write export %s: %v", req.GetFunction().GetName(), err)
		}
	}
	db.Store = st
	return db
}

// NewEmptyDatabase creates a fresh database without any schema.
func NewEmptyDatabase(t testing.TB) Database {
	t.Helper()
	_, name := chtest.NewDatabase(t)
	return Database{Name: name, Addr: chtest.Server().Addr()}
}

func hexBytes(s string) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, len(s)/2)
	for i := range out {
		out[i] = byte(strings.IndexByte(digits, s[2*i])<<4 | strings.IndexByte(digits, s[2*i+1]))
	}
	return out
}

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func at(ms int) uint64 { return uint64(Start.Add(time.Duration(ms) * time.Millisecond).UnixNano()) }

func span(id, parent, name string, kind tracepb.Span_SpanKind, from, to int, attrs ...*commonpb.KeyValue) *tracepb.Span {
	s := &tracepb.Span{
		TraceId: hexBytes(TraceID), SpanId: hexBytes(id), Name: name, Kind: kind,
		StartTimeUnixNano: at(from), EndTimeUnixNano: at(to), Attributes: attrs,
	}
	if parent != "" {
		s.ParentSpanId = hexBytes(parent)
	}
	return s
}

func exports() []*ingestv1.ExportRequest {
	billing := span(BillingServer, OrdersClient, "charge", tracepb.Span_SPAN_KIND_SERVER, 30, 110,
		strAttr("faas.invocation_id", "req-billing"))
	billing.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "card declined"}
	// The caller's span names its callee and sees the failure, as the
	// sample functions' instrumentation records a Lambda-to-Lambda call.
	invokeBilling := span(OrdersClient, OrdersServer, "invoke billing", tracepb.Span_SPAN_KIND_CLIENT, 50, 150,
		strAttr("faas.invoked_name", "billing"))
	invokeBilling.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "billing: card declined"}
	billing.Events = []*tracepb.Span_Event{{
		TimeUnixNano: at(100), Name: "exception",
		Attributes: []*commonpb.KeyValue{strAttr("exception.type", "CardDeclined"), strAttr("exception.message", "card declined")},
	}}
	ordersServer := span(OrdersServer, "", "POST /orders", tracepb.Span_SPAN_KIND_SERVER, 0, 200,
		strAttr("faas.invocation_id", "req-orders"), strAttr("http.route", "/orders"))
	ordersServer.Links = []*tracepb.Span_Link{{TraceId: hexBytes(OtherTraceID), SpanId: hexBytes(BillingDB),
		Attributes: []*commonpb.KeyValue{strAttr("link.reason", "retry")}}}
	platform := []*tracepb.Span{
		span(OrdersInvoke, OrdersServer, "lambda.invoke", tracepb.Span_SPAN_KIND_INTERNAL, -5, 207,
			strAttr("faas.invocation_id", "req-orders")),
		span(OrdersInit, OrdersServer, "lambda.init", tracepb.Span_SPAN_KIND_INTERNAL, -306, -5,
			strAttr("faas.invocation_id", "req-orders")),
	}
	return []*ingestv1.ExportRequest{
		{
			BatchId:  []byte("orders-batch-001"),
			Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "orders", Version: "$LATEST", Architecture: "arm64", MemoryMb: 512},
			Invocations: []*ingestv1.Invocation{
				{
					RequestId: "req-orders", StartTimeUnixNano: at(-5), DurationMs: 212.5, BilledDurationMs: 213,
					MemorySizeMb: 512, MaxMemoryUsedMb: 88, ColdStart: true, InitDurationMs: 301.2, Status: "success",
					TraceId: hexBytes(TraceID), SpanId: hexBytes(OrdersServer),
				},
				{
					RequestId: "req-orders-2", StartTimeUnixNano: at(60_000), DurationMs: 12.25, BilledDurationMs: 13,
					MemorySizeMb: 512, MaxMemoryUsedMb: 90, Status: "success",
					TenantId: "acme",
				},
			},
			ResourceSpans: []*tracepb.ResourceSpans{{
				Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
					strAttr("service.name", "orders-api"), strAttr("telemetry.sdk.language", "go"),
				}},
				ScopeSpans: []*tracepb.ScopeSpans{
					{Spans: []*tracepb.Span{ordersServer, invokeBilling}},
					{Scope: &commonpb.InstrumentationScope{Name: "lambdascope/telemetry"}, Spans: platform},
				},
			}},
			ResourceLogs: []*logspb.ResourceLogs{{
				ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
					logLine(10, logspb.SeverityNumber_SEVERITY_NUMBER_INFO, "INFO", "order received", "req-orders", OrdersServer),
					logLine(160, logspb.SeverityNumber_SEVERITY_NUMBER_WARN, "WARN", "billing failed, order kept", "req-orders", OrdersServer),
					logLine(60_001, logspb.SeverityNumber_SEVERITY_NUMBER_UNSPECIFIED, "", "START RequestId: req-orders-2", "req-orders-2", ""),
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
				TraceId: hexBytes(TraceID), SpanId: hexBytes(BillingServer),
			}},
			ResourceSpans: []*tracepb.ResourceSpans{{
				ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
					billing,
					span(BillingDB, BillingServer, "UPDATE accounts", tracepb.Span_SPAN_KIND_CLIENT, 40, 60,
						strAttr("db.system", "dynamodb")),
				}}},
			}},
			ResourceLogs: []*logspb.ResourceLogs{{
				ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
					logLine(100, logspb.SeverityNumber_SEVERITY_NUMBER_ERROR, "ERROR", "card declined", "req-billing", BillingServer),
				}}},
			}},
			SentTimeUnixNano: at(300),
		},
	}
}

// logLine is a function log record of one invocation, in the trace when
// spanID is set.
func logLine(ms int, sev logspb.SeverityNumber, sevText, body, requestID, spanID string) *logspb.LogRecord {
	r := &logspb.LogRecord{
		TimeUnixNano: at(ms), SeverityNumber: sev, SeverityText: sevText,
		Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: body}},
		Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", requestID)},
	}
	if spanID != "" {
		r.TraceId, r.SpanId = hexBytes(TraceID), hexBytes(spanID)
	}
	return r
}
