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

// RequestCodec is the protobuf codec of the shipper's calls. An
// ExportRequest carries the function's spans as encoded resource_spans
// fields in its unknown fields (buffer.Batch); the codec hands them to
// gRPC as they are, after the request's other fields, instead of copying
// them into one encoding: the bytes on the wire are those of
// proto.Marshal, and the batch's spans are read once, by the compressor.
// Other messages go to gRPC's protobuf codec.
type RequestCodec struct{}

var _ encoding.CodecV2 = RequestCodec{}

// protoCodec is gRPC's protobuf codec.
var protoCodec = encoding.GetCodecV2(grpcproto.Name)

// Name is the protobuf codec's name, so the content type is unchanged.
func (RequestCodec) Name() string { return grpcproto.Name }

// Marshal encodes v: an ExportRequest as its known fields followed by its
// unknown fields, not copied.
func (RequestCodec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(*ingestv1.ExportRequest)
	if !ok {
		return protoCodec.Marshal(v)
	}
	src := req.ProtoReflect()
	raw := src.GetUnknown()
	if len(raw) == 0 {
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
	return mem.BufferSlice{mem.SliceBuffer(b), mem.SliceBuffer(raw)}, nil
}

// Unmarshal decodes with gRPC's protobuf codec.
func (RequestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return protoCodec.Unmarshal(data, v)
}
