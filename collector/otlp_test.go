package collector_test

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/collector"
)

func otlpTraces(traceID [16]byte, spans int, attrs ...*commonpb.KeyValue) *coltracepb.ExportTraceServiceRequest {
	now := time.Now()
	var ss []*tracepb.Span
	for i := range spans {
		ss = append(ss, &tracepb.Span{
			TraceId: traceID[:], SpanId: []byte{9, 8, 7, 6, 5, 4, byte(i >> 8), byte(i + 1)}, Name: "otlp-op",
			StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(time.Millisecond).UnixNano()),
			Attributes: attrs,
		})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "checkout"}}},
		}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: ss}},
	}}}
}

func post(t *testing.T, url, contentType, encoding, key string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func TestOTLPReceiversStoreSpans(t *testing.T) {
	h := start(t)
	conn, err := grpc.NewClient(h.srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	traceClient := coltracepb.NewTraceServiceClient(conn)
	base := "http://" + h.srv.HTTPAddr() + "/v1/traces"

	tests := []struct {
		name  string
		trace [16]byte
		send  func(t *testing.T, req *coltracepb.ExportTraceServiceRequest)
	}{
		{"grpc", [16]byte{0x11, 1}, func(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
			if _, err := traceClient.Export(withKey(t.Context(), apiKey), req); err != nil {
				t.Fatalf("OTLP gRPC export: %v", err)
			}
		}},
		{"http protobuf gzip", [16]byte{0x11, 2}, func(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
			b, _ := proto.Marshal(req)
			if code, body := post(t, base, "application/x-protobuf", "gzip", apiKey, gz(t, b)); code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
		}},
		{"http json", [16]byte{0x11, 3}, func(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
			sp := req.ResourceSpans[0].ScopeSpans[0].Spans
			var spans []string
			for _, s := range sp {
				spans = append(spans, fmt.Sprintf(`{"traceId":%q,"spanId":%q,"name":"otlp-op","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}`,
					hex.EncodeToString(s.TraceId), hex.EncodeToString(s.SpanId), s.StartTimeUnixNano, s.EndTimeUnixNano))
			}
			body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeSpans":[{"spans":[` +
				strings.Join(spans, ",") + `]}]}]}`
			if code, resp := post(t, base, "application/json", "", apiKey, []byte(body)); code != http.StatusOK {
				t.Fatalf("status %d: %s", code, resp)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.send(t, otlpTraces(tt.trace, 3))
			spans, err := h.store.SpansByTraceID(t.Context(), tt.trace)
			if err != nil {
				t.Fatalf("read spans: %v", err)
			}
			if len(spans) != 3 {
				t.Fatalf("stored %d spans, want 3", len(spans))
			}
			if spans[0].Name != "otlp-op" {
				t.Fatalf("span name %q, want otlp-op", spans[0].Name)
			}
		})
	}
}

func TestOTLPHTTPRefusesBadRequestsWithClearStatuses(t *testing.T) {
	h := start(t, func(c *collector.Config) {
		c.MaxMessageBytes = 64 << 10
		c.MaxBatchItems = 50
	})
	base := "http://" + h.srv.HTTPAddr() + "/v1/traces"
	good, _ := proto.Marshal(otlpTraces([16]byte{0x22}, 2))
	many, _ := proto.Marshal(otlpTraces([16]byte{0x23}, 51))
	big := bytes.Repeat([]byte{'x'}, 65<<10)
	tests := []struct {
		name, ct, enc, key string
		body               []byte
		code               int
		want               string
	}{
		{"no key", "application/x-protobuf", "", "", good, 401, "missing authorization"},
		{"wrong key", "application/json", "", "nope", []byte(`{}`), 401, "unknown API key"},
		{"garbage protobuf", "application/x-protobuf", "", apiKey, []byte{0xff, 0xff, 0xff}, 400, "decode protobuf"},
		{"garbage json", "application/json", "", apiKey, []byte(`{"resourceSpans":`), 400, "decode JSON"},
		{"bad hex id", "application/json", "", apiKey, []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), 400, "traceId"},
		{"bad gzip", "application/x-protobuf", "gzip", apiKey, good, 400, "gzip"},
		{"unknown encoding", "application/x-protobuf", "br", apiKey, good, 400, "Content-Encoding"},
		{"too large", "application/x-protobuf", "", apiKey, big, 413, "max_message_bytes"},
		{"too large once unzipped", "application/x-protobuf", "gzip", apiKey, gz(t, big), 413, "max_message_bytes"},
		{"too many items", "application/x-protobuf", "", apiKey, many, 400, "max_batch_items"},
		{"good", "application/x-protobuf", "", apiKey, good, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(t, base, tt.ct, tt.enc, tt.key, tt.body)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tt.code, tt.want)
			}
		})
	}
	if spans, _ := h.store.SpansByTraceID(t.Context(), [16]byte{0x22}); len(spans) != 2 {
		t.Fatalf("good request stored %d spans, want 2", len(spans))
	}
	if spans, _ := h.store.SpansByTraceID(t.Context(), [16]byte{0x23}); len(spans) != 0 {
		t.Fatalf("refused request stored %d spans", len(spans))
	}
	_, metrics := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	if !strings.Contains(metrics, `lambdascope_collector_rejected_items_total{reason="too_many_items",signal="spans"} 51`) {
		t.Fatalf("metrics do not count the 51 refused spans:\n%s", grep(metrics, "rejected"))
	}
}

