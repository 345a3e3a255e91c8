package buffer

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func spans(n int, name string) *tracepb.ResourceSpans {
	ss := &tracepb.ScopeSpans{}
	for range n {
		ss.Spans = append(ss.Spans, &tracepb.Span{Name: name, TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8)})
	}
	return &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{ss}}
}

func logs(n int) *logspb.ResourceLogs {
	sl := &logspb.ScopeLogs{}
	for range n {
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{TimeUnixNano: 1})
	}
	return &logspb.ResourceLogs{ScopeLogs: []*logspb.ScopeLogs{sl}}
}

func gauge(points int) *metricspb.ResourceMetrics {
	g := &metricspb.Gauge{}
	for range points {
		g.DataPoints = append(g.DataPoints, &metricspb.NumberDataPoint{TimeUnixNano: 1})
	}
	return &metricspb.ResourceMetrics{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
		{Name: "g", Data: &metricspb.Metric_Gauge{Gauge: g}},
		{Name: "s", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: g.DataPoints}}},
	}}}}
}

func TestTakeKeepsOrderAndSize(t *testing.T) {
	b := New(1<<20, 1<<20, nil)
	inv := &ingestv1.Invocation{RequestId: "r1"}
	b.AddInvocation(inv)
	b.AddSpans([]*tracepb.ResourceSpans{spans(3, "a"), spans(2, "b")})
	b.AddLogs([]*logspb.ResourceLogs{logs(4)})
	b.AddMetrics([]*metricspb.ResourceMetrics{gauge(2)})

	oneSpans := proto.Size(spans(3, "a"))
	tests := []struct {
		name       string
		maxBytes   int
		wantCounts Counts
	}{
		{"first item even when larger than max", 1, Counts{Invocations: 1}},
		{"as much as fits", oneSpans + 1, Counts{Spans: 3}},
		{"the rest", 1 << 20, Counts{Spans: 2, Logs: 4, MetricPoints: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch := b.Take(tt.maxBytes)
			if batch == nil {
				t.Fatal("Take returned nil")
			}
			if batch.Counts != tt.wantCounts {
				t.Errorf("counts = %v, want %v", batch.Counts, tt.wantCounts)
			}
			if got := proto.Size(batch.Request); got < batch.Bytes {
				t.Errorf("request size %d smaller than item bytes %d", got, batch.Bytes)
			}
		})
	}
	if b.Take(1<<20) != nil || b.Bytes() != 0 || b.OldestAge() != 0 {
		t.Error("buffer not empty after taking everything")
	}
}

func TestDropEpisodes(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	item := spans(10, "x")
	size := proto.Size(item)
	b := New(2*size, 0, log)

	for range 2 {
		if d := b.AddSpans([]*tracepb.ResourceSpans{item}); d != 0 {
			t.Fatalf("dropped %d spans below the cap", d)
		}
	}
	select {
	case <-b.Ready():
	default:
		t.Error("Ready not signalled above threshold")
	}
	for range 3 {
		if d := b.AddSpans([]*tracepb.ResourceSpans{item}); d != 10 {
			t.Fatalf("dropped %d spans over the cap, want 10", d)
		}
	}
	if b.AddInvocation(&ingestv1.Invocation{RequestId: "big", ErrorType: strings.Repeat("x", 3*size)}) {
		t.Fatal("oversized invocation accepted")
	}
	b.Take(size) // frees room for one item
	if d := b.AddSpans([]*tracepb.ResourceSpans{item}); d != 0 {
		t.Fatalf("dropped after draining: %d", d)
	}
	st := b.Stats()
	want := Stats{
		Received: Counts{Invocations: 1, Spans: 60},
		Dropped:  Counts{Invocations: 1, Spans: 30},
		Buffered: Counts{Spans: 20},
		Bytes:    2 * size,
	}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	logText := out.String()
	if n := strings.Count(logText, "buffer full"); n != 1 {
		t.Errorf("%d 'buffer full' lines, want 1 per episode:\n%s", n, logText)
	}
	if !strings.Contains(logText, "accepting telemetry again") || !strings.Contains(logText, "dropped.spans=30") {
		t.Errorf("episode end not logged with counts:\n%s", logText)
	}
}

func TestCountsString(t *testing.T) {
	tests := []struct {
		c    Counts
		want string
	}{
		{Counts{}, "none"},
		{Counts{Spans: 3, MetricPoints: 1}, "spans=3 metric_points=1"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.c.String(); got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
		})
	}
}
