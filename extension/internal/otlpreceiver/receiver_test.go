package otlpreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Consumer that keeps everything and rejects on demand.
type recorder struct {
	mu      sync.Mutex
	spans   []*tracepb.ResourceSpans
	logs    []*logspb.ResourceLogs
	metrics []*metricspb.ResourceMetrics
	reject  int
}

func (c *recorder) ConsumeSpans(rss []*tracepb.ResourceSpans) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spans = append(c.spans, rss...)
	return c.reject
}

func (c *recorder) ConsumeLogs(rls []*logspb.ResourceLogs) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = append(c.logs, rls...)
	return c.reject
}

func (c *recorder) ConsumeMetrics(rms []*metricspb.ResourceMetrics) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.metrics = append(c.metrics, rms...)
	return c.reject
}

// rawRecorder is a recorder that also takes encoded spans: it decodes
// what the Ingest API request would carry and records it as spans.
type rawRecorder struct {
	*recorder
	rawCalls int
	// err is a set of encoded spans that did not decode.
	err error
}

func (c *rawRecorder) ConsumeRawSpans(t *otlpwire.Traces) int {
	var fields []byte
	for _, rs := range t.ResourceSpans {
		fields = append(fields, rs.Field...)
	}
	req := &ingestv1.ExportRequest{}
	err := proto.Unmarshal(fields, req)
	c.mu.Lock()
	c.rawCalls++
	if err != nil {
		c.err = fmt.Errorf("encoded spans do not decode: %w", err)
	}
	c.mu.Unlock()
	return c.ConsumeSpans(req.GetResourceSpans())
}

// consumers are the two kinds of consumer, each test runs with both.
func consumers(reject int) []struct {
	name string
	rec  *recorder
	c    Consumer
} {
	dec, raw := &recorder{reject: reject}, &recorder{reject: reject}
	return []struct {
		name string
		rec  *recorder
		c    Consumer
	}{{"decoded", dec, dec}, {"encoded", raw, &rawRecorder{recorder: raw}}}
}

func startReceiver(t *testing.T, c Consumer) *Receiver {
	t.Helper()
	r, err := New(Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", MaxRequestBytes: 64 << 10}, c, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := r.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
	})
	return r
}

const traceHex = "5b8efff798038103d269b633813fc60c"
const spanHex = "eee19b7ec3c1b174"

