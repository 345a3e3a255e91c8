package collector_test

// Hostile clients at the front door: no key, floods, slow bodies, bad
// bytes, and senders that must retry rather than lose data.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

const traceExport = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// gatedWriter is the real store behind a switch: while closed, every
// insert fails as if ClickHouse were unreachable.
type gatedWriter struct {
	store *storage.Store
	open  atomic.Bool
	// While held, every insert waits until release is closed.
	held    atomic.Bool
	release chan struct{}
}

func (g *gatedWriter) WriteExports(ctx context.Context, reqs []*ingestv1.ExportRequest) (storage.WriteCounts, error) {
	if g.held.Load() {
		select {
		case <-g.release:
		case <-ctx.Done():
			return storage.WriteCounts{}, ctx.Err()
		}
	}
	if !g.open.Load() {
		return storage.WriteCounts{}, errors.New("dial ClickHouse: connection refused (gate closed)")
	}
	return g.store.WriteExports(ctx, reqs)
}

// startWriter starts a collector on a fresh database behind w's gate.
func startGated(t *testing.T, mutate ...func(*collector.Config)) (*collector.Server, *gatedWriter) {
	t.Helper()
	dsn, _ := chtest.NewDatabase(t)
	g := &gatedWriter{store: migratedStore(t, dsn), release: make(chan struct{})}
	cfg := testConfig(t, dsn)
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := collector.New(cfg, g, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("new collector: %v", err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, g
}

func dialGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// hugeRequest is a request of one span whose name is n bytes: a few KB
// once gzipped.
func hugeRequest(n int) *coltracepb.ExportTraceServiceRequest {
	req := otlpTraces([16]byte{0x7e}, 1)
	req.ResourceSpans[0].ScopeSpans[0].Spans[0].Name = strings.Repeat("a", n)
	return req
}

func postHeaders(t *testing.T, url string, hdr map[string]string, body []byte) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func retryDelayOf(err error) (time.Duration, bool) {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// Defect: the key was checked only after the whole message was received,
// decompressed and decoded, so keyless clients could fill the memory.
func TestKeylessBodiesAreNeverRead(t *testing.T) {
	h := start(t)
	const clients = 16
	req := hugeRequest(4 << 20)
	pb, _ := proto.Marshal(req)
	zipped := gz(t, pb)
	conn := dialGRPC(t, h.srv.Addr())
	traces := coltracepb.NewTraceServiceClient(conn)
	url := "http://" + h.srv.HTTPAddr() + "/v1/traces"

	var wg sync.WaitGroup
	errs := make(chan error, 2*clients)
	for i := range clients {
		wg.Add(2)
		go func() {
			defer wg.Done()
			ctx := t.Context()
			if i%2 == 1 {
				ctx = withKey(ctx, "not-a-key")
			}
			_, err := traces.Export(ctx, req, grpc.UseCompressor("gzip"))
			if status.Code(err) != codes.Unauthenticated {
				errs <- fmt.Errorf("gRPC client %d: got %v, want Unauthenticated", i, err)
			}
		}()
		go func() {
			defer wg.Done()
			code, body := post(t, url, "application/x-protobuf", "gzip", "", zipped)
			if code != http.StatusUnauthorized {
				errs <- fmt.Errorf("HTTP client %d: got %d %s, want 401", i, code, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := h.srv.Stats()
	if st.RequestBytesRead != 0 || st.InflightPeakBytes != 0 {
		t.Fatalf("keyless requests cost the collector %d bytes read, %d bytes in flight at most; want none",
			st.RequestBytesRead, st.InflightPeakBytes)
	}
	_, metrics := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	if !strings.Contains(metrics, fmt.Sprintf(`lambdascope_collector_refused_requests_total{reason="unauthenticated"} %d`, 2*clients)) {
		t.Fatalf("refusals not counted:\n%s", grep(metrics, "refused"))
	}
	// A keyed request is read, and counted.
	if _, err := traces.Export(withKey(t.Context(), apiKey), otlpTraces([16]byte{0x7f}, 1)); err != nil {
		t.Fatalf("keyed export: %v", err)
	}
	if h.srv.Stats().RequestBytesRead == 0 {
		t.Fatal("the keyed request's bytes are not counted: the counter proves nothing")
	}
}

// holdStream opens a keyed gRPC call that sends its headers and no body:
// the collector reserves max_message_bytes for it until it ends.
func holdStream(t *testing.T, conn *grpc.ClientConn) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(withKey(t.Context(), apiKey))
	t.Cleanup(cancel)
	if _, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, traceExport); err != nil {
		t.Fatalf("open held call: %v", err)
	}
	return cancel
}

// Defect: nothing bounded the memory all requests in flight hold.
func TestInflightBudgetRefusesWithRetryableStatus(t *testing.T) {
	const maxMsg = 1 << 20
	h := start(t, func(c *collector.Config) {
		c.MaxMessageBytes = maxMsg
		c.MaxInflightBytes = maxMsg + maxMsg/2
	})
	conn := dialGRPC(t, h.srv.Addr())
	traces := coltracepb.NewTraceServiceClient(conn)
	url := "http://" + h.srv.HTTPAddr() + "/v1/traces"

	release := holdStream(t, conn)
	waitFor(t, "the held call's reservation", 10*time.Second, func() bool { return h.srv.Stats().InflightBytes == maxMsg })

	// gRPC: a second call would reserve max_message_bytes too.
	_, err := traces.Export(withKey(t.Context(), apiKey), otlpTraces([16]byte{0x61}, 1))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("gRPC over budget: got %v, want ResourceExhausted", err)
	}
	if d, ok := retryDelayOf(err); !ok || d <= 0 {
		t.Fatalf("gRPC over budget: no RetryInfo in %v", status.Convert(err).Proto())
	}
	// HTTP: charged by decompressed bytes as read. 100 KB fits in what is
	// left (512 KiB); 900 KB, gzipped to a few KB, does not.
	small, _ := proto.Marshal(hugeRequest(100 << 10))
	big, _ := proto.Marshal(hugeRequest(900 << 10))
	hdr := map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", "Authorization": "Bearer " + apiKey}
	if resp, body := postHeaders(t, url, hdr, gz(t, small)); resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP within budget: %d %s", resp.StatusCode, body)
	}
	resp, body := postHeaders(t, url, hdr, gz(t, big))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("HTTP over budget: got %d Retry-After %q %s, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if peak := h.srv.Stats().InflightPeakBytes; peak > maxMsg+maxMsg/2 {
		t.Fatalf("requests held %d bytes at once, over max_inflight_bytes", peak)
	}

	release()
	waitFor(t, "the held call's release", 10*time.Second, func() bool { return h.srv.Stats().InflightBytes == 0 })
	if _, err := traces.Export(withKey(t.Context(), apiKey), otlpTraces([16]byte{0x62}, 1)); err != nil {
		t.Fatalf("gRPC after release: %v", err)
	}
	if resp, body := postHeaders(t, url, hdr, gz(t, big)); resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP after release: %d %s", resp.StatusCode, body)
	}
	// Calls that ended give back what they held.
	waitFor(t, "the finished calls' release", 10*time.Second, func() bool { return h.srv.Stats().InflightBytes == 0 })
	_, metrics := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	if !strings.Contains(metrics, `lambdascope_collector_refused_requests_total{reason="over_budget"} 2`) {
		t.Fatalf("over-budget refusals not counted:\n%s", grep(metrics, "refused"))
	}
}

// Defect: a keyed gRPC call that never sends its body held its share of
// the budget for ever.
func TestSlowGRPCBodyIsCancelled(t *testing.T) {
	const maxMsg = 1 << 20
	h := start(t, func(c *collector.Config) {
		c.MaxMessageBytes = maxMsg
		c.GRPCReadTimeout = time.Second
	})
	conn := dialGRPC(t, h.srv.Addr())
	holdStream(t, conn)
	waitFor(t, "the held call's reservation", 10*time.Second, func() bool { return h.srv.Stats().InflightBytes == maxMsg })
	waitFor(t, "the slow call cancelled", 15*time.Second, func() bool { return h.srv.Stats().InflightBytes == 0 })
	_, metrics := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	if !strings.Contains(metrics, `lambdascope_collector_refused_requests_total{reason="read_timeout"} 1`) {
		t.Fatalf("slow call not counted:\n%s", grep(metrics, "refused"))
	}
	// Calls that send their body in time are not affected.
	if _, err := coltracepb.NewTraceServiceClient(conn).Export(withKey(t.Context(), apiKey), otlpTraces([16]byte{0x63}, 1)); err != nil {
		t.Fatalf("export: %v", err)
	}
}

// rawCodec sends and receives protobuf bytes as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// withBadString marshals req and then replaces the bytes of marker (a
// string of req) with bytes that are not UTF-8, of the same length.
func withBadString(t *testing.T, m proto.Message, marker string) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{0xff, 0xfe}, marker[2:]...)
	if !bytes.Contains(b, []byte(marker)) {
		t.Fatalf("marker %q not in the message", marker)
	}
	return bytes.ReplaceAll(b, []byte(marker), bad)
}