// TestOTLPHTTPJSONIsDecodedStrictly: the collector decodes OTLP/JSON as
// the extension does, refusing IDs of the wrong length (a 3-byte log trace
// ID was stored as zeros), data after the body and deep nesting.
func TestOTLPHTTPJSONIsDecodedStrictly(t *testing.T) {
	h := start(t)
	base := "http://" + h.srv.HTTPAddr()
	deep := `{"stringValue":"x"}`
	for range 40 {
		deep = `{"arrayValue":{"values":[` + deep + `]}}`
	}
	tests := []struct {
		name, path, ct, body string
		code                 int
		want                 string
	}{
		{"3-byte log trace ID", "/v1/logs", "application/json",
			`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"abcdef","body":{"stringValue":"x"}}]}]}]}`, 400, "is not 16 hex-encoded bytes"},
		{"short log span ID", "/v1/logs", "application/json",
			`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"01","body":{"stringValue":"x"}}]}]}]}`, 400, "spanId"},
		{"data after the body", "/v1/logs", "application/json",
			`{"resourceLogs":[]} {"resourceLogs":[]}`, 400, "data after the top-level value"},
		{"nested too deep", "/v1/logs", "application/json",
			`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":` + deep + `}]}]}]}`, 400, "nested more than"},
		{"unknown content type", "/v1/logs", "application/xml", `<logs/>`, 415, "not supported"},
		{"good log", "/v1/logs", "application/json",
			`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"0102030405060708090a0b0c0d0e0f10","body":{"stringValue":"x"}}]}]}]}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(t, base+tt.path, tt.ct, "", apiKey, []byte(tt.body))
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tt.code, tt.want)
			}
		})
	}
}

func TestGRPCTooManyItemsIsInvalidArgument(t *testing.T) {
	h := start(t, func(c *collector.Config) { c.MaxBatchItems = 5 })
	_, err := h.client.Export(withKey(t.Context(), apiKey), batch(t, [16]byte{0x24}, 6))
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "max_batch_items") {
		t.Fatalf("got %v, want InvalidArgument naming max_batch_items", err)
	}
}

func TestAttributeLimitsTruncateValuesAndDropLongKeys(t *testing.T) {
	h := start(t, func(c *collector.Config) {
		c.MaxAttributeKeyBytes = 12
		c.MaxAttributeValueBytes = 8
	})
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	trace := [16]byte{0x25}
	req := otlpTraces(trace, 1, str("short", "héllo world"), str("much-too-long-key", "x"))
	b, _ := proto.Marshal(req)
	if code, body := post(t, "http://"+h.srv.HTTPAddr()+"/v1/traces", "application/x-protobuf", "", apiKey, b); code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	spans, err := h.store.SpansByTraceID(t.Context(), trace)
	if err != nil || len(spans) != 1 {
		t.Fatalf("read spans: %v, %d", err, len(spans))
	}
	got := fmt.Sprint(spans[0].Attributes)
	if !strings.Contains(got, "short:héllo w ") && !strings.Contains(got, "short:héllo w]") || strings.Contains(got, "héllo wo") || strings.Contains(got, "much-too-long-key") {
		t.Fatalf("attributes %s: want short truncated and the long key dropped", got)
	}
	_, metrics := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	for _, want := range []string{"lambdascope_collector_truncated_attributes_total 1", `lambdascope_collector_dropped_items_total{reason="key_too_long",signal="attributes"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	h := start(t)
	admin := "http://" + h.srv.AdminAddr()
	if code, _ := get(t, admin+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, body := get(t, admin+"/readyz"); code != 200 {
		t.Fatalf("readyz %d: %s", code, body)
	}
	if _, err := h.client.Export(withKey(t.Context(), apiKey), batch(t, [16]byte{0x26}, 4)); err != nil {
		t.Fatal(err)
	}
	_, m := get(t, admin+"/metrics")
	for _, want := range []string{
		`lambdascope_collector_received_items_total{signal="spans"} 4`,
		`lambdascope_collector_written_items_total{signal="spans"} 4`,
		`lambdascope_collector_insert_duration_seconds_count{path="direct",result="ok"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func grep(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
