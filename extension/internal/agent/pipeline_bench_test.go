package agent

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/otlpreceiver"
	"github.com/lambdascope/lambdascope/proto/grpczstd"
)

// benchSpans is the OTLP/HTTP body of one trace of n spans with a few
// attributes each, as bench/extension's function sends.
func benchSpans(b *testing.B, n int) []byte {
	b.Helper()
	traceID := make([]byte, 16)
	_, _ = rand.Read(traceID)
	now := time.Now()
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	spans := make([]*tracepb.Span, n)
	for i := range spans {
		id := make([]byte, 8)
		_, _ = rand.Read(id)
		spans[i] = &tracepb.Span{
			TraceId: traceID, SpanId: id, Name: "db.query " + strconv.Itoa(i),
			Kind:              tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: uint64(now.Add(time.Duration(i) * time.Microsecond).UnixNano()),
			EndTimeUnixNano:   uint64(now.Add(time.Duration(i+1) * time.Microsecond).UnixNano()),
			Attributes:        []*commonpb.KeyValue{str("db.system", "dynamodb"), str("db.operation", "GetItem"), str("aws.dynamodb.table_names", "orders")},
		}
	}
	data, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "bench"), str("cloud.provider", "aws")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkPipeline1000Spans is the extension's CPU per invocation of a
// function sending 1,000 spans: the OTLP/HTTP request handled (decode,
// tracker, buffer), then the batch taken, encoded and zstd-compressed as
// the shipper sends it.
func BenchmarkPipeline1000Spans(b *testing.B) {
	body := benchSpans(b, 1000)
	buf := buffer.New(64<<20, 64<<20, nil)
	tracker := invocation.New(buf, &resourcepb.Resource{}, nil)
	recv, err := otlpreceiver.New(otlpreceiver.DefaultConfig(), pipeline{buf: buf, tracker: tracker}, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := recv.HTTPHandler()
	comp := encoding.GetCompressor(grpczstd.Name)
	var out bytes.Buffer
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		batch := buf.Take(1 << 20)
		data, err := proto.Marshal(batch.Request)
		if err != nil {
			b.Fatal(err)
		}
		out.Reset()
		w, err := comp.Compress(&out)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write(data)
		_ = w.Close()
		buf.MarkSent(batch.Counts)
	}
}
