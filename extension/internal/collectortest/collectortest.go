// Package collectortest is an in-process stand-in for the Lambdascope
// collector's Ingest API, for tests of the extension: it records every
// Export call (request, metadata, compression) and answers with scripted
// status codes.
package collectortest

import (
	"context"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	// Registers the zstd compressor the extension uses.
	_ "github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Call is one recorded Export call.
type Call struct {
	Request     *ingestv1.ExportRequest
	Metadata    metadata.MD
	Compression string
	// Code is what the server answered.
	Code codes.Code
}

// Server is a recording Ingest API server.
type Server struct {
	ingestv1.UnimplementedIngestServiceServer

	// Addr is host:port of the server.
	Addr string

	mu     sync.Mutex
	calls  []Call
	script []codes.Code
	hang   int
	seen   map[string]bool
	notify chan struct{}
}

// Start starts a server on a free local port; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t)
}

// StartWith starts a server with extra options (e.g. grpc.Creds for TLS).
func StartWith(t testing.TB, opts ...grpc.ServerOption) *Server {
	t.Helper()
	s := &Server{seen: map[string]bool{}, notify: make(chan struct{}, 1)}
	s.Addr = Serve(t, s, append([]grpc.ServerOption{grpc.StatsHandler(compressionRecorder{})}, opts...)...)
	return s
}

// Serve serves impl as the Ingest API on a free local port until the test
// ends and returns its host:port: for tests that need a collector
// behaving otherwise than Server (slow, holding its answers).
func Serve(t testing.TB, impl ingestv1.IngestServiceServer, opts ...grpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer(opts...)
	ingestv1.RegisterIngestServiceServer(srv, impl)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}

// Script sets the codes the next calls answer with, in order; once they are
// used up calls succeed.
func (s *Server) Script(codes ...codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, codes...)
}

// Hang makes the next n calls be recorded and then never answered: they
// end only when the client gives up, like calls on a connection that died
// while the environment was frozen.
func (s *Server) Hang(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang += n
}

// ClearScript drops the codes not used yet: later calls succeed.
func (s *Server) ClearScript() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = nil
}

// Calls returns the calls so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Accepted returns the requests answered with OK and not duplicates.
func (s *Server) Accepted() []*ingestv1.ExportRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*ingestv1.ExportRequest
	seen := map[string]bool{}
	for _, c := range s.calls {
		if c.Code == codes.OK && !seen[string(c.Request.GetBatchId())] {
			seen[string(c.Request.GetBatchId())] = true
			out = append(out, c.Request)
		}
	}
	return out
}

// Called receives a value after each call.
func (s *Server) Called() <-chan struct{} { return s.notify }

// Export records the call and answers with the next scripted code.
func (s *Server) Export(ctx context.Context, req *ingestv1.ExportRequest) (*ingestv1.ExportResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	comp, _ := ctx.Value(compressionKey{}).(*string)
	call := Call{Request: proto.Clone(req).(*ingestv1.ExportRequest), Metadata: md.Copy()}
	if comp != nil {
		call.Compression = *comp
	}
	s.mu.Lock()
	if s.hang > 0 {
		s.hang--
		call.Code = codes.Canceled
		s.calls = append(s.calls, call)
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	code := codes.OK
	if len(s.script) > 0 {
		code, s.script = s.script[0], s.script[1:]
	}
	call.Code = code
	s.calls = append(s.calls, call)
	dup := s.seen[string(req.GetBatchId())]
	if code == codes.OK {
		s.seen[string(req.GetBatchId())] = true
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	if code != codes.OK {
		return nil, status.Error(code, "scripted "+code.String())
	}
	return &ingestv1.ExportResponse{
		Duplicate:           dup,
		AcceptedInvocations: uint64(len(req.GetInvocations())),
	}, nil
}

type compressionKey struct{}

// compressionRecorder notes the request's grpc-encoding in the context.
type compressionRecorder struct{}

func (compressionRecorder) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, compressionKey{}, new(string))
}

func (compressionRecorder) HandleRPC(ctx context.Context, st stats.RPCStats) {
	if h, ok := st.(*stats.InHeader); ok {
		if p, ok := ctx.Value(compressionKey{}).(*string); ok {
			*p = h.Compression
		}
	}
}

func (compressionRecorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (compressionRecorder) HandleConn(context.Context, stats.ConnStats) {}
