package otlpwire

import (
	"crypto/rand"
	"strconv"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// BenchmarkScanTraces reads a request of 1,000 spans with a few attributes
// each, as bench/extension's function sends; its root span names the
// invocation.
func BenchmarkScanTraces(b *testing.B) {
	traceID := make([]byte, 16)
	_, _ = rand.Read(traceID)
	spans := make([]*tracepb.Span, 1000)
	for i := range spans {
		id := make([]byte, 8)
		_, _ = rand.Read(id)
		spans[i] = &tracepb.Span{
			TraceId: traceID, SpanId: id, Name: "db.query " + strconv.Itoa(i),
			Kind:              tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: 1_700_000_000_000_000_000 + uint64(i)*1000,
			EndTimeUnixNano:   1_700_000_000_000_000_000 + uint64(i+1)*1000,
			Attributes:        []*commonpb.KeyValue{str("db.system", "dynamodb"), str("db.operation", "GetItem"), str("aws.dynamodb.table_names", "orders")},
		}
	}
	spans[0].Kind = tracepb.Span_SPAN_KIND_SERVER
	spans[0].Attributes = append(spans[0].Attributes, str(AttrInvocationID, "req-1"))
	data, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "bench")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		t, err := ScanTraces(data)
		if err != nil {
			b.Fatal(err)
		}
		if t.SpanCount() != 1000 || len(t.Invocations) != 1 {
			b.Fatalf("%d spans, %d invocation spans", t.SpanCount(), len(t.Invocations))
		}
	}
}