// Defect: undecodable bodies got INTERNAL, and one bad string rejected a
// whole batch.
func TestBadBytesAreInvalidArgumentAndBadStringsLoseOnlyTheirItems(t *testing.T) {
	h := start(t)
	conn := dialGRPC(t, h.srv.Addr())
	url := "http://" + h.srv.HTTPAddr() + "/v1/traces"

	// Three spans, the second named with bytes that are not UTF-8.
	mixed := func(trace [16]byte) []byte {
		req := otlpTraces(trace, 3)
		req.ResourceSpans[0].ScopeSpans[0].Spans[1].Name = "BADNAME-1"
		return withBadString(t, req, "BADNAME-1")
	}
	// Two resources; the first's service name is not UTF-8: its two spans
	// go, the other resource's two stay.
	badResource := func(trace [16]byte) []byte {
		a, b := otlpTraces(trace, 2), otlpTraces(trace, 2)
		a.ResourceSpans[0].Resource.Attributes[0].Value = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "BADSERVICE"}}
		for _, s := range b.ResourceSpans[0].ScopeSpans[0].Spans {
			s.SpanId[0] = 0x42
		}
		a.ResourceSpans = append(a.ResourceSpans, b.ResourceSpans...)
		return withBadString(t, a, "BADSERVICE")
	}
	sendGRPC := func(t *testing.T, body []byte) (*coltracepb.ExportTraceServiceResponse, error) {
		var out []byte
		err := conn.Invoke(withKey(t.Context(), apiKey), traceExport, &body, &out, grpc.ForceCodec(rawCodec{}))
		if err != nil {
			return nil, err
		}
		res := &coltracepb.ExportTraceServiceResponse{}
		return res, proto.Unmarshal(out, res)
	}
	sendHTTP := func(t *testing.T, body []byte) (*coltracepb.ExportTraceServiceResponse, error) {
		code, resp := post(t, url, "application/x-protobuf", "", apiKey, body)
		if code != http.StatusOK {
			return nil, status.Error(codes.Unknown, fmt.Sprintf("HTTP %d: %s", code, resp))
		}
		res := &coltracepb.ExportTraceServiceResponse{}
		return res, proto.Unmarshal([]byte(resp), res)
	}
	for _, via := range []struct {
		name string
		send func(*testing.T, []byte) (*coltracepb.ExportTraceServiceResponse, error)
		n    byte
	}{{"grpc", sendGRPC, 0x31}, {"http", sendHTTP, 0x32}} {
		t.Run(via.name+"/malformed", func(t *testing.T) {
			_, err := via.send(t, []byte{0x0a, 0xff, 0xff, 0xff, 0x0f})
			if via.name == "grpc" && status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
			if via.name == "http" && (err == nil || !strings.Contains(err.Error(), "HTTP 400")) {
				t.Fatalf("got %v, want HTTP 400", err)
			}
		})
		tests := []struct {
			name           string
			body           func([16]byte) []byte
			rejected, kept int
		}{
			{"one bad span", mixed, 1, 2},
			{"bad resource", badResource, 2, 2},
		}
		for i, tt := range tests {
			t.Run(via.name+"/"+tt.name, func(t *testing.T) {
				trace := [16]byte{via.n, byte(i + 1)}
				res, err := via.send(t, tt.body(trace))
				if err != nil {
					t.Fatalf("export: %v", err)
				}
				if got := res.GetPartialSuccess().GetRejectedSpans(); got != int64(tt.rejected) || res.GetPartialSuccess().GetErrorMessage() == "" {
					t.Fatalf("partial success %v, want %d rejected spans with a message", res.GetPartialSuccess(), tt.rejected)
				}
				if rows, _ := spanCounts(t, h.store, trace); rows != uint64(tt.kept) {
					t.Fatalf("stored %d spans, want the %d good ones", rows, tt.kept)
				}
			})
		}
	}
	_, metrics := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	if !strings.Contains(metrics, `lambdascope_collector_dropped_items_total{reason="invalid_utf8",signal="items"} 6`) {
		t.Fatalf("dropped items not counted:\n%s", grep(metrics, "dropped"))
	}
}

