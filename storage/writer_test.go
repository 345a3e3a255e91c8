package storage

import (
	"bytes"
	"maps"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func intAttr(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// fixture is one export batch and what it should read back as.
type fixture struct {
	req         *ingestv1.ExportRequest
	traceID     [16]byte
	rootID      [8]byte
	childID     [8]byte
	start       time.Time
	requestID   string
	function    string
	linkTraceID [16]byte
}

// newFixture builds a batch with a root span and a child (with an event and
// a link), one invocation and one log line. IDs include bytes that need
// escaping in SQL text (0x00, quote, backslash) so a lossy path would show.
func newFixture(t *testing.T, function string) fixture {
	t.Helper()
	f := fixture{
		traceID:   [16]byte{0x00, '\'', '\\', 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, byte(len(function))},
		rootID:    [8]byte{0xaa, 0, 0, 0, 0, 0, 0, 1},
		childID:   [8]byte{0xbb, '\'', 0, 0, 0, 0, 0, 2},
		start:     time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC),
		requestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
		function:  function,
	}
	copy(f.linkTraceID[:], bytes.Repeat([]byte{0x42}, 16))
	ns := func(d time.Duration) uint64 { return uint64(f.start.Add(d).UnixNano()) }
	f.req = &ingestv1.ExportRequest{
		BatchId: bytes.Repeat([]byte{7}, 16),
		Function: &ingestv1.FunctionIdentity{
			AccountId: "123456789012", Region: "eu-west-1", Name: function, Version: "$LATEST",
			Architecture: "arm64", MemoryMb: 512, Runtime: "AWS_Lambda_provided.al2023",
			LogStream: "2026/03/14/[$LATEST]abc", InitializationType: "on-demand",
			ServiceName: "orders-svc", EphemeralStorageMb: 1024,
		},
		Invocations: []*ingestv1.Invocation{{
			RequestId: f.requestID, StartTimeUnixNano: ns(0), DurationMs: 123.25, BilledDurationMs: 124,
			MemorySizeMb: 512, MaxMemoryUsedMb: 87, ColdStart: true, InitDurationMs: 250.5,
			Status: "error", ErrorType: "Runtime.Unknown", TraceId: f.traceID[:], SpanId: f.rootID[:],
			XrayTraceHeader: "Root=1-5e1b4151-5ac6c58f", ResponseLatencyMs: 1.5, ResponseDurationMs: 0.25,
			RuntimeOverheadMs: 0.75, ProducedBytes: 42, BilledInitDurationMs: 251,
		}},
		ResourceSpans: []*tracepb.ResourceSpans{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
				strAttr("service.name", "checkout"), strAttr("cloud.provider", "aws"),
			}},
			ScopeSpans: []*tracepb.ScopeSpans{{
				Scope: &commonpb.InstrumentationScope{Name: "lambda-handler", Version: "1.2.3"},
				Spans: []*tracepb.Span{
					{
						TraceId: f.traceID[:], SpanId: f.childID[:], ParentSpanId: f.rootID[:],
						Name: "SELECT orders", Kind: tracepb.Span_SPAN_KIND_CLIENT,
						StartTimeUnixNano: ns(10 * time.Millisecond), EndTimeUnixNano: ns(30 * time.Millisecond),
						Attributes: []*commonpb.KeyValue{strAttr("db.system", "postgresql"), intAttr("db.rows", 3)},
						Status:     &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "deadlock"},
						Events: []*tracepb.Span_Event{{
							TimeUnixNano: ns(20 * time.Millisecond), Name: "exception",
							Attributes: []*commonpb.KeyValue{strAttr("exception.type", "DeadlockError")},
						}},
						Links: []*tracepb.Span_Link{{
							TraceId: f.linkTraceID[:], SpanId: f.rootID[:],
							Attributes: []*commonpb.KeyValue{strAttr("link.kind", "follows")},
						}},
					},
					{
						TraceId: f.traceID[:], SpanId: f.rootID[:], TraceState: "vendor=1",
						Name: "handler", Kind: tracepb.Span_SPAN_KIND_SERVER,
						StartTimeUnixNano: ns(0), EndTimeUnixNano: ns(123 * time.Millisecond),
						Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", f.requestID)},
					},
				},
			}},
		}},
		ResourceLogs: []*logspb.ResourceLogs{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", "checkout")}},
			ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{
				TimeUnixNano: ns(5 * time.Millisecond), SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_ERROR,
				SeverityText: "ERROR", Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "boom"}},
				TraceId: f.traceID[:], SpanId: f.rootID[:],
				Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", f.requestID), strAttr("lambdascope.log.type", "function")},
			}}}},
		}},
	}
	return f
}

