package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	// Registers gzip, which OpenTelemetry exporters send, explicitly rather
	// than through whichever dependency happens to.
	_ "google.golang.org/grpc/encoding/gzip"

	// Registers the zstd compressor so extensions may send compressed batches.
	_ "github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
)

// Server is a running collector.
type Server struct {
	cfg    Config
	writer BatchWriter
	conn   *connector // set by NewConnecting
	log    *slog.Logger
	stats  counters

	mu       sync.Mutex
	started  bool
	stopped  bool
	pipe     *pipeline
	front    *front
	grpc     *grpc.Server
	health   *health.Server
	listener net.Listener
	httpSrvs []*http.Server
	httpAddr map[string]string
	tracing  func(context.Context) error
	serving  sync.WaitGroup
	errMu    sync.Mutex
	serveErr error
}

// New returns a collector that writes through w. Call Start to serve.
func New(cfg Config, w BatchWriter, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid collector config: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Server{cfg: cfg, writer: w, log: log, httpAddr: map[string]string{}}, nil
}

// NewConnecting returns a collector that opens its store itself with open,
// in the background, so that it starts while ClickHouse is unreachable:
// until open succeeds, batches are acknowledged into the WAL (without
// one they are refused with UNAVAILABLE), /readyz says why the collector is
// not ready (and the gRPC health service NOT_SERVING), and open is retried
// with growing pauses and a log line at most every 10 s. Once open succeeds the WAL is replayed. Shutdown closes the
// store if it implements io.Closer.
func NewConnecting(cfg Config, open OpenFunc, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	c := &connector{open: open, log: log}
	s, err := New(cfg, c, log)
	if err != nil {
		return nil, err
	}
	s.conn = c
	return s, nil
}

// Start opens the WAL (replaying what it holds), listens on GRPCAddr,
// HTTPAddr and AdminAddr and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("collector already started")
	}
	if s.stopped {
		return errors.New("collector was shut down")
	}
	tlsCfg, err := s.cfg.TLS.serverConfig()
	if err != nil {
		return err
	}
	pipe, err := newPipeline(s.cfg, s.writer, s.log, &s.stats)
	if err != nil {
		return fmt.Errorf("start pipeline: %w", err)
	}
	if s.tracing, err = setupTracing(ctx, s.cfg.Tracing, pipe); err != nil {
		_ = pipe.close()
		return err
	}
	fr := newFront(s.cfg, pipe.m.reg, s.log)
	lis, err := s.listen(fr)
	if err != nil {
		if s.tracing != nil {
			_ = s.tracing(ctx)
		}
		_ = pipe.close()
		return err
	}
	svc := &ingestService{p: pipe, log: s.log}
	srv := s.grpcServer(fr, svc, tlsCfg)
	jobs := s.httpJobs(lis, fr, svc, pipe, tlsCfg)
	s.waitForStore(pipe)
	pipe.start()
	s.pipe, s.front, s.grpc, s.listener, s.started = pipe, fr, srv, lis.grpc, true
	s.serve(srv, lis.grpc, jobs)
	s.log.Info("collector listening", "grpc", lis.grpc.Addr().String(), "otlp_http", s.httpAddr["otlp_http"],
		"admin", s.httpAddr["admin"], "wal", s.cfg.WALDir(), "auth", !s.cfg.NoAuth, "tls", tlsCfg != nil)
	return nil
}

// listeners are the collector's open sockets; http and admin are nil when
// turned off.
type listeners struct {
	grpc, http, admin net.Listener
}

