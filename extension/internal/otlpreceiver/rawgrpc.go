package otlpreceiver

import (
	"context"
	"fmt"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"

	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
)

// The OTLP/gRPC services are declared here rather than taken from the
// generated collector packages (go.opentelemetry.io/proto/otlp/collector/...):
// those pull grpc-gateway and more descriptors into the binary, whose
// initialisation the extension would pay at every cold start. The names are
// fixed by the OTLP specification; each Export request has the same field
// numbers as TracesData, LogsData and MetricsData, and the three responses
// share one shape (exportResponse).

// signal is one of the three OTLP signals.
type signal int

const (
	signalTraces signal = iota
	signalLogs
	signalMetrics
)

// service is the signal's full gRPC service name.
func (s signal) service() string {
	switch s {
	case signalLogs:
		return "opentelemetry.proto.collector.logs.v1.LogsService"
	case signalMetrics:
		return "opentelemetry.proto.collector.metrics.v1.MetricsService"
	}
	return "opentelemetry.proto.collector.trace.v1.TraceService"
}

// protoFile is the .proto file declaring the signal's service.
func (s signal) protoFile() string {
	switch s {
	case signalLogs:
		return "opentelemetry/proto/collector/logs/v1/logs_service.proto"
	case signalMetrics:
		return "opentelemetry/proto/collector/metrics/v1/metrics_service.proto"
	}
	return "opentelemetry/proto/collector/trace/v1/trace_service.proto"
}

// rejectedJSON is the JSON name of the partial success's count.
func (s signal) rejectedJSON() string {
	switch s {
	case signalLogs:
		return "rejectedLogRecords"
	case signalMetrics:
		return "rejectedDataPoints"
	}
	return "rejectedSpans"
}

// exportMethod is the one method of each OTLP service.
const exportMethod = "Export"

// rawTraceRequest is an OTLP/gRPC trace request read by otlpwire instead
// of decoded.
type rawTraceRequest struct {
	traces *otlpwire.Traces
}

// rawCodec is the gRPC server's codec: protobuf as usual, counting
// requests that do not decode, except that trace requests are read by
// otlpwire when the consumer takes encoded spans, and responses are
// encoded by exportResponse.
type rawCodec struct {
	encoding.CodecV2
	r *Receiver
}

func newRawCodec(r *Receiver) rawCodec {
	return rawCodec{CodecV2: encoding.GetCodecV2(proto.Name), r: r}
}

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if resp, ok := v.(*exportResponse); ok {
		return mem.BufferSlice{mem.SliceBuffer(resp.appendProto(nil))}, nil
	}
	return c.CodecV2.Marshal(v)
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

// exporter is what the OTLP service descriptions dispatch to.
type exporter interface {
	// request returns an empty request of the signal to decode into.
	request(signal) any
	// export hands a decoded request to the consumer and returns how many
	// items it rejected.
	export(req any) (rejected int)
}

// grpcExporter is the receiver's exporter; raw is set when trace requests
// are read by otlpwire and go to a RawSpansConsumer.
type grpcExporter struct {
	r   *Receiver
	raw RawSpansConsumer
}

var _ exporter = grpcExporter{}

func (e grpcExporter) request(s signal) any {
	switch s {
	case signalLogs:
		return &logspb.LogsData{}
	case signalMetrics:
		return &metricspb.MetricsData{}
	}
	if e.raw != nil {
		return &rawTraceRequest{}
	}
	return &tracepb.TracesData{}
}

func (e grpcExporter) export(req any) int {
	switch m := req.(type) {
	case *rawTraceRequest:
		return e.raw.ConsumeRawSpans(m.traces)
	case *tracepb.TracesData:
		return e.r.consumer.ConsumeSpans(m.GetResourceSpans())
	case *logspb.LogsData:
		return e.r.consumer.ConsumeLogs(m.GetResourceLogs())
	case *metricspb.MetricsData:
		return e.r.consumer.ConsumeMetrics(m.GetResourceMetrics())
	}
	return 0
}

// serviceDesc describes the OTLP service of signal s; its server is an
// exporter.
func serviceDesc(s signal) *grpc.ServiceDesc {
	fullMethod := "/" + s.service() + "/" + exportMethod
	return &grpc.ServiceDesc{
		ServiceName: s.service(),
		HandlerType: (*exporter)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: exportMethod,
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				e := srv.(exporter)
				in := e.request(s)
				if err := dec(in); err != nil {
					return nil, err
				}
				export := func(_ context.Context, req any) (any, error) {
					return &exportResponse{signal: s, rejected: e.export(req)}, nil
				}
				if interceptor == nil {
					return export(ctx, in)
				}
				info := &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}
				return interceptor(ctx, in, info, export)
			},
		}},
		Streams:  []grpc.StreamDesc{},
		Metadata: s.protoFile(),
	}
}
