package shipper

import (
	"bytes"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// TestRequestCodecBytes: the codec's chunks put together are the bytes
// proto.Marshal gives for the request, its encoded resource spans are not
// copied, and the request keeps them.
func TestRequestCodecBytes(t *testing.T) {
	rs, err := proto.Marshal(&tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "a", TraceId: bytes.Repeat([]byte{1}, 16)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	field := protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), rs)
	withRaw := func(req *ingestv1.ExportRequest, raw []byte) *ingestv1.ExportRequest {
		req.ProtoReflect().SetUnknown(raw)
		return req
	}
	tests := []struct {
		name   string
		req    *ingestv1.ExportRequest
		chunks int
	}{
		{"no encoded spans", &ingestv1.ExportRequest{BatchId: []byte("0123456789abcdef"), Invocations: []*ingestv1.Invocation{{RequestId: "r1"}}}, 1},
		{"only encoded spans", withRaw(&ingestv1.ExportRequest{}, field), 2},
		{"fields and encoded spans", withRaw(&ingestv1.ExportRequest{
			BatchId:          []byte("0123456789abcdef"),
			SentTimeUnixNano: 42,
			Function:         &ingestv1.FunctionIdentity{Name: "checkout"},
			Invocations:      []*ingestv1.Invocation{{RequestId: "r1"}, {RequestId: "r2"}},
		}, append(append([]byte(nil), field...), field...)), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := proto.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			data, err := RequestCodec{}.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != tt.chunks {
				t.Errorf("%d chunks, want %d", len(data), tt.chunks)
			}
			if got := data.Materialize(); !bytes.Equal(got, want) {
				t.Errorf("encoded %x\nwant    %x", got, want)
			}
			raw := tt.req.ProtoReflect().GetUnknown()
			if len(raw) > 0 {
				last := data[len(data)-1].ReadOnlyData()
				if &last[0] != &raw[0] {
					t.Error("the encoded resource spans were copied")
				}
			}
			if again, _ := proto.Marshal(tt.req); !bytes.Equal(again, want) {
				t.Error("encoding changed the request")
			}
		})
	}
}
