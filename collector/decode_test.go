package collector

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// spoil marshals m and replaces the bytes of marker, a string in m, with
// as many bytes that are not UTF-8.
func spoil(t *testing.T, m proto.Message, marker string) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(marker)) {
		t.Fatalf("marker %q not in the message", marker)
	}
	return bytes.ReplaceAll(b, []byte(marker), bytes.Repeat([]byte{0xff}, len(marker)))
}

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func TestDecodeLenientDropsOnlyItemsWithBadStrings(t *testing.T) {
	logs := func(bodies ...string) *collogspb.ExportLogsServiceRequest {
		var recs []*logspb.LogRecord
		for _, b := range bodies {
			recs = append(recs, &logspb.LogRecord{Body: str(b)})
		}
		return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}}}}}
	}
	points := &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{
		Metrics: []*metricspb.Metric{{Name: "m", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
			{Attributes: []*commonpb.KeyValue{{Key: "k", Value: str("BADVALUE")}}}, {}, {},
		}}}}},
	}}}}}
	ingest := func(fn, inv string) *ingestv1.ExportRequest {
		return &ingestv1.ExportRequest{BatchId: make([]byte, 16), Function: &ingestv1.FunctionIdentity{Name: fn},
			Invocations: []*ingestv1.Invocation{{RequestId: inv}, {RequestId: "ok"}}}
	}
	tests := []struct {
		name     string
		body     []byte
		into     proto.Message
		rejected int
		err      bool
		kept     func(proto.Message) int
		wantKept int
	}{
		{"valid", func() []byte { b, _ := proto.Marshal(logs("a", "b")); return b }(), &collogspb.ExportLogsServiceRequest{}, 0, false,
			func(m proto.Message) int {
				return len(m.(*collogspb.ExportLogsServiceRequest).ResourceLogs[0].ScopeLogs[0].LogRecords)
			}, 2},
		{"one bad log body", spoil(t, logs("a", "BADBODY", "c"), "BADBODY"), &collogspb.ExportLogsServiceRequest{}, 1, false,
			func(m proto.Message) int {
				return len(m.(*collogspb.ExportLogsServiceRequest).ResourceLogs[0].ScopeLogs[0].LogRecords)
			}, 2},
		{"one bad data point", spoil(t, points, "BADVALUE"), &colmetricspb.ExportMetricsServiceRequest{}, 1, false,
			func(m proto.Message) int {
				return len(m.(*colmetricspb.ExportMetricsServiceRequest).ResourceMetrics[0].ScopeMetrics[0].Metrics[0].GetGauge().DataPoints)
			}, 2},
		{"one bad invocation", spoil(t, ingest("fn", "BADREQUEST"), "BADREQUEST"), &ingestv1.ExportRequest{}, 1, false,
			func(m proto.Message) int { return len(m.(*ingestv1.ExportRequest).Invocations) }, 1},
		{"bad function name", spoil(t, ingest("BADFUNCTION", "r"), "BADFUNCTION"), &ingestv1.ExportRequest{}, 0, true, nil, 0},
		{"not protobuf", []byte{0x0a, 0xff, 0xff, 0xff, 0x0f}, &collogspb.ExportLogsServiceRequest{}, 0, true, nil, 0},
		{"truncated", func() []byte { b, _ := proto.Marshal(logs("abcdef")); return b[:len(b)-2] }(), &collogspb.ExportLogsServiceRequest{}, 0, true, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rejected, err := decodeLenient(tt.body, tt.into)
			if tt.err {
				if !errors.Is(err, errBadPayload) {
					t.Fatalf("got %v, want errBadPayload", err)
				}
				return
			}
			if err != nil || rejected != tt.rejected {
				t.Fatalf("got %d rejected, %v; want %d", rejected, err, tt.rejected)
			}
			if kept := tt.kept(tt.into); kept != tt.wantKept {
				t.Fatalf("kept %d items, want %d", kept, tt.wantKept)
			}
		})
	}
}

func TestUnaryForgetsEveryDecodingNote(t *testing.T) {
	f := newFront(Config{NoAuth: true, MaxInflightBytes: 1 << 20, MaxMessageBytes: 1 << 20}, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	handler := func(context.Context, any) (any, error) { return nil, nil }
	for _, method := range []string{"/grpc.health.v1.Health/Check", traceExportMethod} {
		req := &collogspb.ExportLogsServiceRequest{}
		if err := f.codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0xff, 0xff, 0xff, 0x0f})}, req); err != nil {
			t.Fatalf("the codec failed: %v", err)
		}
		_, err := f.unary(t.Context(), req, &grpc.UnaryServerInfo{FullMethod: method}, handler)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: got %v, want InvalidArgument", method, err)
		}
		n := 0
		f.codec.notes.Range(func(any, any) bool { n++; return true })
		if n != 0 {
			t.Fatalf("%s: %d decoding notes left behind", method, n)
		}
	}
}

const traceExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
