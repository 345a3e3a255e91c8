package storage

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestSpansReadByColumnAsByRow holds the trace read column by column
// (native blocks) to the read row by row through clickhouse-go: the same
// spans in the same order, field for field, over answers of many small
// blocks (max_block_size=3), with events, links, a span stored twice,
// empty values, keys without values and two resources taking turns.
func TestSpansReadByColumnAsByRow(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	s, err := Open(t.Context(), dsn+"?max_block_size=3")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if s.blocks == nil {
		t.Fatal("the store has no block connections: nothing to compare")
	}
	f := newFixture(t, "orders")
	for range 2 { // a retried batch: its spans stored twice
		if _, err := s.WriteExport(t.Context(), f.req); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	// More spans of the trace under two resources, in turns.
	start := f.start.Add(time.Second)
	var rss []*tracepb.ResourceSpans
	for r, name := range []string{"inventory", "payments"} {
		rs := &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			strAttr("service.name", name), strAttr("empty", ""), strAttr("quote'd", `back\slash`),
		}}, ScopeSpans: []*tracepb.ScopeSpans{{}}}
		for i := range 10 {
			id := [8]byte{0xcc, byte(r), byte(i), '\'', 0, 0, 0, 1}
			sp := &tracepb.Span{
				TraceId: f.traceID[:], SpanId: id[:], ParentSpanId: f.rootID[:],
				Name: fmt.Sprintf("step %d", i), Kind: tracepb.Span_SPAN_KIND_INTERNAL,
				StartTimeUnixNano: uint64(start.Add(time.Duration(2*i+r) * time.Millisecond).UnixNano()),
				EndTimeUnixNano:   uint64(start.Add(time.Duration(2*i+r+1) * time.Millisecond).UnixNano()),
				Attributes:        []*commonpb.KeyValue{strAttr("step", fmt.Sprint(i)), strAttr("blank", "")},
			}
			if i%3 == 0 {
				sp.Events = []*tracepb.Span_Event{{TimeUnixNano: sp.StartTimeUnixNano, Name: "tick"}, {TimeUnixNano: sp.EndTimeUnixNano}}
				sp.Links = []*tracepb.Span_Link{{TraceId: f.linkTraceID[:], SpanId: id[:]}}
			}
			rs.ScopeSpans[0].Spans = append(rs.ScopeSpans[0].Spans, sp)
		}
		rss = append(rss, rs)
	}
	req := &ingestv1.ExportRequest{BatchId: []byte(strings.Repeat("b", 16)), Function: f.req.Function, ResourceSpans: rss}
	if _, err := s.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}

	id := hexID(f.traceID[:])
	query := selectSpansByTraceIDSQL(s.database)
	byRow, err := s.readSpansRows(t.Context(), query, id)
	if err != nil {
		t.Fatalf("read by row: %v", err)
	}
	byColumn, err := s.readSpansBlocks(t.Context(), query, id)
	if err != nil {
		t.Fatalf("read by column: %v", err)
	}
	if len(byRow) != 22 {
		t.Fatalf("read %d spans by row, want 22", len(byRow))
	}
	if len(byColumn) != len(byRow) {
		t.Fatalf("read %d spans by column, %d by row", len(byColumn), len(byRow))
	}
	for i := range byRow {
		if !reflect.DeepEqual(byColumn[i], byRow[i]) {
			t.Errorf("span %d by column:\n%+v\nby row:\n%+v", i, byColumn[i], byRow[i])
		}
	}
	if got := byColumn[2].ResourceAttributes; !reflect.DeepEqual(got, byColumn[4].ResourceAttributes) ||
		reflect.ValueOf(got).Pointer() != reflect.ValueOf(byColumn[4].ResourceAttributes).Pointer() {
		t.Errorf("spans of one resource do not share one map: %v", got)
	}
	// Unknown trace: no spans, no error.
	if none, err := s.readSpansBlocks(t.Context(), query, hexID([]byte("no such trace..."))); err != nil || len(none) != 0 {
		t.Errorf("unknown trace read as %d spans, %v", len(none), err)
	}
}

