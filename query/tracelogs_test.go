package query_test

import (
	"slices"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
)

// The logs of a trace include the lines that carry no trace ID of their
// own but belong to one of the trace's invocations; a line of another
// trace or another invocation stays out.
func TestLogsOfATraceJoinThroughTheInvocation(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	svc := query.NewService(st)
	at := time.Now().Add(-2 * time.Minute).Truncate(time.Millisecond)
	trace := query.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	other := query.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c}
	line := func(ms int, traceID []byte, req, body string) *logspb.LogRecord {
		return &logspb.LogRecord{
			TimeUnixNano: uint64(at.Add(time.Duration(ms) * time.Millisecond).UnixNano()), TraceId: traceID,
			Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: body}},
			Attributes: []*commonpb.KeyValue{{Key: "faas.invocation_id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: req}}}},
		}
	}
	req := &ingestv1.ExportRequest{
		BatchId:  []byte("trace-logs-00001"),
		Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "mi", Version: "1"},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "r-in", StartTimeUnixNano: uint64(at.UnixNano()), DurationMs: 50, Status: "success", TraceId: trace[:]},
			{RequestId: "r-out", StartTimeUnixNano: uint64(at.UnixNano()), DurationMs: 50, Status: "success", TraceId: other[:]},
		},
		ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
			line(1, trace[:], "r-in", "with its trace"),
			line(2, nil, "r-in", "without a trace, same invocation"),
			line(3, nil, "r-out", "without a trace, other invocation"),
			line(4, other[:], "r-in", "another trace"),
			line(5, nil, "", "no trace, no request"),
		}}}}},
	}
	if _, err := st.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	lines, err := svc.Logs(t.Context(), query.LogQuery{TraceID: trace, Since: at.Add(-time.Minute), Until: at.Add(time.Minute)})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	var bodies []string
	for _, l := range lines {
		bodies = append(bodies, l.Body)
	}
	if want := []string{"without a trace, same invocation", "with its trace"}; !slices.Equal(bodies, want) {
		t.Errorf("logs of the trace = %q, want %q (newest first)", bodies, want)
	}
}
