package shipper

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// RequestCodec is the protobuf codec of the shipper's calls. A batch
// carries the function's spans as encoded resource_spans fields, apart
// from its request (buffer.Batch.Spans) or in the request's unknown fields
// (Batch.Message); the codec hands them to gRPC as they are, after the
// request's other fields, instead of copying them into one encoding: the
// bytes on the wire are those of proto.Marshal(batch.Message()), and the
// spans are read once, by the compressor. Other messages go to gRPC's
// protobuf codec.
type RequestCodec struct {
	// Spans follow an ExportRequest's fields and unknown fields.
	Spans [][]byte
}

var _ encoding.CodecV2 = RequestCodec{}

// protoCodec is gRPC's protobuf codec.
var protoCodec = encoding.GetCodecV2(grpcproto.Name)

// Name is the protobuf codec's name, so the content type is unchanged.
func (RequestCodec) Name() string { return grpcproto.Name }

// Marshal encodes v: an ExportRequest as its known fields, then its
// unknown fields and Spans, not copied.
func (c RequestCodec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(*ingestv1.ExportRequest)
	if !ok {
		return protoCodec.Marshal(v)
	}
	src := req.ProtoReflect()
	raw := src.GetUnknown()
	if len(raw) == 0 && len(c.Spans) == 0 {
		return protoCodec.Marshal(v)
	}
	// A shallow copy without the unknown fields: the request itself is
	// not changed, since the spool may read it meanwhile.
	head := &ingestv1.ExportRequest{}
	dst := head.ProtoReflect()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
	b, err := proto.Marshal(head)
	if err != nil {
		return nil, fmt.Errorf("encode export request: %w", err)
	}
	out := make(mem.BufferSlice, 0, 2+len(c.Spans))
	out = append(out, mem.SliceBuffer(b))
	if len(raw) > 0 {
		out = append(out, mem.SliceBuffer(raw))
	}
	for _, f := range c.Spans {
		out = append(out, mem.SliceBuffer(f))
	}
	return out, nil
}

// Unmarshal decodes with gRPC's protobuf codec.
func (RequestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return protoCodec.Unmarshal(data, v)
}