var jsonTraces = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
 "scopeSpans":[{"scope":{"name":"my.library"},"spans":[{"traceId":"` + traceHex + `","spanId":"` + spanHex + `","parentSpanId":"",
 "name":"GET /orders","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",
 "attributes":[{"key":"faas.invocation_id","value":{"stringValue":"req-1"}}],"someFutureField":true}]}]}]}`

func protoTraces(t *testing.T) []byte {
	t.Helper()
	tid, _ := hex.DecodeString(traceHex)
	sid, _ := hex.DecodeString(spanHex)
	b, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: tid, SpanId: sid, Name: "GET /orders"}}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestHTTP(t *testing.T) {
	for _, cc := range consumers(0) {
		t.Run(cc.name, func(t *testing.T) { testHTTP(t, cc.rec, cc.c) })
	}
}

func testHTTP(t *testing.T, rec *recorder, c Consumer) {
	r := startReceiver(t, c)
	base := "http://" + r.HTTPAddr()
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		encoding    string
		body        []byte
		wantCode    int
		wantSpans   int
		wantLogs    int
		wantMetrics int
	}{
		{"protobuf traces", "POST", "/v1/traces", "application/x-protobuf", "", protoTraces(t), 200, 1, 0, 0},
		{"json traces with hex ids", "POST", "/v1/traces", "application/json", "", []byte(jsonTraces), 200, 1, 0, 0},
		{"gzip json traces", "POST", "/v1/traces", "application/json; charset=utf-8", "gzip", gz(t, []byte(jsonTraces)), 200, 1, 0, 0},
		{"json logs", "POST", "/v1/logs", "application/json", "", []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"stringValue":"hi"},"traceId":"` + traceHex + `"}]}]}]}`), 200, 0, 1, 0},
		{"json metrics", "POST", "/v1/metrics", "application/json", "", []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asInt":"3"}]}}]}]}]}`), 200, 0, 0, 1},
		{"wrong content type", "POST", "/v1/traces", "text/plain", "", []byte("x"), 415, 0, 0, 0},
		{"unknown encoding", "POST", "/v1/traces", "application/json", "br", []byte(jsonTraces), 415, 0, 0, 0},
		{"bad json", "POST", "/v1/traces", "application/json", "", []byte(`{"resourceSpans":[`), 400, 0, 0, 0},
		{"bad hex id", "POST", "/v1/traces", "application/json", "", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), 400, 0, 0, 0},
		{"bad protobuf", "POST", "/v1/traces", "application/x-protobuf", "", []byte{0xff, 0xff, 0xff}, 400, 0, 0, 0},
		{"protobuf with a bad nested span", "POST", "/v1/traces", "application/x-protobuf", "", []byte{0x0a, 0x04, 0x12, 0x02, 0x12, 0x05}, 400, 0, 0, 0},
		{"too large", "POST", "/v1/logs", "application/x-protobuf", "", make([]byte, 65<<10), 413, 0, 0, 0},
		{"too large after gzip", "POST", "/v1/logs", "application/x-protobuf", "gzip", gz(t, make([]byte, 65<<10)), 413, 0, 0, 0},
		{"GET", "GET", "/v1/traces", "application/json", "", nil, 405, 0, 0, 0},
		{"unknown path", "POST", "/v1/profiles", "application/json", "", []byte(`{}`), 404, 0, 0, 0},
	}
	malformed := 0
	for _, tt := range tests {
		if tt.wantCode == 400 {
			malformed++
		}
		t.Run(tt.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.spans, rec.logs, rec.metrics = nil, nil, nil
			rec.mu.Unlock()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, base+tt.path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.wantCode, body)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.spans) != tt.wantSpans || len(rec.logs) != tt.wantLogs || len(rec.metrics) != tt.wantMetrics {
				t.Errorf("consumed %d/%d/%d resources, want %d/%d/%d", len(rec.spans), len(rec.logs), len(rec.metrics), tt.wantSpans, tt.wantLogs, tt.wantMetrics)
			}
			if tt.wantSpans > 0 {
				sp := rec.spans[0].GetScopeSpans()[0].GetSpans()[0]
				if hex.EncodeToString(sp.GetTraceId()) != traceHex || hex.EncodeToString(sp.GetSpanId()) != spanHex {
					t.Errorf("ids %x/%x, want %s/%s", sp.GetTraceId(), sp.GetSpanId(), traceHex, spanHex)
				}
			}
			if tt.wantCode >= 400 && tt.wantCode != 404 {
				st := &status.Status{}
				var derr error
				if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
					derr = protojson.Unmarshal(body, st)
				} else {
					derr = proto.Unmarshal(body, st)
				}
				if derr != nil || st.GetMessage() == "" {
					t.Errorf("error body is not a google.rpc.Status: %q (%v)", body, derr)
				}
			}
		})
	}
	if got := r.Stats().Malformed; got != uint64(malformed) {
		t.Errorf("Stats().Malformed = %d, want %d", got, malformed)
	}
	if raw, ok := c.(*rawRecorder); ok && (raw.rawCalls != 1 || raw.err != nil) {
		t.Errorf("%d protobuf trace requests passed encoded, want 1 (%v)", raw.rawCalls, raw.err)
	}
}

func TestHTTPPartialSuccess(t *testing.T) {
	for _, cc := range consumers(1) {
		t.Run(cc.name, func(t *testing.T) { testHTTPPartialSuccess(t, cc.c) })
	}
}

func testHTTPPartialSuccess(t *testing.T, c Consumer) {
	r := startReceiver(t, c)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+r.HTTPAddr()+"/v1/traces", bytes.NewReader(protoTraces(t)))
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	out := &coltracepb.ExportTraceServiceResponse{}
	if err := proto.Unmarshal(body, out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d body %q: %v", resp.StatusCode, body, err)
	}
	if out.GetPartialSuccess().GetRejectedSpans() != 1 {
		t.Errorf("partial success = %v", out.GetPartialSuccess())
	}
}

func TestGRPC(t *testing.T) {
	for _, cc := range consumers(0) {
		t.Run(cc.name, func(t *testing.T) { testGRPC(t, cc.rec, cc.c) })
	}
}