// rawHTTP opens a connection to addr and writes the head of a request.
func rawHTTP(t *testing.T, addr, head string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if head != "" {
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// trickle writes one byte of b every 100 ms until b is sent, the
// connection fails or the test ends.
func trickle(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	go func() {
		for i := range b {
			select {
			case <-t.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.Write(b[i : i+1]); err != nil {
				return
			}
		}
	}()
}

// closedWithin reads what the server sends until it closes the
// connection, failing the test when that takes longer than d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v (read %q)", d, b)
	}
	return string(b)
}

// Defect: OTLP/HTTP had no body read timeout and no bound on the
// connections of one client.
func TestSlowAndNumerousHTTPClientsAreCut(t *testing.T) {
	h := start(t, func(c *collector.Config) {
		c.HTTPLimits.ReadHeaderTimeout = time.Second
		c.HTTPLimits.ReadTimeout = 2 * time.Second
		c.HTTPLimits.MaxConnsPerIP = 3
	})
	addr := h.srv.HTTPAddr()
	head := "POST /v1/traces HTTP/1.1\r\nHost: collector\r\nAuthorization: Bearer " + apiKey +
		"\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n"

	t.Run("body trickled", func(t *testing.T) {
		c := rawHTTP(t, addr, head)
		trickle(t, c, make([]byte, 1000)) // 100 s at this pace
		if got := closedWithin(t, c, 15*time.Second); !strings.Contains(got, "408") {
			t.Fatalf("got %q, want a 408 answer", got)
		}
		_, metrics := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
		if !strings.Contains(metrics, `lambdascope_collector_refused_requests_total{reason="read_timeout"} 1`) {
			t.Fatalf("read timeout not counted:\n%s", grep(metrics, "refused"))
		}
	})
	t.Run("headers trickled", func(t *testing.T) {
		c := rawHTTP(t, addr, "")
		trickle(t, c, []byte(head))
		closedWithin(t, c, 15*time.Second)
	})
	t.Run("connections per IP", func(t *testing.T) {
		held := []net.Conn{rawHTTP(t, addr, "POST"), rawHTTP(t, addr, "POST"), rawHTTP(t, addr, "POST")}
		before := h.srv.Stats().RefusedConnections
		extra := rawHTTP(t, addr, "")
		if got := closedWithin(t, extra, 5*time.Second); got != "" {
			t.Fatalf("the refused connection got %q", got)
		}
		if n := h.srv.Stats().RefusedConnections; n != before+1 {
			t.Fatalf("refused connections %d, want %d", n, before+1)
		}
		// Once one is closed, a new connection is served.
		_ = held[0].Close()
		waitFor(t, "a connection served after one closed", 10*time.Second, func() bool {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return false
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			_, _ = io.WriteString(c, "GET /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusMethodNotAllowed
		})
	})
}

// Smaller defects of the front door.
func TestFrontDoorDetails(t *testing.T) {
	h := start(t)
	url := "http://" + h.srv.HTTPAddr() + "/v1/traces"
	good, _ := proto.Marshal(otlpTraces([16]byte{0x51}, 2))
	tests := []struct {
		name string
		hdr  map[string]string
		body []byte
		code int
	}{
		{"bearer in lower case", map[string]string{"Content-Type": "application/x-protobuf", "Authorization": "bearer " + apiKey}, good, 200},
		{"BEARER in upper case", map[string]string{"Content-Type": "application/x-protobuf", "Authorization": "BEARER " + apiKey}, good, 200},
		{"Content-Encoding GZIP", map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "GZIP", "Authorization": "Bearer " + apiKey}, gz(t, good), 200},
		{"text/plain", map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + apiKey}, good, 415},
		{"no content type", map[string]string{"Authorization": "Bearer " + apiKey}, good, 415},
		{"Basic scheme", map[string]string{"Content-Type": "application/x-protobuf", "Authorization": "Basic " + apiKey}, good, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp, body := postHeaders(t, url, tt.hdr, tt.body); resp.StatusCode != tt.code {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tt.code)
			}
		})
	}
	t.Run("grpc bearer in lower case", func(t *testing.T) {
		conn := dialGRPC(t, h.srv.Addr())
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "bearer "+apiKey)
		if _, err := coltracepb.NewTraceServiceClient(conn).Export(ctx, otlpTraces([16]byte{0x52}, 1)); err != nil {
			t.Fatalf("export: %v", err)
		}
	})
}