// listen opens GRPCAddr, HTTPAddr and AdminAddr, the OTLP/HTTP one bounded
// to http_limits.max_conns_per_ip connections per client address; on an
// error none stays open.
func (s *Server) listen(fr *front) (listeners, error) {
	var (
		lis    listeners
		opened []net.Listener
	)
	open := func(addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, o := range opened {
				_ = o.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		opened = append(opened, l)
		return l, nil
	}
	var err error
	if lis.grpc, err = open(s.cfg.GRPCAddr); err != nil {
		return listeners{}, err
	}
	if s.cfg.HTTPAddr != "" {
		if lis.http, err = open(s.cfg.HTTPAddr); err != nil {
			return listeners{}, err
		}
		if n := s.cfg.HTTPLimits.MaxConnsPerIP; n > 0 {
			lis.http = &limitListener{Listener: lis.http, lim: &ipLimiter{max: n, open: map[string]int{}, refused: func() {
				fr.refuse("conns_per_ip", "via", "OTLP/HTTP", "http_limits.max_conns_per_ip", n)
			}}}
		}
	}
	if s.cfg.AdminAddr != "" {
		if lis.admin, err = open(s.cfg.AdminAddr); err != nil {
			return listeners{}, err
		}
	}
	return lis, nil
}

// grpcServer is the Ingest API, OTLP gRPC and the health service behind
// the front door (fr), with TLS when tlsCfg is set.
func (s *Server) grpcServer(fr *front, svc *ingestService, tlsCfg *tls.Config) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(s.cfg.MaxMessageBytes),
		grpc.InTapHandle(fr.tap),
		grpc.ChainUnaryInterceptor(fr.unary),
		grpc.ForceServerCodecV2(fr.codec),
		grpc.StatsHandler(statsHandler{fr}),
		// zstd in one call, into one buffer (zstd.go); the registered
		// compressor still answers in zstd.
		grpc.RPCDecompressor(newZstdDecompressor(s.cfg.MaxMessageBytes, func(args ...any) { fr.refuse("undecodable", args...) })), //lint:ignore SA1019 the only hook that skips gRPC's copies of a decompressed message
	}
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg.Clone())))
	}
	srv := grpc.NewServer(opts...)
	ingestv1.RegisterIngestServiceServer(srv, svc)
	coltracepb.RegisterTraceServiceServer(srv, otlpTraces{s: svc})
	collogspb.RegisterLogsServiceServer(srv, otlpLogs{s: svc})
	colmetricspb.RegisterMetricsServiceServer(srv, otlpMetrics{s: svc})
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(srv, s.health)
	return srv
}

// httpJob is an HTTP server and the listener it serves.
type httpJob struct {
	name string
	lis  net.Listener
	srv  *http.Server
	tls  bool
}

// httpJobs are the OTLP/HTTP server (with TLS when tlsCfg is set) and the
// admin server, for the listeners that are open.
func (s *Server) httpJobs(lis listeners, fr *front, svc *ingestService, pipe *pipeline, tlsCfg *tls.Config) []httpJob {
	var jobs []httpJob
	if lis.http != nil {
		mux := http.NewServeMux()
		(&otlpHTTP{s: svc, front: fr, maxBytes: s.cfg.MaxMessageBytes}).routes(mux)
		lim := s.cfg.HTTPLimits
		hs := &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: lim.ReadHeaderTimeout,
			ReadTimeout:       lim.ReadTimeout,
			IdleTimeout:       lim.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
		}
		if tlsCfg != nil {
			hs.TLSConfig = tlsCfg.Clone()
		}
		jobs = append(jobs, httpJob{"otlp_http", lis.http, hs, tlsCfg != nil})
	}
	if lis.admin != nil {
		jobs = append(jobs, httpJob{"admin", lis.admin, &http.Server{Handler: s.adminMux(pipe), ReadHeaderTimeout: 10 * time.Second}, false})
	}
	return jobs
}

// waitForStore, for a collector that opens its store itself, starts the
// attempts; like /readyz, the gRPC health service says NOT_SERVING until
// the schema is ready.
func (s *Server) waitForStore(pipe *pipeline) {
	if s.conn == nil {
		return
	}
	pipe.down.Store(true)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	hs := s.health
	s.conn.start(func() {
		pipe.storeConnected()
		hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	})
}

// serve runs the gRPC server and the HTTP jobs in goroutines Shutdown
// waits for; an error they end with is returned by Shutdown.
func (s *Server) serve(srv *grpc.Server, grpcLis net.Listener, jobs []httpJob) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := srv.Serve(grpcLis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.setErr(fmt.Errorf("serve gRPC: %w", err))
		}
	}()
	for _, j := range jobs {
		s.httpSrvs = append(s.httpSrvs, j.srv)
		s.httpAddr[j.name] = j.lis.Addr().String()
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			serve := j.srv.Serve
			if j.tls {
				serve = func(l net.Listener) error { return j.srv.ServeTLS(l, "", "") }
			}
			if err := serve(j.lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.setErr(fmt.Errorf("serve %s: %w", j.name, err))
			}
		}()
	}
}

