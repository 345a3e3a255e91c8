// Package otlpreceiver is the extension's local OTLP endpoint: OTLP/HTTP
// (protobuf and JSON, gzip accepted) and OTLP/gRPC for traces, logs and
// metrics, so functions instrumented with an OpenTelemetry SDK can export to
// localhost:4317/4318 unchanged.
package otlpreceiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed OTLP/gRPC
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
)

// Consumer takes what the receiver decoded and returns how many items
// (spans, log records, data points) it could not keep.
type Consumer interface {
	ConsumeSpans([]*tracepb.ResourceSpans) (rejected int)
	ConsumeLogs([]*logspb.ResourceLogs) (rejected int)
	ConsumeMetrics([]*metricspb.ResourceMetrics) (rejected int)
}

// RawSpansConsumer is an optional part of a Consumer: it takes the spans
// of a protobuf-encoded request as otlpwire read them, still encoded, so
// they need not be decoded. JSON requests still go to ConsumeSpans.
type RawSpansConsumer interface {
	ConsumeRawSpans(*otlpwire.Traces) (rejected int)
}

// Stats are the receiver's counters.
type Stats struct {
	// Malformed is how many requests were refused as unreadable.
	Malformed uint64
}

// Config configures the receivers.
type Config struct {
	// HTTPAddr and GRPCAddr are listen addresses; empty disables one.
	HTTPAddr string
	GRPCAddr string
	// MaxRequestBytes bounds one request, after decompression.
	MaxRequestBytes int
}

// DefaultConfig returns the standard OTLP ports on localhost.
func DefaultConfig() Config {
	return Config{HTTPAddr: "localhost:4318", GRPCAddr: "localhost:4317", MaxRequestBytes: 8 << 20}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.MaxRequestBytes <= 0 {
		return errors.New("max_request_bytes must be positive")
	}
	return nil
}

// Receiver serves OTLP over HTTP and gRPC.
type Receiver struct {
	cfg      Config
	consumer Consumer
	log      *slog.Logger

	mu       sync.Mutex
	bound    bool
	started  bool
	closed   bool
	httpLn   net.Listener
	grpcLn   net.Listener
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	httpAddr string
	grpcAddr string
	wg       sync.WaitGroup
	// grpcServing is closed when the gRPC server first accepts: from then
	// on it owns its listener, and stopping it is a normal stop.
	grpcServing chan struct{}

	malformed atomic.Uint64
}

// Stats returns the receiver's counters.
func (r *Receiver) Stats() Stats { return Stats{Malformed: r.malformed.Load()} }

// New returns a receiver handing data to consumer.
func New(cfg Config, consumer Consumer, log *slog.Logger) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure OTLP receiver: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Receiver{cfg: cfg, consumer: consumer, log: log}, nil
}

// SetConsumer replaces the consumer; it must be called before Start.
func (r *Receiver) SetConsumer(c Consumer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.consumer = c
}

// Listen binds the configured addresses without serving yet: clients
// that connect wait in the kernel's backlog until Start. When one address
// cannot be bound, the other is kept and the error says which failed.
func (r *Receiver) Listen() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listenLocked()
}

// Adopt takes sockets bound elsewhere (the launcher's) as the OTLP/HTTP
// and OTLP/gRPC listeners; a nil one is bound by Listen or Start as usual.
// It must be called before them.
func (r *Receiver) Adopt(httpLn, grpcLn net.Listener) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if httpLn != nil {
		r.httpLn, r.httpAddr = httpLn, httpLn.Addr().String()
	}
	if grpcLn != nil {
		r.grpcLn, r.grpcAddr = grpcLn, grpcLn.Addr().String()
	}
}

func (r *Receiver) listenLocked() error {
	if r.bound || r.closed {
		return nil
	}
	r.bound = true
	var errs []error
	if r.cfg.HTTPAddr != "" && r.httpLn == nil {
		ln, err := net.Listen("tcp", r.cfg.HTTPAddr)
		if err != nil {
			errs = append(errs, fmt.Errorf("listen for OTLP/HTTP on %s: %w", r.cfg.HTTPAddr, err))
		} else {
			r.httpLn, r.httpAddr = ln, ln.Addr().String()
		}
	}
	if r.cfg.GRPCAddr != "" && r.grpcLn == nil {
		ln, err := net.Listen("tcp", r.cfg.GRPCAddr)
		if err != nil {
			errs = append(errs, fmt.Errorf("listen for OTLP/gRPC on %s: %w", r.cfg.GRPCAddr, err))
		} else {
			r.grpcLn, r.grpcAddr = ln, ln.Addr().String()
		}
	}
	return errors.Join(errs...)
}