// Defect: spans storage refuses were not reported when the request was
// acknowledged from the WAL, before the write.
func TestWALAcknowledgedRequestReportsRejectedSpans(t *testing.T) {
	srv, gate := startGated(t, func(c *collector.Config) { c.WAL.Dir = t.TempDir() })
	conn := dialGRPC(t, srv.Addr())
	trace := [16]byte{0x53}
	req := otlpTraces(trace, 3)
	req.ResourceSpans[0].ScopeSpans[0].Spans[2].TraceId = make([]byte, 16) // all zeros
	res, err := coltracepb.NewTraceServiceClient(conn).Export(withKey(t.Context(), apiKey), req)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if got := res.GetPartialSuccess().GetRejectedSpans(); got != 1 {
		t.Fatalf("partial success %v, want 1 rejected span", res.GetPartialSuccess())
	}
	if st := srv.Stats(); st.RejectedItems != 1 {
		t.Fatalf("rejected items %d, want 1", st.RejectedItems)
	}
	gate.open.Store(true)
	waitFor(t, "the WAL replayed", 30*time.Second, func() bool {
		rows, _ := spanCounts(t, gate.store, trace)
		return rows == 2
	})
}

// stubSpans are n spans of one trace from span number from on, each with
// a pad attribute of padBytes.
func stubSpans(tid trace.TraceID, from, n, padBytes int) []sdktrace.ReadOnlySpan {
	var stubs tracetest.SpanStubs
	now := time.Now()
	pad := strings.Repeat("p", padBytes)
	res := resource.NewSchemaless(attribute.String("service.name", "throttled"))
	for i := from; i < from+n; i++ {
		var sid trace.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i+1))
		stubs = append(stubs, tracetest.SpanStub{
			Name:        "throttled",
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
			StartTime:   now, EndTime: now.Add(time.Millisecond),
			Attributes: []attribute.KeyValue{attribute.String("pad", pad)},
			Resource:   res,
		})
	}
	return stubs.Snapshots()
}

