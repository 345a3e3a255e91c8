package shipper

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// TestRequestCodecBytes: the codec's chunks put together are the bytes
// proto.Marshal gives for the request, its encoded resource spans are not
// copied, and the request keeps them.
func TestRequestCodecBytes(t *testing.T) {
	rs, err := proto.Marshal(&tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "a", TraceId: bytes.Repeat([]byte{1}, 16)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	field := protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), rs)
	withRaw := func(req *ingestv1.ExportRequest, raw []byte) *ingestv1.ExportRequest {
		req.ProtoReflect().SetUnknown(raw)
		return req
	}
	full := func() *ingestv1.ExportRequest {
		return &ingestv1.ExportRequest{
			BatchId:          []byte("0123456789abcdef"),
			SentTimeUnixNano: 42,
			Function:         &ingestv1.FunctionIdentity{Name: "checkout"},
			Invocations:      []*ingestv1.Invocation{{RequestId: "r1"}, {RequestId: "r2"}},
		}
	}
	tests := []struct {
		name   string
		req    *ingestv1.ExportRequest
		spans  [][]byte // the batch's Spans
		chunks int
	}{
		{"no encoded spans", &ingestv1.ExportRequest{BatchId: []byte("0123456789abcdef"), Invocations: []*ingestv1.Invocation{{RequestId: "r1"}}}, nil, 1},
		{"only encoded spans", withRaw(&ingestv1.ExportRequest{}, field), nil, 2},
		{"fields and encoded spans", withRaw(full(), append(append([]byte(nil), field...), field...)), nil, 2},
		{"fields and the batch's spans", full(), [][]byte{field, field}, 3},
		{"encoded spans and the batch's", withRaw(full(), field), [][]byte{field}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole := proto.Clone(tt.req).(*ingestv1.ExportRequest)
			whole = (&buffer.Batch{Request: whole, Spans: tt.spans}).Message()
			want, err := proto.Marshal(whole)
			if err != nil {
				t.Fatal(err)
			}
			data, err := RequestCodec{Spans: tt.spans}.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != tt.chunks {
				t.Errorf("%d chunks, want %d", len(data), tt.chunks)
			}
			if got := data.Materialize(); !bytes.Equal(got, want) {
				t.Errorf("encoded %x\nwant    %x", got, want)
			}
			raw := tt.req.ProtoReflect().GetUnknown()
			if len(tt.spans) > 0 {
				raw = tt.spans[len(tt.spans)-1]
			}
			if len(raw) > 0 {
				last := data[len(data)-1].ReadOnlyData()
				if &last[0] != &raw[0] {
					t.Error("the encoded resource spans were copied")
				}
			}
			if again, _ := proto.Marshal(tt.req); len(tt.spans) == 0 && !bytes.Equal(again, want) {
				t.Error("encoding changed the request")
			}
		})
	}
}

// encodedSpans adds n resource spans, encoded as the receiver hands them
// over, to buf, and returns them decoded.
func encodedSpans(t *testing.T, buf *buffer.Buffer, n int) []*tracepb.ResourceSpans {
	t.Helper()
	var rss []*tracepb.ResourceSpans
	for i := range n {
		rss = append(rss, &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			{Name: "encoded-" + strconv.Itoa(i), TraceId: bytes.Repeat([]byte{byte(i + 1)}, 16)},
		}}}})
	}
	for _, rs := range rss {
		data, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{rs}})
		if err != nil {
			t.Fatal(err)
		}
		traces, err := otlpwire.ScanTraces(data)
		if err != nil {
			t.Fatal(err)
		}
		if d := buf.AddRawSpans(traces.ResourceSpans); d != 0 {
			t.Fatalf("buffer dropped %d spans", d)
		}
	}
	return rss
}

// sameSpans fails unless req carries exactly want as its resource spans.
func sameSpans(t *testing.T, req *ingestv1.ExportRequest, want []*tracepb.ResourceSpans) {
	t.Helper()
	got := req.GetResourceSpans()
	if len(got) != len(want) {
		t.Fatalf("%d resource spans, want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("resource spans %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestEncodedSpansShippedOrSpooled: the function's spans, kept encoded
// and apart from the batch's request, reach the collector, and reach the
// spool whole when the collector does not take them: after the retry
// budget, and at shutdown.
func TestEncodedSpansShippedOrSpooled(t *testing.T) {
	tests := []struct {
		name string
		// fail is how many calls the collector refuses; the shipper gets
		// attempts calls per flush (0: no limit).
		fail, attempts int
		// atShutdown spools what is left with SpoolRemaining.
		atShutdown bool
	}{
		{name: "sent"},
		{name: "spooled after the retry budget", fail: 2, attempts: 2},
		{name: "spooled at shutdown", fail: 1000, atShutdown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := collectortest.Start(t)
			srv.Script(unavailable(tt.fail)...)
			sp := openSpool(t, t.TempDir())
			s, buf := newShipper(t, srv.Addr, func(c *Config) { c.MaxAttempts, c.Spool = tt.attempts, sp })
			addWork(buf, "req-1")
			want := encodedSpans(t, buf, 3)
			decoded := &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
				{Name: "handler", TraceId: bytes.Repeat([]byte{7}, 16), SpanId: bytes.Repeat([]byte{8}, 8)},
			}}}}
			// Decoded resource spans are encoded before the encoded ones.
			want = append([]*tracepb.ResourceSpans{decoded}, want...)
			ctx := t.Context()
			if tt.atShutdown {
				c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
				ctx = c
			}
			err := s.Flush(ctx)
			if tt.atShutdown {
				if err == nil {
					t.Fatal("Flush succeeded against a failing collector")
				}
				if spooled, dropped, err := s.SpoolRemaining(t.Context()); err != nil || spooled[buffer.Spans] != 4 || !dropped.IsZero() {
					t.Fatalf("SpoolRemaining = %v, %v, %v; want 4 spans spooled", spooled, dropped, err)
				}
			}
			if tt.fail == 0 {
				if err != nil {
					t.Fatalf("Flush: %v", err)
				}
				acc := srv.Accepted()
				if len(acc) != 1 {
					t.Fatalf("%d batches accepted, want 1", len(acc))
				}
				sameSpans(t, acc[0], want)
				return
			}
			e, ok := sp.Oldest()
			if !ok {
				t.Fatal("nothing spooled")
			}
			if e.Counts[buffer.Spans] != 4 {
				t.Errorf("spooled %v, want 4 spans", e.Counts)
			}
			sameSpans(t, e.Request, want)
		})
	}
}