func testGRPC(t *testing.T, rec *recorder, c Consumer) {
	r := startReceiver(t, c)
	conn, err := grpc.NewClient(r.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	tests := []struct {
		name string
		call func() error
	}{
		{"traces", func() error {
			req := &coltracepb.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(protoTraces(t), req); err != nil {
				return err
			}
			_, err := coltracepb.NewTraceServiceClient(conn).Export(t.Context(), req, grpc.UseCompressor("gzip"))
			return err
		}},
		{"logs", func() error {
			_, err := collogspb.NewLogsServiceClient(conn).Export(t.Context(), &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{}}})
			return err
		}},
		{"metrics", func() error {
			_, err := colmetricspb.NewMetricsServiceClient(conn).Export(t.Context(), &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{}}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatalf("Export: %v", err)
			}
		})
	}
	t.Run("malformed traces", func(t *testing.T) {
		// A resource spans whose scope spans claims more bytes than it has.
		bad := []byte{0x0a, 0x02, 0x12, 0x05}
		err := conn.Invoke(t.Context(), coltracepb.TraceService_Export_FullMethodName, rawMessage(bad), &coltracepb.ExportTraceServiceResponse{})
		if err == nil {
			t.Fatal("Export of a malformed request succeeded")
		}
		if got := r.Stats().Malformed; got != 1 {
			t.Errorf("Stats().Malformed = %d, want 1", got)
		}
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.spans) != 1 || len(rec.logs) != 1 || len(rec.metrics) != 1 {
		t.Errorf("consumed %d/%d/%d", len(rec.spans), len(rec.logs), len(rec.metrics))
	}
	if sp := rec.spans[0].GetScopeSpans()[0].GetSpans()[0]; hex.EncodeToString(sp.GetTraceId()) != traceHex {
		t.Errorf("trace ID %x, want %s", sp.GetTraceId(), traceHex)
	}
	if raw, ok := c.(*rawRecorder); ok && (raw.rawCalls != 1 || raw.err != nil) {
		t.Errorf("%d trace requests passed encoded, want 1 (%v)", raw.rawCalls, raw.err)
	}
}

