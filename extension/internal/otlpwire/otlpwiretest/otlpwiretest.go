// Package otlpwiretest builds the OTLP requests the extension's benchmarks
// feed it: what bench/extension's function sends.
package otlpwiretest

import (
	"crypto/rand"
	"fmt"
	"strconv"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TraceRequest is the protobuf body of an OTLP trace export holding one
// trace of n DynamoDB client spans with a few attributes each, random IDs
// and consecutive microsecond-long times. With invocationID set, the first
// span is the SERVER span of that invocation (faas.invocation_id).
func TraceRequest(n int, invocationID string) ([]byte, error) {
	traceID := make([]byte, 16)
	_, _ = rand.Read(traceID)
	const start = 1_700_000_000_000_000_000
	spans := make([]*tracepb.Span, n)
	for i := range spans {
		id := make([]byte, 8)
		_, _ = rand.Read(id)
		spans[i] = &tracepb.Span{
			TraceId: traceID, SpanId: id, Name: "db.query " + strconv.Itoa(i),
			Kind:              tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: start + uint64(i)*1000,
			EndTimeUnixNano:   start + uint64(i+1)*1000,
			Attributes:        []*commonpb.KeyValue{str("db.system", "dynamodb"), str("db.operation", "GetItem"), str("aws.dynamodb.table_names", "orders")},
		}
	}
	if invocationID != "" && n > 0 {
		spans[0].Kind = tracepb.Span_SPAN_KIND_SERVER
		spans[0].Attributes = append(spans[0].Attributes, str("faas.invocation_id", invocationID))
	}
	data, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "bench"), str("cloud.provider", "aws")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}})
	if err != nil {
		return nil, fmt.Errorf("encode %d spans: %w", n, err)
	}
	return data, nil
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}
