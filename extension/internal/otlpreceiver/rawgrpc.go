package otlpreceiver

import (
	"context"
	"fmt"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"

	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
)

// rawTraceRequest is an OTLP/gRPC trace request read by otlpwire instead
// of decoded.
type rawTraceRequest struct {
	traces *otlpwire.Traces
}

// rawCodec is the gRPC server's codec: protobuf as usual, counting
// requests that do not decode, except that trace requests of
// rawTraceServiceDesc are read by otlpwire.
type rawCodec struct {
	encoding.CodecV2
	r *Receiver
}

func newRawCodec(r *Receiver) rawCodec {
	return rawCodec{CodecV2: encoding.GetCodecV2(proto.Name), r: r}
}

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	req, ok := v.(*rawTraceRequest)
	if !ok {
		if err := c.CodecV2.Unmarshal(data, v); err != nil {
			c.r.malformed.Add(1)
			return err
		}
		return nil
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	// ScanTraces copies what it keeps, so the buffer can be freed.
	traces, err := otlpwire.ScanTraces(buf.ReadOnlyData())
	if err != nil {
		c.r.malformed.Add(1)
		return fmt.Errorf("%w: %w", ErrBadBody, err)
	}
	req.traces = traces
	return nil
}

// rawTraceServiceDesc is the OTLP TraceService with requests read by
// otlpwire; srv is a traceService whose consumer is a RawSpansConsumer.
var rawTraceServiceDesc = grpc.ServiceDesc{
	ServiceName: coltracepb.TraceService_ServiceDesc.ServiceName,
	HandlerType: coltracepb.TraceService_ServiceDesc.HandlerType,
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := &rawTraceRequest{}
			if err := dec(in); err != nil {
				return nil, err
			}
			export := func(_ context.Context, req any) (any, error) {
				s := srv.(traceService)
				return traceResponse(s.raw.ConsumeRawSpans(req.(*rawTraceRequest).traces)), nil
			}
			if interceptor == nil {
				return export(ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: coltracepb.TraceService_Export_FullMethodName}
			return interceptor(ctx, in, info, export)
		},
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: coltracepb.TraceService_ServiceDesc.Metadata,
}