func TestWriteExportRoundTrip(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	f := newFixture(t, "orders")

	counts, err := s.WriteExport(ctx, f.req)
	if err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	if want := (WriteCounts{Spans: 2, Logs: 1, Invocations: 1}); counts != want {
		t.Errorf("WriteExport counts = %+v, want %+v", counts, want)
	}

	spans, err := s.SpansByTraceID(ctx, f.traceID)
	if err != nil {
		t.Fatalf("SpansByTraceID: %v", err)
	}
	if len(spans) != 2 {
		t.Fatalf("SpansByTraceID returned %d spans, want 2", len(spans))
	}
	root, child := spans[0], spans[1] // ordered by start: the root starts first
	t.Run("root span", func(t *testing.T) {
		checks := []struct {
			name      string
			got, want any
		}{
			{"trace id", root.TraceID, f.traceID},
			{"span id", root.SpanID, f.rootID},
			{"parent", root.ParentSpanID, [8]byte{}},
			{"trace state", root.TraceState, "vendor=1"},
			{"start", root.Start, f.start},
			{"duration", root.Duration, 123 * time.Millisecond},
			{"name", root.Name, "handler"},
			{"kind", root.Kind, int32(tracepb.Span_SPAN_KIND_SERVER)},
			{"status", root.StatusCode, int32(0)},
			{"service", root.ServiceName, "checkout"},
			{"function", root.FunctionName, "orders"},
			{"version", root.FunctionVersion, "$LATEST"},
			{"account", root.AccountID, "123456789012"},
			{"region", root.Region, "eu-west-1"},
			{"request id", root.RequestID, f.requestID},
			{"events", len(root.Events), 0},
			{"links", len(root.Links), 0},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
		if want := map[string]string{"service.name": "checkout", "cloud.provider": "aws"}; !maps.Equal(root.ResourceAttributes, want) {
			t.Errorf("resource attributes = %v, want %v", root.ResourceAttributes, want)
		}
	})
	t.Run("child span", func(t *testing.T) {
		checks := []struct {
			name      string
			got, want any
		}{
			{"span id", child.SpanID, f.childID},
			{"parent", child.ParentSpanID, f.rootID},
			{"start", child.Start, f.start.Add(10 * time.Millisecond)},
			{"duration", child.Duration, 20 * time.Millisecond},
			{"kind", child.Kind, int32(tracepb.Span_SPAN_KIND_CLIENT)},
			{"status", child.StatusCode, int32(tracepb.Status_STATUS_CODE_ERROR)},
			{"status message", child.StatusMessage, "deadlock"},
			{"request id", child.RequestID, ""},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
		if want := map[string]string{"db.system": "postgresql", "db.rows": "3"}; !maps.Equal(child.Attributes, want) {
			t.Errorf("attributes = %v, want %v", child.Attributes, want)
		}
		if len(child.Events) != 1 {
			t.Fatalf("events = %+v, want 1", child.Events)
		}
		ev := child.Events[0]
		if ev.Name != "exception" || !ev.Time.Equal(f.start.Add(20*time.Millisecond)) ||
			!maps.Equal(ev.Attributes, map[string]string{"exception.type": "DeadlockError"}) {
			t.Errorf("event = %+v", ev)
		}
		if len(child.Links) != 1 {
			t.Fatalf("links = %+v, want 1", child.Links)
		}
		l := child.Links[0]
		if l.TraceID != f.linkTraceID || l.SpanID != f.rootID || !maps.Equal(l.Attributes, map[string]string{"link.kind": "follows"}) {
			t.Errorf("link = %+v", l)
		}
	})

	invs, err := s.Invocations(ctx, InvocationFilter{FunctionName: "orders"})
	if err != nil {
		t.Fatalf("Invocations: %v", err)
	}
	if len(invs) != 1 {
		t.Fatalf("Invocations returned %d, want 1", len(invs))
	}
	want := InvocationRecord{Start: f.start, Invocation: dbmodel.Invocation{
		StartUnixNano: uint64(f.start.UnixNano()),
		AccountID:     "123456789012", Region: "eu-west-1", FunctionName: "orders", FunctionVersion: "$LATEST",
		ServiceName: "orders-svc", Architecture: "arm64", Runtime: "AWS_Lambda_provided.al2023",
		InitializationType: "on-demand", LogStream: "2026/03/14/[$LATEST]abc", RequestID: f.requestID,
		MemorySizeMB: 512, MaxMemoryUsedMB: 87, EphemeralStorageMB: 1024,
		DurationMs: 123.25, BilledDurationMs: 124, BilledInitDurationMs: 251, InitDurationMs: 250.5,
		ColdStart: true, Status: "error", ErrorType: "Runtime.Unknown", TraceID: f.traceID, SpanID: f.rootID,
		XRayTraceHeader: "Root=1-5e1b4151-5ac6c58f", ResponseLatencyMs: 1.5, ResponseDurationMs: 0.25,
		RuntimeOverheadMs: 0.75, ProducedBytes: 42,
	}}
	if got := invs[0]; got != want {
		t.Errorf("invocation =\n%+v\nwant\n%+v", got, want)
	}

	var logBody, logType, logRequestID string
	var logTraceID string
	err = s.conn.QueryRow(ctx, "SELECT body, log_type, request_id, trace_id FROM "+s.Database()+".logs").
		Scan(&logBody, &logType, &logRequestID, &logTraceID)
	if err != nil {
		t.Fatalf("read log row: %v", err)
	}
	if logBody != "boom" || logType != "function" || logRequestID != f.requestID || logTraceID != string(f.traceID[:]) {
		t.Errorf("log row = (%q, %q, %q, %x)", logBody, logType, logRequestID, logTraceID)
	}
}

func TestWriteExportRejectsBadSpan(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	f := newFixture(t, "rejects")
	bad := []*tracepb.Span{
		{TraceId: f.traceID[:15], SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "short trace id"},
		{TraceId: f.traceID[:], SpanId: []byte{1, 2, 3}, Name: "short span id"},
	}
	ss := f.req.ResourceSpans[0].ScopeSpans[0]
	ss.Spans = append(bad, ss.Spans...)

	counts, err := s.WriteExport(ctx, f.req)
	if err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	if want := (WriteCounts{Spans: 2, Logs: 1, Invocations: 1, Rejected: 2}); counts != want {
		t.Errorf("WriteExport counts = %+v, want %+v", counts, want)
	}
	spans, err := s.SpansByTraceID(ctx, f.traceID)
	if err != nil {
		t.Fatalf("SpansByTraceID: %v", err)
	}
	var names []string
	for _, sp := range spans {
		names = append(names, sp.Name)
	}
	if len(names) != 2 || names[0] != "handler" || names[1] != "SELECT orders" {
		t.Errorf("stored spans = %q, want the two valid ones", names)
	}
}
