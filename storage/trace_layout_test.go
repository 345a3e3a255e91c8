package storage

import (
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage/storagetest"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestSpansInLayout checks the two-step read of a trace: the layout
// names the parts and hours holding the trace's spans and their keys in
// the order SpansByTraceID reads them, and the read in the layout's parts
// answers what SpansByTraceID answers, also when a part of the layout is
// left out or was merged away since.
func TestSpansInLayout(t *testing.T) {
	s := openStore(t)
	rng := rand.New(rand.NewPCG(46, 1))
	at := time.Date(2026, 5, 4, 9, 59, 59, 0, time.UTC)
	reqs := storagetest.DemoTrace(rng, at)
	if len(reqs) < 2 {
		t.Fatalf("the demo trace is %d requests, want 2 or more", len(reqs))
	}
	// One insert per request: the trace's spans in as many parts, and
	// another trace in a part of its own.
	for _, r := range reqs {
		if _, err := s.WriteExport(t.Context(), r); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	if _, err := s.WriteExports(t.Context(), storagetest.DemoTrace(rng, at.Add(time.Minute))); err != nil {
		t.Fatalf("WriteExports: %v", err)
	}
	var id [16]byte
	copy(id[:], reqs[0].ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId)

	want, err := s.SpansByTraceID(t.Context(), id)
	if err != nil || len(want) == 0 {
		t.Fatalf("SpansByTraceID = %d spans, %v", len(want), err)
	}
	l, err := s.TraceSpanLayout(t.Context(), id)
	if err != nil {
		t.Fatalf("TraceSpanLayout: %v", err)
	}
	parts := 0
	for _, r := range reqs {
		if len(r.ResourceSpans) > 0 {
			parts++
		}
	}
	if len(l.Parts) != parts {
		t.Errorf("layout in parts %v, want %d parts", l.Parts, parts)
	}
	var keys []TraceSpanKey
	hours := map[time.Time]bool{}
	for _, sp := range want {
		keys = append(keys, TraceSpanKey{SpanID: sp.SpanID, Start: sp.Start, Duration: sp.Duration,
			RequestID: sp.RequestID, FunctionName: sp.FunctionName})
		hours[sp.Start.Truncate(time.Hour)] = true
	}
	if !reflect.DeepEqual(l.Spans, keys) {
		t.Errorf("layout keys\n%+v\nwant those of SpansByTraceID\n%+v", l.Spans, keys)
	}
	if len(l.Hours) != len(hours) || slices.ContainsFunc(l.Hours, func(h time.Time) bool { return !hours[h] }) {
		t.Errorf("layout hours %v, want those of the spans %v", l.Hours, hours)
	}

	check := func(name string, l TraceLayout) {
		t.Helper()
		got, err := s.SpansInLayout(t.Context(), id, l)
		if err != nil {
			t.Fatalf("%s: SpansInLayout: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: SpansInLayout\n%+v\nwant SpansByTraceID's\n%+v", name, got, want)
		}
	}
	check("the layout", l)
	short := l
	short.Parts = l.Parts[:1]
	check("a part left out", short)
	check("an empty layout", TraceLayout{})
	if err := s.conn.Exec(t.Context(), "OPTIMIZE TABLE "+s.Database()+".spans FINAL"); err != nil {
		t.Fatalf("merge: %v", err)
	}
	check("the parts merged since", l)
	if merged, err := s.TraceSpanLayout(t.Context(), id); err != nil || len(merged.Parts) != 1 {
		t.Errorf("after the merge the layout is in parts %v (%v), want one", merged.Parts, err)
	}
	if none, err := s.TraceSpanLayout(t.Context(), [16]byte{0x99, 15: 0x99}); err != nil || len(none.Spans)+len(none.Parts) != 0 {
		t.Errorf("a trace not stored: layout %+v, %v; want an empty one", none, err)
	}
}

// TestTraceSpanLayoutOfABigTrace checks that a trace of more span rows
// than traceLayoutMaxRows gets no layout (it is read in one step), and
// one of exactly that many gets a layout of all its spans.
func TestTraceSpanLayoutOfABigTrace(t *testing.T) {
	s := openStore(t)
	rng := rand.New(rand.NewPCG(47, 1))
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		spans     int
		wantSpans int
	}{
		{"at the limit", traceLayoutMaxRows, traceLayoutMaxRows},
		{"over the limit", traceLayoutMaxRows + 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := storagetest.DemoTrace(rng, at)[0]
			req.ResourceSpans = req.ResourceSpans[:1] // the function's own spans
			scope := req.ResourceSpans[0].ScopeSpans[0]
			first := scope.Spans[0]
			scope.Spans = scope.Spans[:0]
			for i := range tc.spans {
				sp := proto.Clone(first).(*tracepb.Span)
				sp.SpanId = binary.BigEndian.AppendUint64(nil, uint64(i)+1)
				sp.StartTimeUnixNano += uint64(i)
				sp.EndTimeUnixNano += uint64(i)
				scope.Spans = append(scope.Spans, sp)
			}
			if _, err := s.WriteExport(t.Context(), req); err != nil {
				t.Fatalf("WriteExport: %v", err)
			}
			var id [16]byte
			copy(id[:], first.TraceId)
			l, err := s.TraceSpanLayout(t.Context(), id)
			if err != nil {
				t.Fatalf("TraceSpanLayout: %v", err)
			}
			if len(l.Spans) != tc.wantSpans {
				t.Errorf("layout of %d spans, want %d", len(l.Spans), tc.wantSpans)
			}
			got, err := s.SpansInLayout(t.Context(), id, l)
			if err != nil || len(got) != tc.spans {
				t.Errorf("SpansInLayout = %d spans, %v; want %d", len(got), err, tc.spans)
			}
		})
	}
}
