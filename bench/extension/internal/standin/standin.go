// Package standin is the stand-in Ingest API the extension benchmarks
// ship to: it accepts every export over a real gRPC connection and counts
// what it received at the wire level, without decoding, so that it costs
// the machine the benchmarks measure on as little as a server can.
package standin

import (
	"context"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	// Registers the zstd compressor the extension sends with.
	_ "github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// PlatformScope is the instrumentation scope of the platform spans the
// extension adds (extension/internal/invocation.ScopeName); they are not
// counted as spans.
const PlatformScope = "lambdascope/telemetry"

// Collector counts the exports it accepted, the invocation records and
// the function's spans in them.
type Collector struct {
	Exports, Spans, Invocations atomic.Int64
	// Delay holds each answer this long after the request is counted, as
	// a collector that answers once the batch is stored (ClickHouse's
	// insert, the WAL's fsync) does.
	Delay time.Duration
}

// NewServer returns a gRPC server with the Ingest API of c registered.
func NewServer(c *Collector) *grpc.Server {
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{encoding.GetCodecV2(grpcproto.Name)}))
	srv.RegisterService(&ingestService, c)
	return srv
}

// rawRequest is an Ingest API request as it arrived (decompressed).
type rawRequest []byte

// rawCodec hands requests to the collector undecoded; responses are
// encoded as protobuf.
type rawCodec struct{ encoding.CodecV2 }

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(*rawRequest); ok {
		*r = data.Materialize()
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}

// ingestService is IngestService with Export taking the request undecoded.
var ingestService = grpc.ServiceDesc{
	ServiceName: ingestv1.IngestService_ServiceDesc.ServiceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler: func(srv any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req rawRequest
			if err := dec(&req); err != nil {
				return nil, err
			}
			c := srv.(*Collector)
			if err := c.Export(req); err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			if c.Delay > 0 {
				time.Sleep(c.Delay)
			}
			return &ingestv1.ExportResponse{}, nil
		},
	}},
	Metadata: ingestv1.IngestService_ServiceDesc.Metadata,
}

// Field numbers of the messages the collector counts.
const (
	exportInvocations   protowire.Number = 3 // ExportRequest.invocations
	exportResourceSpans protowire.Number = 4 // ExportRequest.resource_spans
	resourceScopeSpans  protowire.Number = 2 // ResourceSpans.scope_spans
	scopeSpansScope     protowire.Number = 1 // ScopeSpans.scope
	scopeSpansSpans     protowire.Number = 2 // ScopeSpans.spans
	scopeName           protowire.Number = 1 // InstrumentationScope.name
)

// Export counts the invocations and the function's spans of an encoded
// ExportRequest; the platform spans the extension adds for each
// invocation are not counted.
func (c *Collector) Export(req []byte) error {
	var invocations, spans int64
	err := eachField(req, func(num protowire.Number, v []byte) error {
		switch num {
		case exportInvocations:
			invocations++
		case exportResourceSpans:
			return eachField(v, func(num protowire.Number, v []byte) error {
				if num != resourceScopeSpans {
					return nil
				}
				var name string
				var n int64
				err := eachField(v, func(num protowire.Number, v []byte) error {
					switch num {
					case scopeSpansScope:
						return eachField(v, func(num protowire.Number, v []byte) error {
							if num == scopeName {
								name = string(v)
							}
							return nil
						})
					case scopeSpansSpans:
						n++
					}
					return nil
				})
				if name != PlatformScope {
					spans += n
				}
				return err
			})
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.Exports.Add(1)
	c.Invocations.Add(invocations)
	c.Spans.Add(spans)
	return nil
}

// eachField calls fn with every length-delimited field of an encoded
// message and skips the others.
func eachField(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}
