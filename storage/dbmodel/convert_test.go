package dbmodel

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func str(v string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}
}

func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

func TestAttributeValue(t *testing.T) {
	tests := []struct {
		name string
		in   *commonpb.AnyValue
		want string
	}{
		{"nil", nil, ""},
		{"empty", &commonpb.AnyValue{}, ""},
		{"string", str("a'b\"c"), "a'b\"c"},
		{"bool", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}, "true"},
		{"int", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: -42}}, "-42"},
		{"double", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.5}}, "0.5"},
		{"bytes", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2}}}, "AAEC"},
		{"array", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
			str("x"), {Value: &commonpb.AnyValue_IntValue{IntValue: 7}}, {Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.NaN()}},
		}}}}, `["x",7,"NaN"]`},
		{"kvlist", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
			kv("b", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: false}}), kv("a", str("1")),
		}}}}, `{"a":"1","b":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AttributeValue(tt.in); got != tt.want {
				t.Errorf("AttributeValue = %q, want %q", got, tt.want)
			}
		})
	}
}

var (
	traceID = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	spanID  = []byte{1, 1, 1, 1, 1, 1, 1, 1}
)

func spansRequest(fn *ingestv1.FunctionIdentity, res []*commonpb.KeyValue, spans ...*tracepb.Span) *ingestv1.ExportRequest {
	return &ingestv1.ExportRequest{
		Function: fn,
		ResourceSpans: []*tracepb.ResourceSpans{{
			Resource:   &resourcepb.Resource{Attributes: res},
			ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "s", Version: "v"}, Spans: spans}},
		}},
	}
}

func TestFromExportSpanValidation(t *testing.T) {
	tests := []struct {
		name        string
		span        *tracepb.Span
		wantProblem string // "" = accepted
	}{
		{"valid root", &tracepb.Span{TraceId: traceID, SpanId: spanID}, ""},
		{"valid child", &tracepb.Span{TraceId: traceID, SpanId: spanID, ParentSpanId: []byte{2, 2, 2, 2, 2, 2, 2, 2}}, ""},
		{"missing trace id", &tracepb.Span{SpanId: spanID}, "trace_id has 0 bytes"},
		{"long trace id", &tracepb.Span{TraceId: append(slices.Clone(traceID), 0), SpanId: spanID}, "trace_id has 17 bytes"},
		{"zero trace id", &tracepb.Span{TraceId: make([]byte, 16), SpanId: spanID}, "trace_id is all zeros"},
		{"short span id", &tracepb.Span{TraceId: traceID, SpanId: spanID[:4]}, "span_id has 4 bytes"},
		{"zero span id", &tracepb.Span{TraceId: traceID, SpanId: make([]byte, 8)}, "span_id is all zeros"},
		{"bad parent", &tracepb.Span{TraceId: traceID, SpanId: spanID, ParentSpanId: []byte{1}}, "parent_span_id has 1 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := &tracepb.Span{TraceId: traceID, SpanId: []byte{9, 9, 9, 9, 9, 9, 9, 9}, Name: "kept"}
			b := FromExport(spansRequest(nil, nil, tt.span, good))
			wantSpans, wantRejected := 2, 0
			if tt.wantProblem != "" {
				wantSpans, wantRejected = 1, 1
			}
			if len(b.Spans) != wantSpans || b.Rejected != wantRejected {
				t.Fatalf("spans=%d rejected=%d, want %d and %d", len(b.Spans), b.Rejected, wantSpans, wantRejected)
			}
			if tt.wantProblem != "" && (len(b.Problems) != 1 || !strings.Contains(b.Problems[0], tt.wantProblem)) {
				t.Errorf("problems = %q, want one mentioning %q", b.Problems, tt.wantProblem)
			}
			if last := b.Spans[len(b.Spans)-1]; last.Name != "kept" {
				t.Errorf("the valid span was lost: last span is %q", last.Name)
			}
		})
	}
}

func TestFromExportSpanFields(t *testing.T) {
	sp := &tracepb.Span{
		TraceId: traceID, SpanId: spanID, ParentSpanId: []byte{2, 2, 2, 2, 2, 2, 2, 2},
		Name: "GET /", Kind: tracepb.Span_SPAN_KIND_SERVER, TraceState: "a=b",
		StartTimeUnixNano: 1_000, EndTimeUnixNano: 4_500,
		Status:     &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "bad"},
		Attributes: []*commonpb.KeyValue{kv(AttrInvocationID, str("req-1")), kv("http.status", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 500}})},
		Events:     []*tracepb.Span_Event{{TimeUnixNano: 2_000, Name: "retry", Attributes: []*commonpb.KeyValue{kv("n", str("1"))}}},
		Links:      []*tracepb.Span_Link{{TraceId: traceID, SpanId: []byte{3, 3, 3, 3, 3, 3, 3, 3}}, {TraceId: []byte{1}, SpanId: spanID}},
	}
	b := FromExport(spansRequest(&ingestv1.FunctionIdentity{Name: "fn", Version: "7", AccountId: "111", Region: "r"},
		[]*commonpb.KeyValue{kv(AttrServiceName, str("svc"))}, sp))
	if len(b.Spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(b.Spans))
	}
	got := b.Spans[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"trace id", got.TraceID[:], traceID},
		{"parent", got.ParentSpanID, [8]byte{2, 2, 2, 2, 2, 2, 2, 2}},
		{"duration", got.DurationNs, uint64(3_500)},
		{"kind", got.Kind, uint8(tracepb.Span_SPAN_KIND_SERVER)},
		{"status", got.StatusCode, uint8(2)},
		{"status message", got.StatusMessage, "bad"},
		{"service", got.ServiceName, "svc"},
		{"function", got.FunctionName, "fn"},
		{"version", got.FunctionVersion, "7"},
		{"account", got.AccountID, "111"},
		{"region", got.Region, "r"},
		{"request id", got.RequestID, "req-1"},
		{"scope", got.ScopeName + "@" + got.ScopeVersion, "s@v"},
		{"event names", got.EventNames, []string{"retry"}},
		{"event times", got.EventTimes, []uint64{2_000}},
		{"event attributes", got.EventAttributes, []string{`{"n":"1"}`}},
		{"link span ids", got.LinkSpanIDs, [][8]byte{{3, 3, 3, 3, 3, 3, 3, 3}, {1, 1, 1, 1, 1, 1, 1, 1}}},
		{"malformed link trace id zeroed", got.LinkTraceIDs[1], [16]byte{}},
		{"link attributes", got.LinkAttributes, []string{"{}", "{}"}},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// faas.invocation_id lives in RequestID, not twice.
	if want := map[string]string{"http.status": "500"}; !maps.Equal(got.Attributes.Map(), want) || got.RequestID != "req-1" {
		t.Errorf("attributes = %v, request id %q; want %v and req-1", got.Attributes.Map(), got.RequestID, want)
	}
}

// equal compares the value kinds the tables above use.
func equal(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		return slices.Equal(x, b.([]byte))
	case []string:
		return slices.Equal(x, b.([]string))
	case []uint64:
		return slices.Equal(x, b.([]uint64))
	case [][8]byte:
		return slices.Equal(x, b.([][8]byte))
	default:
		return a == b
	}
}

func TestFromExportServiceName(t *testing.T) {
	tests := []struct {
		name string
		fn   *ingestv1.FunctionIdentity
		res  []*commonpb.KeyValue
		want string
	}{
		{"resource wins", &ingestv1.FunctionIdentity{Name: "fn", ServiceName: "id-svc"}, []*commonpb.KeyValue{kv(AttrServiceName, str("res-svc"))}, "res-svc"},
		{"identity service", &ingestv1.FunctionIdentity{Name: "fn", ServiceName: "id-svc"}, nil, "id-svc"},
		{"function name", &ingestv1.FunctionIdentity{Name: "fn"}, nil, "fn"},
		{"no identity, faas.name", nil, []*commonpb.KeyValue{kv("faas.name", str("from-res"))}, "from-res"},
		{"nothing", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := FromExport(spansRequest(tt.fn, tt.res, &tracepb.Span{TraceId: traceID, SpanId: spanID}))
			if len(b.Spans) != 1 || b.Spans[0].ServiceName != tt.want {
				t.Errorf("service name = %+v, want %q", b.Spans, tt.want)
			}
		})
	}
}

func TestFromExportLogs(t *testing.T) {
	tests := []struct {
		name                    string
		record                  *logspb.LogRecord
		resource                []*commonpb.KeyValue
		wantTime                uint64
		wantRequestID, wantType string
		wantTraceID             [16]byte
	}{
		{"time and request id", &logspb.LogRecord{TimeUnixNano: 10, ObservedTimeUnixNano: 20,
			Attributes: []*commonpb.KeyValue{kv("requestId", str("r1")), kv(AttrLogType, str("platform"))}, TraceId: traceID},
			nil, 10, "r1", LogTypePlatform, [16]byte(traceID)},
		{"observed time fallback", &logspb.LogRecord{ObservedTimeUnixNano: 20}, nil, 20, "", LogTypeOTLP, [16]byte{}},
		{"sent time fallback, type from resource", &logspb.LogRecord{}, []*commonpb.KeyValue{kv(AttrLogType, str("extension"))}, 99, "", LogTypeExtension, [16]byte{}},
		{"unknown type, malformed trace id", &logspb.LogRecord{TimeUnixNano: 1, TraceId: []byte{1, 2},
			Attributes: []*commonpb.KeyValue{kv(AttrLogType, str("bogus")), kv(AttrInvocationID, str("r2")), kv("requestId", str("r3"))}},
			nil, 1, "r2", LogTypeOTLP, [16]byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &ingestv1.ExportRequest{
				SentTimeUnixNano: 99,
				Function:         &ingestv1.FunctionIdentity{Name: "fn"},
				ResourceLogs: []*logspb.ResourceLogs{{
					Resource:  &resourcepb.Resource{Attributes: tt.resource},
					ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{tt.record}}},
				}},
			}
			b := FromExport(req)
			if len(b.Logs) != 1 {
				t.Fatalf("got %d logs, want 1", len(b.Logs))
			}
			l := b.Logs[0]
			if l.TimeUnixNano != tt.wantTime || l.RequestID != tt.wantRequestID || l.LogType != tt.wantType ||
				l.TraceID != tt.wantTraceID || l.FunctionName != "fn" || l.ServiceName != "fn" {
				t.Errorf("log row = %+v", l)
			}
		})
	}
}

func TestFromExportInvocations(t *testing.T) {
	req := &ingestv1.ExportRequest{
		SentTimeUnixNano: 5_000,
		Function:         &ingestv1.FunctionIdentity{Name: "fn", MemoryMb: 256, EphemeralStorageMb: 512, Architecture: "x86_64"},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "a", StartTimeUnixNano: 1_000, MemorySizeMb: 1024, ColdStart: true, TraceId: traceID, SpanId: spanID},
			{RequestId: "b", TraceId: []byte{1, 2, 3}},
		},
		ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
			{Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: make([]*metricspb.NumberDataPoint, 3)}}},
			{Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: make([]*metricspb.NumberDataPoint, 2)}}},
		}}}}},
	}
	b := FromExport(req)
	if len(b.Invocations) != 2 {
		t.Fatalf("got %d invocations, want 2", len(b.Invocations))
	}
	a, second := b.Invocations[0], b.Invocations[1]
	if a.MemorySizeMB != 1024 || !a.ColdStart || a.StartUnixNano != 1_000 || a.TraceID != [16]byte(traceID) ||
		a.SpanID != [8]byte(spanID) || a.ServiceName != "fn" || a.EphemeralStorageMB != 512 || a.Architecture != "x86_64" {
		t.Errorf("first invocation = %+v", a)
	}
	if second.MemorySizeMB != 256 || second.StartUnixNano != 5_000 || second.TraceID != ([16]byte{}) {
		t.Errorf("second invocation (fallbacks) = %+v", second)
	}
	if len(b.Metrics) != 5 || b.Metrics[0].TimeUnixNano != 5_000 || b.Metrics[3].Type != MetricTypeSum {
		t.Errorf("Metrics = %+v, want 5 points stamped with the sent time", b.Metrics)
	}
}

func TestFromExportProblemsBounded(t *testing.T) {
	var spans []*tracepb.Span
	for range maxProblems + 5 {
		spans = append(spans, &tracepb.Span{})
	}
	b := FromExport(spansRequest(nil, nil, spans...))
	if b.Rejected != maxProblems+5 || len(b.Problems) != maxProblems {
		t.Errorf("rejected=%d problems=%d, want %d and %d", b.Rejected, len(b.Problems), maxProblems+5, maxProblems)
	}
}

func TestParseAttributesJSON(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{`{"a":"1"}`, map[string]string{"a": "1"}},
		{"", map[string]string{}},
		{"not json", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ParseAttributesJSON(tt.in); !maps.Equal(got, tt.want) {
				t.Errorf("ParseAttributesJSON(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFromExportEmpty(t *testing.T) {
	tests := []struct {
		name string
		req  *ingestv1.ExportRequest
	}{
		{"nil", nil},
		{"empty", &ingestv1.ExportRequest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := FromExport(tt.req)
			if len(b.Spans)+len(b.Logs)+len(b.Invocations)+b.Rejected+len(b.Metrics) != 0 {
				t.Errorf("FromExport = %+v, want nothing", b)
			}
		})
	}
}
