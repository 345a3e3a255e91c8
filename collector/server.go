package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	// Registers the zstd compressor so extensions may send compressed batches.
	_ "github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Server is a running collector.
type Server struct {
	cfg    Config
	writer BatchWriter
	log    *slog.Logger
	stats  counters

	mu       sync.Mutex
	grpc     *grpc.Server
	health   *health.Server
	listener net.Listener
	done     chan struct{}
	serveErr error
	stopped  bool
}

// New returns a collector that writes through w. Call Start to serve.
func New(cfg Config, w BatchWriter, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid collector config: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Server{cfg: cfg, writer: w, log: log}, nil
}

// Start listens on GRPCAddr and serves in the background.
func (s *Server) Start(_ context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.grpc != nil {
		return errors.New("collector already started")
	}
	if s.stopped {
		return errors.New("collector was shut down")
	}
	lis, err := net.Listen("tcp", s.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.GRPCAddr, err)
	}
	keys := newKeyring(s.cfg)
	srv := grpc.NewServer(
		grpc.MaxRecvMsgSize(s.cfg.MaxMessageBytes),
		grpc.ChainUnaryInterceptor(keys.unary),
	)
	ingestv1.RegisterIngestServiceServer(srv, &ingestService{
		cfg: s.cfg, writer: s.writer, dedup: newDedup(s.cfg.DedupWindow), log: s.log, stats: &s.stats,
	})
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(srv, s.health)
	s.grpc, s.listener, s.done = srv, lis, make(chan struct{})
	go func() {
		defer close(s.done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.serveErr = err
		}
	}()
	s.log.Info("collector listening", "grpc", lis.Addr().String(), "auth", !s.cfg.NoAuth)
	return nil
}

// Addr is the address the Ingest API listens on (useful with port 0).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// Stats returns the counters since start.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// Shutdown stops accepting calls and waits for in-flight batches to be
// written, or for ctx to end (then it cuts them off). Safe to call before
// Start and more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.grpc, s.done
	s.stopped = true
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	s.health.Shutdown()
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		srv.Stop()
		<-stopped
	}
	<-done
	st := s.Stats()
	s.log.Info("collector stopped", "batches", st.Batches, "duplicates", st.DuplicateBatches,
		"rejected_batches", st.RejectedBatches, "failed_batches", st.FailedBatches,
		"spans", st.Spans, "logs", st.Logs, "invocations", st.Invocations, "rejected_items", st.RejectedItems)
	return s.serveErr
}