// Defect: a full WAL answered RESOURCE_EXHAUSTED without RetryInfo (and
// 429 without Retry-After); OpenTelemetry's gRPC exporter then drops the
// spans for good.
func TestFullWALLosesNothingWithOTelExporters(t *testing.T) {
	srv, gate := startGated(t, func(c *collector.Config) {
		c.WAL.Dir = t.TempDir()
		c.WAL.MaxBytes = 2 << 20
		c.WAL.SegmentBytes = 1 << 20
	})
	const (
		senders   = 6
		batches   = 4 // per sender
		batchSize = 50
		padBytes  = 4 << 10
	)
	retry := struct {
		grpc otlptracegrpc.RetryConfig
		http otlptracehttp.RetryConfig
	}{
		otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 2 * time.Minute},
		otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 2 * time.Minute},
	}
	auth := map[string]string{"authorization": "Bearer " + apiKey}
	grpcExp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(srv.Addr()), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(auth), otlptracegrpc.WithCompressor("gzip"), otlptracegrpc.WithRetry(retry.grpc),
		otlptracegrpc.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	httpExp, err := otlptracehttp.New(t.Context(), otlptracehttp.WithEndpoint(srv.HTTPAddr()), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHeaders(auth), otlptracehttp.WithCompression(otlptracehttp.GzipCompression), otlptracehttp.WithRetry(retry.http),
		otlptracehttp.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	exporters := []struct {
		name  string
		exp   sdktrace.SpanExporter
		trace trace.TraceID
	}{{"otlptracegrpc", grpcExp, trace.TraceID{0x5a, 1}}, {"otlptracehttp", httpExp, trace.TraceID{0x5a, 2}}}
	t.Cleanup(func() {
		for _, e := range exporters {
			_ = e.exp.Shutdown(context.Background())
		}
	})

	var wg sync.WaitGroup
	errs := make(chan error, 2*senders*batches)
	for _, e := range exporters {
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range batches {
					from := (s*batches + b) * batchSize
					if err := e.exp.ExportSpans(t.Context(), stubSpans(e.trace, from, batchSize, padBytes)); err != nil {
						errs <- fmt.Errorf("%s: export spans %d..%d: %w", e.name, from, from+batchSize, err)
					}
				}
			}()
		}
	}
	// ClickHouse is "down": the WAL takes 2 MiB, then refuses.
	waitFor(t, "requests refused by the full WAL", time.Minute, func() bool { return srv.Stats().FailedBatches >= 8 })
	gate.open.Store(true)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("exporters still retrying after 3 minutes")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := uint64(senders * batches * batchSize)
	for _, e := range exporters {
		var tid [16]byte = e.trace
		waitFor(t, e.name+"'s spans stored", time.Minute, func() bool {
			rows, _ := spanCounts(t, gate.store, tid)
			return rows >= want
		})
		if rows, distinct := spanCounts(t, gate.store, tid); rows != want || distinct != want {
			t.Errorf("%s: stored %d rows, %d distinct spans; want %d of each", e.name, rows, distinct, want)
		}
	}
	if st := srv.Stats(); st.FailedBatches < 8 {
		t.Fatalf("only %d requests were refused: the WAL was never full", st.FailedBatches)
	}
}

