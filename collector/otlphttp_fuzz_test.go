package collector

import (
	"bytes"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func FuzzDecodeOTLP(f *testing.F) {
	pb, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: make([]byte, 16), SpanId: make([]byte, 8), Name: "x"}}}},
	}}})
	f.Add(pb, false)
	// A span name that is not UTF-8: the span is left out, the rest kept.
	f.Add(bytes.Replace(pb, []byte{0x2a, 0x01, 'x'}, []byte{0x2a, 0x01, 0xff}, 1), false)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"x"}]}]}]}`), true)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":5}]}]}]}`), true)
	f.Add([]byte(`[[[[`), true)
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		ct := contentProtobuf
		if json {
			ct = contentJSON
		}
		var req coltracepb.ExportTraceServiceRequest
		if _, err := decodeOTLP(body, ct, &req); err != nil {
			return
		}
		// Whatever decodes must survive the rest of the path's pure steps.
		b := otlpBatchForFuzz(&req)
		_ = countItems(b)
		lim := attrLimiter{maxKey: 4, maxValue: 4}
		lim.apply(b)
		if _, err := proto.Marshal(b); err != nil {
			t.Fatalf("decoded request does not re-encode: %v", err)
		}
	})
}

func otlpBatchForFuzz(req *coltracepb.ExportTraceServiceRequest) *ingestv1.ExportRequest {
	b := otlpBatch()
	b.ResourceSpans = req.GetResourceSpans()
	return b
}
