package storage

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/storagetest"
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

// TestInvocationsInParts checks the two-step read of a trace view's
// invocations: it answers what one read over every part answers, reads
// the columns of the parts holding the rows alone, and reads every part
// when a part it counted rows in was merged away since.
func TestInvocationsInParts(t *testing.T) {
	s := openStore(t)
	at := time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)
	var requestIDs []string
	// One insert each: three parts, the second holding none of the
	// invocations read.
	for i := range 3 {
		req := &ingestv1.ExportRequest{Function: &ingestv1.FunctionIdentity{Name: "orders", Region: "eu-west-1",
			AccountId: "123456789012", MemoryMb: 256}}
		for j := range 2 {
			id := fmt.Sprintf("req-%d-%d", i, j)
			req.Invocations = append(req.Invocations, &ingestv1.Invocation{RequestId: id,
				StartTimeUnixNano: uint64(at.Add(time.Duration(10*i+j) * time.Second).UnixNano()), DurationMs: 12,
				BilledDurationMs: 12, MemorySizeMb: 256, MaxMemoryUsedMb: 60, Status: "success"})
			if i != 1 && j == 0 {
				requestIDs = append(requestIDs, id)
			}
		}
		if _, err := s.WriteExport(t.Context(), req); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	f := InvocationFilter{RequestIDs: requestIDs, Since: at.Add(-time.Hour), Until: at.Add(time.Hour), Limit: 100, TraceView: true}
	partsOf := func(f InvocationFilter) ([]string, uint64) {
		t.Helper()
		query, args := selectInvocationPartsSQL(s.database, f)
		var (
			parts []string
			rows  uint64
		)
		if err := s.scanAll(t.Context(), "parts", query, args, func(r driver.Rows) error {
			var (
				p string
				n uint64
			)
			err := r.Scan(&p, &n)
			parts, rows = append(parts, p), rows+n
			return err
		}); err != nil {
			t.Fatalf("count the parts: %v", err)
		}
		return parts, rows
	}
	// Two request IDs, three parts in the day: the two steps pay.
	if n, err := s.invocationPartsOfDays(t.Context(), f.Since, f.Until); err != nil || n != 3 {
		t.Errorf("the range holds %d parts (%v), want 3", n, err)
	}
	parts, rows := partsOf(f)
	if len(parts) != 2 || rows != uint64(len(requestIDs)) {
		t.Errorf("counted %d rows in parts %v, want %d in 2 parts", rows, parts, len(requestIDs))
	}
	for _, limit := range []int{100, 1} {
		f.Limit = limit
		want, err := s.readInvocations(t.Context(), f, nil)
		if err != nil || len(want) == 0 {
			t.Fatalf("one read: %d rows, %v", len(want), err)
		}
		got, err := s.Invocations(t.Context(), f)
		if err != nil {
			t.Fatalf("Invocations: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d: Invocations\n%+v\nwant one read's\n%+v", limit, got, want)
		}
	}
	f.Limit = 100
	if err := s.conn.Exec(t.Context(), "OPTIMIZE TABLE "+s.Database()+".invocations FINAL"); err != nil {
		t.Fatalf("merge: %v", err)
	}
	want, err := s.readInvocations(t.Context(), f, nil)
	if err != nil {
		t.Fatalf("one read: %v", err)
	}
	got, err := s.invocationsCounted(t.Context(), f, parts, rows)
	if err != nil {
		t.Fatalf("read in the parts merged since: %v", err)
	}
	if !reflect.DeepEqual(got, want) || len(got) != len(requestIDs) {
		t.Errorf("in the parts merged since: %d rows\n%+v\nwant one read's %d\n%+v", len(got), got, len(want), want)
	}
}