func TestRetryableAnswersSayWhenToRetry(t *testing.T) {
	// Without a WAL, ClickHouse failing is UNAVAILABLE.
	srv, _ := startGated(t, func(c *collector.Config) { c.WAL.Enabled = false })
	conn := dialGRPC(t, srv.Addr())
	_, err := coltracepb.NewTraceServiceClient(conn).Export(withKey(t.Context(), apiKey), otlpTraces([16]byte{0x5b}, 1))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
	if _, ok := retryDelayOf(err); !ok {
		t.Fatalf("no RetryInfo in %v", status.Convert(err).Proto())
	}
	body, _ := proto.Marshal(otlpTraces([16]byte{0x5c}, 1))
	hdr := map[string]string{"Content-Type": "application/x-protobuf", "Authorization": "Bearer " + apiKey}
	resp, msg := postHeaders(t, "http://"+srv.HTTPAddr()+"/v1/traces", hdr, body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("got %d Retry-After %q %s, want 503 with Retry-After: 1", resp.StatusCode, resp.Header.Get("Retry-After"), msg)
	}
}

// A decoded call holds its size, not max_message_bytes, while it waits
// for its insert.
func TestDecodedCallHoldsItsSize(t *testing.T) {
	const maxMsg = 1 << 20
	srv, gate := startGated(t, func(c *collector.Config) { c.MaxMessageBytes = maxMsg })
	gate.held.Store(true)
	gate.open.Store(true)
	conn := dialGRPC(t, srv.Addr())
	req := otlpTraces([16]byte{0x64}, 3)
	done := make(chan error, 1)
	go func() {
		_, err := coltracepb.NewTraceServiceClient(conn).Export(withKey(t.Context(), apiKey), req)
		done <- err
	}()
	size := int64(proto.Size(req))
	waitFor(t, "the decoded call's hold", 10*time.Second, func() bool { return srv.Stats().InflightBytes == size })
	close(gate.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("export: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("export did not end")
	}
	waitFor(t, "the call's release", 10*time.Second, func() bool { return srv.Stats().InflightBytes == 0 })
}

// A zstd body is decompressed in one call (zstd.go), not through gRPC's
// size-limited stream: one that decompresses to more than
// max_message_bytes must still be refused as too large, and one within it
// stored.
func TestZstdBodyOverMaxMessageBytesIsRefused(t *testing.T) {
	const maxMsg = 1 << 20
	h := start(t, func(c *collector.Config) { c.MaxMessageBytes = maxMsg })
	conn := dialGRPC(t, h.srv.Addr())
	traces := coltracepb.NewTraceServiceClient(conn)
	zstdCall := grpc.UseCompressor(grpczstd.Name)
	_, err := traces.Export(withKey(t.Context(), apiKey), hugeRequest(maxMsg+1), zstdCall)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("zstd body over max_message_bytes: got %v, want ResourceExhausted", err)
	}
	if _, ok := retryDelayOf(err); ok {
		t.Fatalf("too large a body carries RetryInfo: %v", status.Convert(err).Proto())
	}
	if _, err := traces.Export(withKey(t.Context(), apiKey), hugeRequest(maxMsg/2), zstdCall); err != nil {
		t.Fatalf("zstd body within max_message_bytes: %v", err)
	}
}