// rawMessage is a message that encodes to data as it is (its unknown
// fields), whatever data holds.
func rawMessage(data []byte) proto.Message {
	m := &coltracepb.ExportTraceServiceRequest{}
	m.ProtoReflect().SetUnknown(data)
	return m
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(jsonTraces), true, false)
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"`+spanHex+`"}]}]}]}`), true, false)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, false, false)
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00}, false, true)
	f.Fuzz(func(t *testing.T, data []byte, isJSON, gzipped bool) {
		enc := EncodingProtobuf
		if isJSON {
			enc = EncodingJSON
		}
		ce := ""
		if gzipped {
			ce = "gzip"
		}
		body, err := ReadBody(bytes.NewReader(data), ce, 1<<20)
		if err != nil {
			if !errors.Is(err, ErrBadBody) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("ReadBody error %v is not classified", err)
			}
			return
		}
		for _, msg := range []proto.Message{&coltracepb.ExportTraceServiceRequest{}, &collogspb.ExportLogsServiceRequest{}, &colmetricspb.ExportMetricsServiceRequest{}} {
			if err := Decode(body, enc, msg); err != nil && !errors.Is(err, ErrBadBody) {
				t.Fatalf("Decode error %v is not ErrBadBody", err)
			}
		}
	})
}

func BenchmarkDecodeJSONTraces(b *testing.B) {
	data := []byte(jsonTraces)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(data, EncodingJSON, &coltracepb.ExportTraceServiceRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExportBeforeServing: once Listen has bound the port, a function that
// exports before the receiver serves waits instead of being refused, and
// its request is handled when Start runs.
func TestExportBeforeServing(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HTTPAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	r, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	if err := r.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	answered := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+r.HTTPAddr()+"/v1/traces", bytes.NewReader(protoTraces(t)))
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := client.Do(req)
		if err != nil {
			answered <- -1
			return
		}
		_ = resp.Body.Close()
		answered <- resp.StatusCode
	}()
	select {
	case s := <-answered:
		t.Fatalf("answered (%d) before the receiver served", s)
	case <-time.After(100 * time.Millisecond):
	}
	rec := &recorder{}
	r.SetConsumer(rec)
	if err := r.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if s := <-answered; s != http.StatusOK {
		t.Fatalf("status %d, want 200", s)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.spans) == 0 {
		t.Error("the early export was not consumed")
	}
}

// TestShutdownAfterListenOnly releases ports bound but never served.
func TestShutdownAfterListenOnly(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HTTPAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	r, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	addr := r.HTTPAddr()
	if err := r.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port still bound after Shutdown: %v", err)
	}
	_ = ln.Close()
	if err := r.Start(t.Context()); err == nil {
		t.Error("Start after Shutdown: no error")
	}
}

// TestExportResponse holds the hand-encoded responses to the generated
// Export*ServiceResponse messages, in both encodings.
func TestExportResponse(t *testing.T) {
	tests := []struct {
		name     string
		resp     exportResponse
		msg      proto.Message
		rejected func(proto.Message) (int64, string)
	}{
		{"traces", exportResponse{signal: signalTraces, rejected: 3}, &coltracepb.ExportTraceServiceResponse{}, func(m proto.Message) (int64, string) {
			ps := m.(*coltracepb.ExportTraceServiceResponse).GetPartialSuccess()
			return ps.GetRejectedSpans(), ps.GetErrorMessage()
		}},
		{"logs", exportResponse{signal: signalLogs, rejected: 300}, &collogspb.ExportLogsServiceResponse{}, func(m proto.Message) (int64, string) {
			ps := m.(*collogspb.ExportLogsServiceResponse).GetPartialSuccess()
			return ps.GetRejectedLogRecords(), ps.GetErrorMessage()
		}},
		{"metrics", exportResponse{signal: signalMetrics, rejected: 1 << 40}, &colmetricspb.ExportMetricsServiceResponse{}, func(m proto.Message) (int64, string) {
			ps := m.(*colmetricspb.ExportMetricsServiceResponse).GetPartialSuccess()
			return ps.GetRejectedDataPoints(), ps.GetErrorMessage()
		}},
		{"traces, nothing rejected", exportResponse{signal: signalTraces}, &coltracepb.ExportTraceServiceResponse{}, func(m proto.Message) (int64, string) {
			ps := m.(*coltracepb.ExportTraceServiceResponse).GetPartialSuccess()
			return ps.GetRejectedSpans(), ps.GetErrorMessage()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantMsg := rejectedMessage
			if tt.resp.rejected == 0 {
				wantMsg = ""
			}
			for _, enc := range []Encoding{EncodingProtobuf, EncodingJSON} {
				msg := tt.msg.ProtoReflect().New().Interface()
				data := tt.resp.encode(enc)
				var err error
				if enc == EncodingJSON {
					err = protojson.Unmarshal(data, msg)
				} else {
					err = proto.Unmarshal(data, msg)
				}
				if err != nil {
					t.Fatalf("encoding %d: %q does not decode: %v", enc, data, err)
				}
				if n, m := tt.rejected(msg); n != int64(tt.resp.rejected) || m != wantMsg {
					t.Errorf("encoding %d: decoded %d %q, want %d %q", enc, n, m, tt.resp.rejected, wantMsg)
				}
				if want, _ := Encode(msg, enc); enc == EncodingProtobuf && !bytes.Equal(data, want) {
					t.Errorf("protobuf %x, want %x", data, want)
				}
			}
		})
	}
}

func TestGRPCPartialSuccess(t *testing.T) {
	for _, cc := range consumers(2) {
		t.Run(cc.name, func(t *testing.T) {
			r := startReceiver(t, cc.c)
			conn, err := grpc.NewClient(r.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			req := &coltracepb.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(protoTraces(t), req); err != nil {
				t.Fatal(err)
			}
			tr, err := coltracepb.NewTraceServiceClient(conn).Export(t.Context(), req)
			if err != nil || tr.GetPartialSuccess().GetRejectedSpans() != 2 || tr.GetPartialSuccess().GetErrorMessage() != rejectedMessage {
				t.Errorf("traces: %v, %v", tr, err)
			}
			lr, err := collogspb.NewLogsServiceClient(conn).Export(t.Context(), &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{}}})
			if err != nil || lr.GetPartialSuccess().GetRejectedLogRecords() != 2 {
				t.Errorf("logs: %v, %v", lr, err)
			}
			mr, err := colmetricspb.NewMetricsServiceClient(conn).Export(t.Context(), &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{}}})
			if err != nil || mr.GetPartialSuccess().GetRejectedDataPoints() != 2 {
				t.Errorf("metrics: %v, %v", mr, err)
			}
		})
	}
}

// keeper keeps the encoded spans it is given as they are, as the buffer
// does, without copying them.
type keeper struct {
	recorder
	kept [][]byte
}

func (k *keeper) ConsumeRawSpans(t *otlpwire.Traces) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, rs := range t.ResourceSpans {
		k.kept = append(k.kept, rs.Field)
	}
	return 0
}

// TestKeptSpansOutliveLaterRequests: the encoded spans of a request, kept
// as they were handed over, are unchanged by the requests that follow,
// whichever way their bodies came: of a known length (read into a buffer
// the spans keep), chunked or gzip-compressed (read into a recycled
// buffer and copied).
func TestKeptSpansOutliveLaterRequests(t *testing.T) {
	k := &keeper{}
	r := startReceiver(t, k)
	request := func(name string) []byte {
		b, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: name, TraceId: bytes.Repeat([]byte{1}, 16)}}}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var names []string
	for i := range 9 {
		name := fmt.Sprintf("span-%d-%s", i, strings.Repeat("x", 100*i))
		names = append(names, name)
		body := request(name)
		var rd io.Reader = bytes.NewReader(body)
		enc := ""
		switch i % 3 {
		case 1:
			rd = io.MultiReader(rd) // no length: chunked
		case 2:
			rd, enc = bytes.NewReader(gz(t, body)), "gzip"
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+r.HTTPAddr()+"/v1/traces", rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.kept) != len(names) {
		t.Fatalf("%d resource spans kept, want %d", len(k.kept), len(names))
	}
	for i, field := range k.kept {
		var got ingestv1.ExportRequest
		if err := proto.Unmarshal(field, &got); err != nil {
			t.Fatalf("kept spans %d do not decode: %v", i, err)
		}
		if n := got.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()[0].GetName(); n != names[i] {
			t.Errorf("kept spans %d are named %.20q…, want %.20q…", i, n, names[i])
		}
	}
}

// logRecorder is a slog.Handler that keeps the records at or above Warn.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (h *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	msg := rec.Message
	rec.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	h.msgs = append(h.msgs, rec.Level.String()+" "+msg)
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

func (h *logRecorder) logged() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

func newLoggedReceiver(t *testing.T, httpAddr string) (*Receiver, *logRecorder) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.HTTPAddr, cfg.GRPCAddr = httpAddr, "127.0.0.1:0"
	h := &logRecorder{}
	r, err := New(cfg, &recorder{}, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	return r, h
}

// TestShutdownWhileStarting stops the receiver right after Start, as an
// agent told to shut down while it starts does: a normal shutdown logs no
// error.
func TestShutdownWhileStarting(t *testing.T) {
	for i := range 50 {
		r, h := newLoggedReceiver(t, "127.0.0.1:0")
		if err := r.Start(t.Context()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := r.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if got := h.logged(); len(got) > 0 {
			t.Fatalf("round %d: a normal shutdown logged %q", i, got)
		}
	}
}

// TestShutdownBeforeGRPCServes has Shutdown stop the gRPC server before
// it serves (its time to begin ran out): still a normal shutdown, with no
// error logged.
func TestShutdownBeforeGRPCServes(t *testing.T) {
	stopping := make(chan struct{})
	testHookBeforeServe = func() { <-stopping }
	testHookGRPCStopping = func() { close(stopping) }
	t.Cleanup(func() { testHookBeforeServe, testHookGRPCStopping = nil, nil })
	r, h := newLoggedReceiver(t, "127.0.0.1:0")
	if err := r.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_ = r.Shutdown(ctx) // may say that its time ran out
	if got := h.logged(); len(got) > 0 {
		t.Fatalf("a normal shutdown logged %q", got)
	}
}

// failingListener fails its first Accept for good.
type failingListener struct{ net.Listener }

func (failingListener) Accept() (net.Conn, error) { return nil, errors.New("accept: device on fire") }

// TestGRPCServeFailureLogged: a gRPC server that stops on its own is an
// error, and says why.
func TestGRPCServeFailureLogged(t *testing.T) {
	r, h := newLoggedReceiver(t, "") // only the gRPC server
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Adopt(nil, failingListener{ln})
	if err := r.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	r.wg.Wait() // the gRPC server has returned
	got := h.logged()
	if len(got) != 1 || !strings.Contains(got[0], "ERROR OTLP/gRPC receiver stopped") || !strings.Contains(got[0], "device on fire") {
		t.Errorf("logged %q, want the gRPC server's failure", got)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	_ = ln.Close()
}