// Start serves on the addresses bound by Listen (binding them first if
// Listen was not called). When one address cannot be bound, the other
// still serves and the error says which failed.
func (r *Receiver) Start(_ context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return errors.New("start OTLP receiver: already started")
	}
	if r.consumer == nil {
		return errors.New("start OTLP receiver: no consumer")
	}
	r.started = true
	err := r.listenLocked()
	if ln := r.httpLn; ln != nil {
		r.httpSrv = &http.Server{Handler: r.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		srv := r.httpSrv
		r.wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.log.Error("OTLP/HTTP receiver stopped", "err", err)
			}
		})
	}
	if ln := r.grpcLn; ln != nil {
		// The codec counts malformed requests and reads trace requests at
		// the wire level when the consumer takes encoded spans.
		r.grpcSrv = grpc.NewServer(grpc.MaxRecvMsgSize(r.cfg.MaxRequestBytes), grpc.ForceServerCodecV2(newRawCodec(r)))
		e := grpcExporter{r: r}
		if raw, ok := r.consumer.(RawSpansConsumer); ok {
			e.raw = raw
		}
		for _, sig := range []signal{signalTraces, signalLogs, signalMetrics} {
			r.grpcSrv.RegisterService(serviceDesc(sig), e)
		}
		srv := r.grpcSrv
		r.grpcServing = make(chan struct{})
		acc := &acceptSignal{Listener: ln, first: r.grpcServing}
		r.wg.Go(func() {
			if testHookBeforeServe != nil {
				testHookBeforeServe()
			}
			err := srv.Serve(acc)
			switch {
			case err == nil:
			case errors.Is(err, grpc.ErrServerStopped) && r.isClosed():
				// Shut down before the server began: a normal stop,
				// with nothing accepted (the listener is closed).
				r.log.Debug("OTLP/gRPC receiver shut down before it served")
			default:
				r.log.Error("OTLP/gRPC receiver stopped", "err", err)
			}
		})
	}
	return err
}

// Test hooks: called, when set, just before the gRPC server serves and
// just before Shutdown stops it.
var testHookBeforeServe, testHookGRPCStopping func()

func (r *Receiver) isClosed() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.closed }

// acceptSignal closes first when Accept is first called: the gRPC server
// has then taken the listener as its own.
type acceptSignal struct {
	net.Listener
	once  sync.Once
	first chan struct{}
}

func (a *acceptSignal) Accept() (net.Conn, error) {
	a.once.Do(func() { close(a.first) })
	return a.Listener.Accept()
}

// HTTPAddr and GRPCAddr are the bound addresses ("" when not serving).
func (r *Receiver) HTTPAddr() string { r.mu.Lock(); defer r.mu.Unlock(); return r.httpAddr }

// GRPCAddr is the bound gRPC address ("" when not serving).
func (r *Receiver) GRPCAddr() string { r.mu.Lock(); defer r.mu.Unlock(); return r.grpcAddr }

// Shutdown stops both servers, letting in-flight requests finish until ctx
// ends. It is idempotent and safe before Start.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	httpSrv, grpcSrv, grpcServing := r.httpSrv, r.grpcSrv, r.grpcServing
	if !r.started {
		// Bound by Listen but never served.
		for _, ln := range []net.Listener{r.httpLn, r.grpcLn} {
			if ln != nil {
				_ = ln.Close()
			}
		}
	}
	r.mu.Unlock()

	var errs []error
	if httpSrv != nil {
		if err := httpSrv.Shutdown(ctx); err != nil {
			_ = httpSrv.Close()
			errs = append(errs, fmt.Errorf("shut down OTLP/HTTP receiver: %w", err))
		}
	}
	if grpcSrv != nil {
		// A stop before the server first accepts closes its listener
		// with the connections waiting there unaccepted; the server is
		// given until ctx ends to begin, so that its stop is the
		// ordinary one.
		select {
		case <-grpcServing:
		case <-ctx.Done():
		}
		if testHookGRPCStopping != nil {
			testHookGRPCStopping()
		}
		stopped := make(chan struct{})
		go func() {
			grpcSrv.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			grpcSrv.Stop()
			<-stopped
			errs = append(errs, fmt.Errorf("shut down OTLP/gRPC receiver: %w", ctx.Err()))
		}
	}
	r.wg.Wait()
	return errors.Join(errs...)
}

// HTTPHandler serves POST /v1/traces, /v1/logs and /v1/metrics.
func (r *Receiver) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/traces", func(w http.ResponseWriter, req *http.Request) {
		if raw, ok := r.consumer.(RawSpansConsumer); ok && ParseContentType(req.Header.Get("Content-Type")) == EncodingProtobuf {
			r.serveRawTraces(w, req, raw)
			return
		}
		msg := &tracepb.TracesData{}
		r.serveHTTP(w, req, msg, func() exportResponse {
			return exportResponse{signal: signalTraces, rejected: r.consumer.ConsumeSpans(msg.GetResourceSpans())}
		})
	})
	mux.HandleFunc("/v1/logs", func(w http.ResponseWriter, req *http.Request) {
		msg := &logspb.LogsData{}
		r.serveHTTP(w, req, msg, func() exportResponse {
			return exportResponse{signal: signalLogs, rejected: r.consumer.ConsumeLogs(msg.GetResourceLogs())}
		})
	})
	mux.HandleFunc("/v1/metrics", func(w http.ResponseWriter, req *http.Request) {
		msg := &metricspb.MetricsData{}
		r.serveHTTP(w, req, msg, func() exportResponse {
			return exportResponse{signal: signalMetrics, rejected: r.consumer.ConsumeMetrics(msg.GetResourceMetrics())}
		})
	})
	return mux
}