func (s *Server) setErr(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	s.serveErr = errors.Join(s.serveErr, err)
}

// pinger is a BatchWriter that can say whether its database answers, as
// storage.Store does; /readyz asks it.
type pinger interface {
	Ping(ctx context.Context) error
}

var _ pinger = (*storage.Store)(nil)

// readyPingTimeout bounds the ping of one /readyz request.
const readyPingTimeout = 2 * time.Second

func (s *Server) adminMux(p *pipeline) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		err := p.ready()
		bw := s.writer
		if s.conn != nil {
			if bw = s.conn.writer(); bw == nil {
				err = fmt.Errorf("%w (%s)", errNotConnected, s.conn.status())
			}
		}
		if err == nil {
			if p, ok := bw.(pinger); ok {
				ctx, cancel := context.WithTimeout(r.Context(), readyPingTimeout)
				defer cancel()
				if perr := p.Ping(ctx); perr != nil {
					err = fmt.Errorf("ClickHouse unreachable: %w", perr)
				}
			}
		}
		if err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(p.m.reg, promhttp.HandlerOpts{}))
	return mux
}

// Addr is the address the Ingest API and OTLP gRPC listen on (useful with
// port 0).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// HTTPAddr is the address OTLP/HTTP listens on, or "".
func (s *Server) HTTPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpAddr["otlp_http"]
}

// AdminAddr is the address of /healthz, /readyz and /metrics, or "".
func (s *Server) AdminAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpAddr["admin"]
}

// Stats returns the counters since start.
func (s *Server) Stats() Stats {
	st := s.stats.snapshot()
	s.mu.Lock()
	fr, pipe := s.front, s.pipe
	s.mu.Unlock()
	if pipe != nil {
		st.ViewRowsAtRisk = pipe.viewsAtRisk()
	}
	if fr != nil {
		st.RequestBytesRead = fr.grpcRead.Load() + fr.httpRead.Load()
		st.InflightBytes = fr.budget.used.Load()
		st.InflightPeakBytes = fr.budget.peak.Load()
		st.RefusedConnections = fr.connsRef.Load()
	}
	return st
}

// Shutdown stops accepting calls, waits for in-flight requests to be
// written to ClickHouse or the WAL, stops the WAL replayer (what it holds is
// replayed on the next start) and closes the WAL. When ctx ends first,
// calls still running are cut off. Safe to call before Start and more than
// once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, pipe, httpSrvs, tracing := s.grpc, s.pipe, s.httpSrvs, s.tracing
	first := !s.stopped
	s.stopped = true
	s.mu.Unlock()
	if srv == nil || !first {
		return nil
	}
	s.health.Shutdown()
	var errs []error
	for _, h := range httpSrvs {
		if err := h.Shutdown(ctx); err != nil {
			_ = h.Close()
		}
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		srv.Stop()
		<-stopped
	}
	s.serving.Wait()
	if err := pipe.close(); err != nil {
		errs = append(errs, err)
	}
	if s.conn != nil {
		if err := s.conn.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if tracing != nil {
		if err := tracing(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop tracing: %w", err))
		}
	}
	st := s.Stats()
	s.log.Info("collector stopped", "batches", st.Batches, "duplicates", st.DuplicateBatches,
		"rejected_batches", st.RejectedBatches, "failed_batches", st.FailedBatches,
		"spans", st.Spans, "logs", st.Logs, "invocations", st.Invocations, "rejected_items", st.RejectedItems,
		"duplicate_risk_items", st.DuplicateRiskItems, "view_rows_at_risk", st.ViewRowsAtRisk)
	s.errMu.Lock()
	errs = append(errs, s.serveErr)
	s.errMu.Unlock()
	return errors.Join(errs...)
}
