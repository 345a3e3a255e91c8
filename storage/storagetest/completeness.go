package storagetest

import (
	"fmt"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// CompletenessExport is what one function's extension shipped for one
// invocation at at: its record with the counts given (none: an extension
// that does not count), and the spans and log lines that reached the
// collector, the first at at and one more nanosecond each.
func CompletenessExport(fn, req string, at time.Time, counts *ingestv1.TelemetryCounts, spans, logs int) *ingestv1.ExportRequest {
	ns := uint64(at.UnixNano())
	out := &ingestv1.ExportRequest{
		BatchId:  []byte(fmt.Sprintf("%-16.16s", req)),
		Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: fn, Version: "1", Architecture: "arm64", MemoryMb: 256},
		Invocations: []*ingestv1.Invocation{{
			RequestId: req, StartTimeUnixNano: ns, DurationMs: 20, BilledDurationMs: 20, MemorySizeMb: 256,
			Status: "success", Telemetry: counts,
		}},
		SentTimeUnixNano: ns,
	}
	var ss []*tracepb.Span
	for i := range spans {
		tid := make([]byte, 16)
		copy(tid, req)
		tid[15] = byte(i + 1)
		ss = append(ss, &tracepb.Span{TraceId: tid, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, byte(i + 1)}, Name: "work",
			StartTimeUnixNano: ns + uint64(i), EndTimeUnixNano: ns + 1000})
	}
	if len(ss) > 0 {
		out.ResourceSpans = []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: ss}}}}
	}
	var ls []*logspb.LogRecord
	for i := range logs {
		ls = append(ls, &logspb.LogRecord{TimeUnixNano: ns + uint64(i)})
	}
	if len(ls) > 0 {
		out.ResourceLogs = []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: ls}}}}
	}
	return out
}