func TestBindPositional(t *testing.T) {
	tests := []struct {
		name, query string
		args        []any
		want        string
		wantErr     string
	}{
		{"string and number", "SELECT ? WHERE x = ? AND y < toDateTime(?)", []any{"ab", int64(-3), uint64(7)},
			"SELECT 'ab' WHERE x = -3 AND y < toDateTime(7)", ""},
		{"hostile string", "x = ?", []any{`a' OR 1=1 --\`}, `x = 'a\' OR 1=1 --\\'`, ""},
		{"placeholders in quotes stay", "SELECT '?', \"?\", `?`, 'it\\'s ?', ?", []any{1},
			"SELECT '?', \"?\", `?`, 'it\\'s ?', 1", ""},
		{"too few arguments", "? ?", []any{1}, "", "more placeholders"},
		{"too many arguments", "?", []any{1, 2}, "", "2 arguments for 1 placeholders"},
		{"unsupported type", "?", []any{1.5}, "", "type float64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bindPositional(tt.query, tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("bound %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestInOrder holds the block path's own ordering to the spans queries'
// ORDER BY start_unix_nano, span_id and readSpansRows' first-wins for a
// repeated span ID: rows come in any order from the server's threads.
func TestInOrder(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(1_700_000_000, int64(ms)*int64(time.Millisecond)).UTC() }
	span := func(ms int, id byte, name string) SpanRecord {
		return SpanRecord{Start: at(ms), SpanID: [8]byte{7: id}, Name: name}
	}
	tests := []struct {
		name string
		in   []SpanRecord
		want []string
	}{
		{"in order already", []SpanRecord{span(1, 1, "a"), span(2, 2, "b"), span(2, 3, "c")}, []string{"a", "b", "c"}},
		{"reversed", []SpanRecord{span(3, 1, "c"), span(2, 2, "b"), span(1, 3, "a")}, []string{"a", "b", "c"}},
		{"same start: by span ID", []SpanRecord{span(1, 9, "b"), span(1, 2, "a"), span(0, 5, "first")}, []string{"first", "a", "b"}},
		{"a copy later in the answer: the first to come wins", []SpanRecord{span(2, 4, "late"), span(1, 1, "x"), span(2, 4, "late copy")},
			[]string{"x", "late"}},
		{"a span ID at two starts: the earlier start wins", []SpanRecord{span(5, 1, "later"), span(3, 2, "y"), span(1, 1, "earlier")},
			[]string{"earlier", "y"}},
		{"many blocks", []SpanRecord{span(4, 4, "d"), span(1, 1, "a"), span(5, 5, "e"), span(2, 2, "b"), span(3, 3, "c"), span(0, 0, "z")},
			[]string{"z", "a", "b", "c", "d", "e"}},
		{"a run of rows broken by a copy", []SpanRecord{span(1, 1, "a"), span(2, 2, "b"), span(2, 2, "b copy"), span(3, 3, "c"), span(4, 4, "d")},
			[]string{"a", "b", "c", "d"}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The spans come in blocks of two.
			var blocks [][]SpanRecord
			var keys []spanKey
			for i, sp := range tt.in {
				if i%2 == 0 {
					blocks = append(blocks, nil)
				}
				b := len(blocks) - 1
				keys = append(keys, spanKey{uint64(sp.Start.UnixNano()), sp.SpanID, int32(b), int32(len(blocks[b]))})
				blocks[b] = append(blocks[b], sp)
			}
			var got []string
			for _, sp := range inOrder(blocks, keys) {
				got = append(got, sp.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("in order: %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSpansQueriesEndInTheirOrder holds every spans query to ending in
// spanOrderSQL, the order inOrder gives: the block path leaves exactly
// that text out, and a query ordered otherwise would be sorted on the
// server again, or differently from the rows path.
func TestSpansQueriesEndInTheirOrder(t *testing.T) {
	window, _ := selectSpansInWindowSQL("db", [16]byte{1}, interval{time.Unix(0, 0), time.Unix(3600, 0)})
	for name, q := range map[string]string{
		"by trace ID":     selectSpansByTraceIDSQL("db"),
		"in trace hours":  selectSpansInTraceHoursSQL("db", "IN"),
		"on a cluster":    selectSpansInTraceHoursSQL("db", "GLOBAL IN"),
		"in trace window": selectSpansInTraceWindowSQL("db"),
		"in index window": window,
	} {
		if !strings.HasSuffix(q, spanOrderSQL) || strings.Count(q, "ORDER BY") != 1 {
			t.Errorf("%s: the query does not end in %q alone:\n%s", name, spanOrderSQL, q)
		}
	}
}
