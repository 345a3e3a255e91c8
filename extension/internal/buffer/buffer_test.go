package buffer

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
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
			if got := proto.Size(batch.Message()); got < batch.Bytes {
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
		// Six span items of size bytes, dropped or not; not the invocation.
		ReceivedBytes: 6 * uint64(size),
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

// rawSpans encodes resource spans as the receiver hands them over.
func rawSpans(t *testing.T, rss ...*tracepb.ResourceSpans) []otlpwire.ResourceSpans {
	t.Helper()
	data, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rss})
	if err != nil {
		t.Fatal(err)
	}
	traces, err := otlpwire.ScanTraces(data)
	if err != nil {
		t.Fatal(err)
	}
	return traces.ResourceSpans
}

func TestRawSpans(t *testing.T) {
	item := spans(10, "raw")
	size := proto.Size(item)
	var spilled []*Batch
	b := New(3*size, 1<<20, nil)
	b.SetOverflow(func(batch *Batch) { spilled = append(spilled, batch) })

	// Encoded and decoded spans count and weigh the same.
	added := rawSpans(t, item, spans(10, "raw"))
	if d := b.AddRawSpans(added); d != 0 {
		t.Fatalf("dropped %d encoded spans below the cap", d)
	}
	if d := b.AddSpans([]*tracepb.ResourceSpans{spans(10, "dec")}); d != 0 {
		t.Fatalf("dropped %d spans below the cap", d)
	}
	if st := b.Stats(); st.Bytes != 3*size || st.Buffered != (Counts{Spans: 30}) {
		t.Fatalf("stats = %+v, want %d bytes and 30 spans", st, 3*size)
	}
	// Over the cap the oldest item, encoded, moves out.
	if d := b.AddRawSpans(rawSpans(t, spans(10, "raw"))); d != 0 {
		t.Fatalf("dropped %d encoded spans with an overflow", d)
	}
	if len(spilled) != 1 || spilled[0].Counts != (Counts{Spans: 10}) || spilled[0].Bytes != size {
		t.Fatalf("spilled %+v, want one batch of 10 spans", spilled)
	}
	// Without room at all, an encoded item is dropped and counted.
	if d := New(size-1, 1<<20, nil).AddRawSpans(rawSpans(t, item)); d != 10 {
		t.Errorf("dropped %d spans over the cap, want 10", d)
	}

	batch := b.Take(1 << 20)
	if batch.Counts != (Counts{Spans: 30}) || batch.Bytes != 3*size {
		t.Fatalf("batch counts %v bytes %d, want 30 spans and %d bytes", batch.Counts, batch.Bytes, 3*size)
	}
	// The encoded spans that were not spilled are handed over as they
	// were added, not copied.
	if len(batch.Spans) != 2 || &batch.Spans[0][0] != &added[1].Field[0] {
		t.Errorf("taken encoded spans are not the added ones: %d fields", len(batch.Spans))
	}
	for _, c := range []struct {
		name  string
		batch *Batch
		want  []string
	}{
		{"taken", batch, []string{"dec", "raw", "raw"}},
		{"spilled", spilled[0], []string{"raw"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.batch.Request.BatchId = []byte("0123456789abcdef")
			data, err := proto.Marshal(c.batch.Message())
			if err != nil {
				t.Fatal(err)
			}
			var got ingestv1.ExportRequest
			if err := proto.Unmarshal(data, &got); err != nil {
				t.Fatalf("request does not decode: %v", err)
			}
			var names []string
			for _, rs := range got.GetResourceSpans() {
				if ingestv1.SpansIn(rs) != 10 {
					t.Errorf("resource spans with %d spans, want 10", ingestv1.SpansIn(rs))
				}
				names = append(names, rs.GetScopeSpans()[0].GetSpans()[0].GetName())
			}
			// Decoded resource spans are written before encoded ones;
			// their order in a request does not matter.
			if !slices.Equal(names, c.want) {
				t.Errorf("resource spans %v, want %v", names, c.want)
			}
			if string(got.GetBatchId()) != "0123456789abcdef" {
				t.Errorf("batch ID %q", got.GetBatchId())
			}
		})
	}
}

// TestSampler checks that sampled-out spans, decoded or encoded, are left
// out of what is shipped and counted as received and sampled out.
func TestSampler(t *testing.T) {
	traceOf := func(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }
	mixed := func() *tracepb.ResourceSpans {
		return &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{
			{Spans: []*tracepb.Span{{Name: "keep", TraceId: traceOf(1)}, {Name: "drop", TraceId: traceOf(2)}}},
			{Spans: []*tracepb.Span{{Name: "drop", TraceId: traceOf(2)}}},
		}}
	}
	onlyDropped := &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "drop", TraceId: traceOf(2)}}}}}
	b := New(1<<20, 1<<20, nil)
	b.SetSampler(func(id []byte) bool { return id[0] != 2 })
	if d := b.AddSpans([]*tracepb.ResourceSpans{mixed(), onlyDropped}); d != 0 {
		t.Fatalf("AddSpans dropped %d", d)
	}
	if d := b.AddRawSpans(rawSpans(t, mixed(), onlyDropped)); d != 0 {
		t.Fatalf("AddRawSpans dropped %d", d)
	}
	st := b.Stats()
	if st.SampledOut != (Counts{Spans: 6}) || st.Received != (Counts{Spans: 8}) || st.Buffered != (Counts{Spans: 2}) || !st.Dropped.IsZero() {
		t.Fatalf("stats = %+v; want 8 received, 6 sampled out, 2 buffered, none dropped", st)
	}
	batch := b.Take(1 << 20)
	var names []string
	req := proto.Clone(batch.Message()).(*ingestv1.ExportRequest)
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(data, req); err != nil {
		t.Fatal(err)
	}
	for _, rs := range req.ResourceSpans {
		if len(rs.ScopeSpans) != 1 {
			t.Errorf("resource with %d scopes, want the empty one left out", len(rs.ScopeSpans))
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				names = append(names, sp.Name)
			}
		}
	}
	if strings.Join(names, ",") != "keep,keep" {
		t.Errorf("shipped spans %v, want the two kept ones", names)
	}
}

// TestLogFilterBeforeKept: the filter sees the logs before they are
// buffered, so what it changes is what is taken.
func TestLogFilterBeforeKept(t *testing.T) {
	b := New(1<<20, 1<<20, slog.New(slog.DiscardHandler))
	b.SetLogFilter(func(rl *logspb.ResourceLogs) {
		for _, sl := range rl.GetScopeLogs() {
			for _, r := range sl.GetLogRecords() {
				r.Body = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "hidden"}}
			}
		}
	})
	b.AddLogs([]*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
		{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "password=1"}}}}}}}})
	batch := b.Take(1 << 20)
	if batch == nil {
		t.Fatal("nothing buffered")
	}
	if s := batch.Request.String(); strings.Contains(s, "password") || !strings.Contains(s, "hidden") {
		t.Errorf("buffered %s", s)
	}
}
