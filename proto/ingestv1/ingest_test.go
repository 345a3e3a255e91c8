package ingestv1_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// The Ingest API embeds the real OTLP messages: a span survives a round
// trip through both the binary and the JSON encodings with its fields.
func TestExportRequestCarriesOTLPSpans(t *testing.T) {
	span := &tracepb.Span{
		TraceId: bytes.Repeat([]byte{1}, 16),
		SpanId:  bytes.Repeat([]byte{2}, 8),
		Name:    "GET /orders",
		Attributes: []*commonpb.KeyValue{{
			Key:   "http.method",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "GET"}},
		}},
	}
	req := &ingestv1.ExportRequest{
		BatchId:  bytes.Repeat([]byte{9}, 16),
		Function: &ingestv1.FunctionIdentity{Name: "orders", MemoryMb: 512},
		ResourceSpans: []*tracepb.ResourceSpans{{
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{span}}},
		}},
		Invocations: []*ingestv1.Invocation{{RequestId: "r-1", BilledDurationMs: 12}},
	}
	for name, codec := range map[string]struct {
		marshal   func(proto.Message) ([]byte, error)
		unmarshal func([]byte, proto.Message) error
	}{
		"binary": {proto.Marshal, proto.Unmarshal},
		"json":   {protojson.Marshal, protojson.Unmarshal},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := codec.marshal(req)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var got ingestv1.ExportRequest
			if err := codec.unmarshal(b, &got); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			if !proto.Equal(req, &got) {
				t.Fatalf("round trip changed the request:\nwant %v\ngot  %v", req, &got)
			}
			gotSpan := got.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()[0]
			if gotSpan.GetAttributes()[0].GetValue().GetStringValue() != "GET" {
				t.Fatalf("span attribute lost: %v", gotSpan)
			}
		})
	}
}
