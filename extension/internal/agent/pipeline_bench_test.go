package agent

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/grpc/encoding"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/otlpreceiver"
	"github.com/lambdascope/lambdascope/extension/internal/otlpwire/otlpwiretest"
	"github.com/lambdascope/lambdascope/extension/internal/shipper"
	"github.com/lambdascope/lambdascope/proto/grpczstd"
)

// benchSpans is the OTLP/HTTP body of one trace of n spans with a few
// attributes each, as bench/extension's function sends.
func benchSpans(b *testing.B, n int) []byte {
	b.Helper()
	data, err := otlpwiretest.TraceRequest(n, "")
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkPipeline1000Spans is the extension's CPU per invocation of a
// function sending 1,000 spans: the OTLP/HTTP request handled (decode,
// tracker, buffer), then the batch taken, encoded and zstd-compressed as
// the shipper sends it (its codec, then the compressor gRPC calls).
func BenchmarkPipeline1000Spans(b *testing.B) { benchmarkPipeline(b, 1) }

// BenchmarkPipeline1000SpansTwoExports is the same for two invocations'
// exports shipped in one batch, as when a busy function's flush falls
// behind; the figures are per batch.
func BenchmarkPipeline1000SpansTwoExports(b *testing.B) { benchmarkPipeline(b, 2) }

func benchmarkPipeline(b *testing.B, exports int) {
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
	b.SetBytes(int64(exports * len(body)))
	for b.Loop() {
		for range exports {
			req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-protobuf")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
		batch := buf.Take(1 << 20)
		if batch.Counts[buffer.Spans] != uint64(exports*1000) {
			b.Fatalf("batch of %v, want %d spans", batch.Counts, exports*1000)
		}
		data, err := shipper.RequestCodec{Spans: batch.Spans}.Marshal(batch.Request)
		if err != nil {
			b.Fatal(err)
		}
		out.Reset()
		w, err := comp.Compress(&out)
		if err != nil {
			b.Fatal(err)
		}
		for _, chunk := range data {
			_, _ = w.Write(chunk.ReadOnlyData())
		}
		_ = w.Close()
		buf.MarkSent(batch.Counts)
	}
}