// serveHTTP decodes the request into msg (the signal's TracesData,
// LogsData or MetricsData, whose fields are those of its Export request),
// calls consume and writes its response, or an OTLP error
// (google.rpc.Status) with the right code.
func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request, msg proto.Message, consume func() exportResponse) {
	r.serveBody(w, req, false, func(body []byte, enc Encoding, _ bool) (func() exportResponse, error) {
		// Decoding copies what it keeps, so the buffer can be reused.
		if err := Decode(body, enc, msg); err != nil {
			return nil, err
		}
		return consume, nil
	})
}

// serveRawTraces reads a protobuf trace request at the wire level and
// hands its spans, still encoded, to consumer. A body of a known length
// is read into a buffer of its own, which the spans then keep, so that
// they are not copied; any other is read into a recycled buffer, and
// copied.
func (r *Receiver) serveRawTraces(w http.ResponseWriter, req *http.Request, consumer RawSpansConsumer) {
	r.serveBody(w, req, true, func(body []byte, _ Encoding, owned bool) (func() exportResponse, error) {
		scan := otlpwire.ScanTraces // copies what it keeps
		if owned {
			scan = otlpwire.ScanTracesInPlace
		}
		traces, err := scan(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadBody, err)
		}
		return func() exportResponse {
			return exportResponse{signal: signalTraces, rejected: consumer.ConsumeRawSpans(traces)}
		}, nil
	})
}

// serveBody reads the request body and gives it to parse, whose function
// then consumes it and returns the response; errors are written as an OTLP
// error (google.rpc.Status) with the right code. The body buffer is reused
// once parse returns, unless parse is told it owns the body: with keep
// set, a body of a known length that is not compressed is read into a
// buffer of its own and given up.
func (r *Receiver) serveBody(w http.ResponseWriter, req *http.Request, keep bool, parse func(body []byte, enc Encoding, owned bool) (func() exportResponse, error)) {
	enc := ParseContentType(req.Header.Get("Content-Type"))
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeStatus(w, enc, http.StatusMethodNotAllowed, codes.Unimplemented, "method not allowed, use POST")
		return
	}
	if enc == EncodingUnknown {
		writeStatus(w, EncodingProtobuf, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			"content type must be application/x-protobuf or application/json")
		return
	}
	body := http.MaxBytesReader(w, req.Body, int64(r.cfg.MaxRequestBytes))
	n := req.ContentLength
	sized := n > 0 && n <= int64(r.cfg.MaxRequestBytes) && req.Header.Get("Content-Encoding") == ""
	owned := keep && sized
	var buf *bytes.Buffer
	if owned {
		buf = new(bytes.Buffer)
	} else {
		buf = bodies.Get().(*bytes.Buffer)
		buf.Reset()
	}
	if sized {
		buf.Grow(int(n) + bytes.MinRead)
	}
	var consume func() exportResponse
	err := readBodyInto(buf, body, req.Header.Get("Content-Encoding"), r.cfg.MaxRequestBytes)
	if err == nil {
		consume, err = parse(buf.Bytes(), enc, owned)
	}
	if !owned && buf.Cap() <= maxPooledBody {
		bodies.Put(buf)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrTooLarge):
		writeStatus(w, enc, http.StatusRequestEntityTooLarge, codes.InvalidArgument, "request body larger than "+strconv.Itoa(r.cfg.MaxRequestBytes)+" bytes")
		return
	case errors.Is(err, ErrUnsupportedEncoding):
		writeStatus(w, enc, http.StatusUnsupportedMediaType, codes.InvalidArgument, err.Error())
		return
	default:
		r.malformed.Add(1)
		writeStatus(w, enc, http.StatusBadRequest, codes.InvalidArgument, err.Error())
		return
	}
	resp := consume()
	out := resp.encode(enc)
	w.Header().Set("Content-Type", contentType(enc))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func contentType(enc Encoding) string {
	if enc == EncodingJSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

func writeStatus(w http.ResponseWriter, enc Encoding, httpCode int, code codes.Code, msg string) {
	if enc == EncodingUnknown {
		enc = EncodingProtobuf
	}
	out, err := Encode(status.New(code, msg).Proto(), enc)
	if err != nil {
		http.Error(w, msg, httpCode)
		return
	}
	w.Header().Set("Content-Type", contentType(enc))
	w.WriteHeader(httpCode)
	_, _ = w.Write(out)
}
