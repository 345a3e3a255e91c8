package dbmodel

import (
	"fmt"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// logsRequest is a batch of n function log lines of one invocation, the
// shape the extension sends.
func logsRequest(n int) *ingestv1.ExportRequest {
	records := make([]*logspb.LogRecord, n)
	for i := range records {
		records[i] = &logspb.LogRecord{
			TimeUnixNano: uint64(1_700_000_000_000_000_000 + i), ObservedTimeUnixNano: uint64(1_700_000_000_000_000_100 + i),
			SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_INFO, SeverityText: "INFO",
			Body:    str(fmt.Sprintf("handled item %d of the order in 12 ms", i)),
			TraceId: traceID, SpanId: spanID,
			Attributes: []*commonpb.KeyValue{
				kv(AttrInvocationID, str("8f5e0c1a-req")), kv(AttrLogType, str(LogTypeFunction)), kv("code.lineno", str("42")),
			},
		}
	}
	return &ingestv1.ExportRequest{
		Function:         &ingestv1.FunctionIdentity{Name: "orders", Version: "$LATEST", AccountId: "123456789012", Region: "eu-west-1"},
		SentTimeUnixNano: 1_700_000_001_000_000_000,
		ResourceLogs: []*logspb.ResourceLogs{{
			Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv(AttrServiceName, str("orders")), kv("cloud.provider", str("aws"))}},
			ScopeLogs: []*logspb.ScopeLogs{{LogRecords: records}},
		}},
	}
}

// BenchmarkLogs builds the logs of a 1,000-record request as rows (the
// FromExport path) and as reused columns (the writer's path).
func BenchmarkLogs(b *testing.B) {
	req := logsRequest(1000)
	b.Run("rows", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if n := len(FromExport(req).Logs); n != 1000 {
				b.Fatalf("%d logs", n)
			}
		}
	})
	b.Run("columns", func(b *testing.B) {
		b.ReportAllocs()
		var c LogColumns
		for b.Loop() {
			c.Reset()
			c.AppendExport(req)
			if n := c.Len(); n != 1000 {
				b.Fatalf("%d logs", n)
			}
		}
	})
}
