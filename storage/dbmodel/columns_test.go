package dbmodel

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// TestSpanColumnsReuse fills the columns, resets them and fills them with
// other requests: the second fill must hold exactly its own spans, as a
// fresh SpanColumns would, and every column must have one value per span.
func TestSpanColumnsReuse(t *testing.T) {
	fn := &ingestv1.FunctionIdentity{Name: "fn", Region: "r", AccountId: "1"}
	first := spansRequest(fn, []*commonpb.KeyValue{kv(AttrServiceName, str("a"))},
		&tracepb.Span{TraceId: traceID, SpanId: spanID, Name: "one",
			Attributes: []*commonpb.KeyValue{kv("k", str("v")), kv(AttrInvocationID, str("req"))},
			Events:     []*tracepb.Span_Event{{Name: "e"}},
			Links:      []*tracepb.Span_Link{{TraceId: traceID, SpanId: spanID}}},
		&tracepb.Span{SpanId: spanID, Name: "rejected"})
	second := spansRequest(fn, nil,
		&tracepb.Span{TraceId: traceID, SpanId: []byte{2, 2, 2, 2, 2, 2, 2, 2}, Name: "two"},
		&tracepb.Span{TraceId: traceID, SpanId: []byte{3, 3, 3, 3, 3, 3, 3, 3}, ParentSpanId: spanID, Name: "three",
			Attributes: []*commonpb.KeyValue{kv("x", str("y"))}})

	var reused SpanColumns
	reused.AppendExport(first)
	if reused.Len() != 1 || reused.Rejected != 1 || len(reused.Problems) != 1 {
		t.Fatalf("first fill: %d spans, %d rejected, problems %q; want 1, 1, one problem", reused.Len(), reused.Rejected, reused.Problems)
	}
	reused.Reset()
	reused.AppendExport(second)
	var fresh SpanColumns
	fresh.AppendExport(second)
	if reused.Len() != 2 || reused.Rejected != 0 || len(reused.Problems) != 0 {
		t.Fatalf("after Reset: %d spans, %d rejected, problems %q; want 2, 0, none", reused.Len(), reused.Rejected, reused.Problems)
	}
	for i := range fresh.Len() {
		if got, want := reused.Row(i), fresh.Row(i); !reflect.DeepEqual(got, want) {
			t.Errorf("span %d after Reset:\n got %+v\nwant %+v", i, got, want)
		}
	}
	n := reused.Len()
	lens := map[string]int{
		"TraceIDs": len(reused.TraceIDs) / 16, "SpanIDs": len(reused.SpanIDs) / 8, "ParentSpanIDs": len(reused.ParentSpanIDs) / 8,
		"DurationNs": len(reused.DurationNs), "Name": reused.Name.Len(), "Kind": len(reused.Kind),
		"StatusCode": len(reused.StatusCode), "RequestID": reused.RequestID.Len(), "ScopeVersion": reused.ScopeVersion.Len(),
		"AttributeKeys": reused.AttributeKeys.Len(), "AttributeValues": reused.AttributeValues.Len(), "ResourceAttrValues": reused.ResourceAttrValues.Len(),
		"EventTimes": reused.EventTimes.Len(), "EventNames": reused.EventNames.Len(), "LinkAttrs": reused.LinkAttrs.Len(),
		"LinkTraceIDs": reused.LinkTraceIDs.Len(), "LinkSpanIDs": reused.LinkSpanIDs.Len(),
	}
	for name, l := range lens {
		if l != n {
			t.Errorf("column %s has %d values for %d spans", name, l, n)
		}
	}
}

// TestLogColumnsReuse fills the log columns, resets them and fills them
// with another request: the second fill must hold exactly its own records,
// as a fresh LogColumns would, and every column must have one value per
// record.
func TestLogColumnsReuse(t *testing.T) {
	fn := &ingestv1.FunctionIdentity{Name: "fn", Region: "r", AccountId: "1"}
	first := logsRequest(3)
	second := &ingestv1.ExportRequest{Function: fn, SentTimeUnixNano: 7, ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv(AttrLogType, str(LogTypePlatform))}},
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
			{Body: str("start"), TraceId: []byte{1}},
			{TimeUnixNano: 5, SpanId: spanID, Attributes: []*commonpb.KeyValue{kv("request_id", str("r9"))}},
		}}},
	}}}

	var reused LogColumns
	reused.AppendExport(first)
	if reused.Len() != 3 {
		t.Fatalf("first fill: %d records, want 3", reused.Len())
	}
	reused.Reset()
	reused.AppendExport(second)
	var fresh LogColumns
	fresh.AppendExport(second)
	if reused.Len() != 2 {
		t.Fatalf("after Reset: %d records, want 2", reused.Len())
	}
	for i := range fresh.Len() {
		if got, want := reused.Row(i), fresh.Row(i); !reflect.DeepEqual(got, want) {
			t.Errorf("record %d after Reset:\n got %+v\nwant %+v", i, got, want)
		}
	}
	if r := reused.Row(0); r.TimeUnixNano != 7 || r.LogType != LogTypePlatform || r.TraceID != ([16]byte{}) {
		t.Errorf("record 0: time %d, type %q, trace %x; want 7, platform, zeros", r.TimeUnixNano, r.LogType, r.TraceID)
	}
	if r := reused.Row(1); r.RequestID != "r9" || r.SpanID != [8]byte(spanID) {
		t.Errorf("record 1: request %q, span %x; want r9, %x", r.RequestID, r.SpanID, spanID)
	}
	n := reused.Len()
	lens := map[string]int{
		"TraceIDs": len(reused.TraceIDs) / 16, "SpanIDs": len(reused.SpanIDs) / 8,
		"ObservedTimeUnixNano": len(reused.ObservedTimeUnixNano), "SeverityNumber": len(reused.SeverityNumber),
		"Body": reused.Body.Len(), "RequestID": reused.RequestID.Len(), "LogType": reused.LogType.Len(),
		"Region": reused.Region.Len(), "AttributeKeys": reused.AttributeKeys.Len(),
		"AttributeValues": reused.AttributeValues.Len(), "ResourceAttrKeys": reused.ResourceAttrKeys.Len(),
		"ResourceAttrValues": reused.ResourceAttrValues.Len(),
	}
	for name, l := range lens {
		if l != n {
			t.Errorf("column %s has %d values for %d records", name, l, n)
		}
	}
}

// TestPlainNumberReadsTheDemosNumbers: the one-pass reading of an integer
// or boolean attribute takes the shapes senders write (the general reading
// gives the same values, TestAppendWirePlainAttributes), so that it is the
// path they take.
func TestPlainNumberReadsTheDemosNumbers(t *testing.T) {
	lim := &WireLimits{MaxAttributeKeyBytes: 256, MaxAttributeValueBytes: 256}
	for _, tt := range []struct {
		attr      *commonpb.KeyValue
		wantValue string
	}{
		{&commonpb.KeyValue{Key: "server.port", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 5432}}}, "5432"},
		{&commonpb.KeyValue{Key: "n", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: -7}}}, "-7"},
		{&commonpb.KeyValue{Key: "faas.coldstart", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}}, "true"},
		{&commonpb.KeyValue{Key: "b", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{}}}, "false"},
	} {
		b, err := proto.Marshal(tt.attr)
		if err != nil {
			t.Fatal(err)
		}
		var a wireArena
		key, value, ok := a.plainNumber(b, lim)
		if !ok || key != tt.attr.Key || value != tt.wantValue {
			t.Errorf("plainNumber(%v) = %q, %q, %v; want %q, %q, true", tt.attr, key, value, ok, tt.attr.Key, tt.wantValue)
		}
	}
	str, err := proto.Marshal(&commonpb.KeyValue{Key: "k", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "5"}}})
	if err != nil {
		t.Fatal(err)
	}
	var a wireArena
	if _, _, ok := a.plainNumber(str, lim); ok {
		t.Error("plainNumber took a string value")
	}
}

// TestASCII holds ascii, which reads eight bytes at a time and the last
// eight overlapping, to a check of each byte: every length to 40, a byte
// of 0x80 or 0xff at each place, in a buffer whose bytes around the slice
// are not ASCII (which it must not read).
func TestASCII(t *testing.T) {
	for n := range 41 {
		buf := bytes.Repeat([]byte{0xff}, n+16)
		b := buf[8 : 8+n]
		for i := range b {
			b[i] = 'a' + byte(i%26)
		}
		if !ascii(b) {
			t.Fatalf("%d ASCII bytes: ascii says false", n)
		}
		for i := range b {
			for _, c := range []byte{0x80, 0xff} {
				b[i] = c
				if ascii(b) {
					t.Fatalf("%d bytes, %#x at %d: ascii says true", n, c, i)
				}
				b[i] = 'z'
			}
		}
	}
}

// TestStringArraysAppendEmpty holds AppendEmpty to appending one empty row
// at a time: counts of 0 to 70 between other rows, data and offsets byte
// for byte.
func TestStringArraysAppendEmpty(t *testing.T) {
	long := strings.Repeat("y", 130)
	for n := range 71 {
		var got, want StringArrays
		got.AppendRow([]string{"x", long})
		want.AppendRow([]string{"x", long})
		got.AppendEmpty(n)
		for range n {
			want.AppendRow(nil)
		}
		got.AppendRow([]string{"z"})
		want.AppendRow([]string{"z"})
		if !slices.Equal(got.Offsets, want.Offsets) || !slices.Equal(got.Ends, want.Ends) || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("n = %d: offsets %v, ends %v; want %v, %v", n, got.Offsets, got.Ends, want.Offsets, want.Ends)
		}
		for i := 1; i <= n; i++ {
			if r := got.Row(i); len(r) != 0 {
				t.Fatalf("n = %d, row %d = %q, want empty", n, i, r)
			}
		}
	}
}

// TestUint64Arrays holds the Native layout of the event times to the rows
// put in: read back, empty rows added, cut and joined.
func TestUint64Arrays(t *testing.T) {
	rows := [][]uint64{{1, 2}, {}, {3}, {}, {}, {4, 5, 6}}
	var a Uint64Arrays
	for _, r := range rows {
		if len(r) == 0 {
			a.AppendEmpty(1)
		} else {
			a.AppendRow(r)
		}
	}
	check := func(what string, a *Uint64Arrays, want [][]uint64) {
		t.Helper()
		if a.Len() != len(want) {
			t.Fatalf("%s: %d rows, want %d", what, a.Len(), len(want))
		}
		var elems uint64
		var data []uint64
		for i, w := range want {
			if got := a.Row(i); !slices.Equal(got, w) || got == nil {
				t.Errorf("%s: row %d = %v, want %v", what, i, got, w)
			}
			elems += uint64(len(w))
			data = append(data, w...)
			if a.Offsets[i] != elems {
				t.Errorf("%s: offset %d = %d, want %d", what, i, a.Offsets[i], elems)
			}
		}
		if !slices.Equal(a.Data, data) {
			t.Errorf("%s: data %v, want %v", what, a.Data, data)
		}
	}
	check("filled", &a, rows)
	var joined Uint64Arrays
	joined.AppendRow([]uint64{9})
	joined.Append(&a)
	joined.Append(&a)
	check("joined", &joined, slices.Concat([][]uint64{{9}}, rows, rows))
	joined.Truncate(4)
	check("cut", &joined, slices.Concat([][]uint64{{9}}, rows[:3]))
	joined.AppendEmpty(2)
	check("cut, then emptied rows", &joined, slices.Concat([][]uint64{{9}}, rows[:3], [][]uint64{{}, {}}))
	joined.Truncate(0)
	check("emptied", &joined, nil)
}

// TestFixedArrays holds the Native layout of the links' IDs to the rows
// put in: elements cut or padded to their size, read back, empty rows
// added, cut and joined.
func TestFixedArrays(t *testing.T) {
	const n = 4
	var a FixedArrays
	a.AppendRow([]string{"abcd", "ab", "abcdef"}, n)
	a.AppendEmpty(2)
	a.AppendRow([]string{"wxyz"}, n)
	want := [][]string{{"abcd", "ab\x00\x00", "abcd"}, {}, {}, {"wxyz"}}
	check := func(what string, a *FixedArrays, want [][]string) {
		t.Helper()
		if a.Len() != len(want) {
			t.Fatalf("%s: %d rows, want %d", what, a.Len(), len(want))
		}
		var data []byte
		for i, w := range want {
			if got := a.Row(i, n); !slices.Equal(got, w) || got == nil {
				t.Errorf("%s: row %d = %q, want %q", what, i, got, w)
			}
			for _, e := range w {
				data = append(data, e...)
			}
		}
		if !bytes.Equal(a.Data, data) {
			t.Errorf("%s: data %q, want %q", what, a.Data, data)
		}
		if got := a.Rows(n); len(got) != len(want) {
			t.Errorf("%s: Rows gives %d rows, want %d", what, len(got), len(want))
		}
	}
	check("filled", &a, want)
	var joined FixedArrays
	joined.AppendRow([]string{"0000"}, n)
	joined.Append(&a)
	joined.Append(&a)
	check("joined", &joined, slices.Concat([][]string{{"0000"}}, want, want))
	joined.Truncate(6, n)
	check("cut", &joined, slices.Concat([][]string{{"0000"}}, want, want[:1]))
	joined.Truncate(0, n)
	check("emptied", &joined, nil)
}

// TestStringArrays holds the Native layout of the attribute columns to
// the rows put in: each row read back, rows cut off and columns joined.
func TestStringArrays(t *testing.T) {
	rows := [][]string{{"a", "bc"}, {}, {strings.Repeat("x", 128), ""}, {"d"}, {}}
	var a StringArrays
	for _, r := range rows {
		a.AppendRow(r)
	}
	check := func(what string, a *StringArrays, want [][]string) {
		t.Helper()
		if a.Len() != len(want) {
			t.Fatalf("%s: %d rows, want %d", what, a.Len(), len(want))
		}
		for i, w := range want {
			if got := a.Row(i); !slices.Equal(got, w) || got == nil {
				t.Errorf("%s: row %d = %q, want %q", what, i, got, w)
			}
		}
		var elems uint64
		for i, w := range want {
			elems += uint64(len(w))
			if a.Offsets[i] != elems {
				t.Errorf("%s: offset %d = %d, want %d", what, i, a.Offsets[i], elems)
			}
		}
	}
	check("filled", &a, rows)
	var joined StringArrays
	joined.AppendRow([]string{"first"})
	joined.Append(&a)
	joined.Append(&a)
	check("joined", &joined, slices.Concat([][]string{{"first"}}, rows, rows))
	joined.Truncate(4)
	check("cut", &joined, slices.Concat([][]string{{"first"}}, rows[:3]))
	joined.AppendRow([]string{"again"})
	check("cut, then filled", &joined, slices.Concat([][]string{{"first"}}, rows[:3], [][]string{{"again"}}))
	joined.Truncate(0)
	check("emptied", &joined, nil)
	if len(joined.Data) != 0 {
		t.Errorf("emptied column keeps %d bytes", len(joined.Data))
	}
}

// TestStrings holds the Native layout of the String columns to the rows
// put in: one at a time and repeated (runs of 1 to 40, lengths of one- and
// two-byte varints), each row read back, rows cut off and columns joined.
func TestStrings(t *testing.T) {
	var (
		c    Strings
		want []string
	)
	long := strings.Repeat("x", 200)
	for n := range 41 {
		for _, s := range []string{"orders", "", long} {
			c.AppendRepeat(s, n)
			want = append(want, slices.Repeat([]string{s}, n)...)
			c.Append(s)
			want = append(want, s)
		}
	}
	check := func(what string, c *Strings, want []string) {
		t.Helper()
		if c.Len() != len(want) {
			t.Fatalf("%s: %d rows, want %d", what, c.Len(), len(want))
		}
		var data []byte
		for i, w := range want {
			if got := c.Row(i); got != w {
				t.Errorf("%s: row %d = %q, want %q", what, i, got, w)
			}
			data = AppendNativeString(data, w)
		}
		if !bytes.Equal(c.Data, data) {
			t.Errorf("%s: data is not each row's string one after the other", what)
		}
		if got := c.Strings(); !slices.Equal(got, want) {
			t.Errorf("%s: Strings = %q, want %q", what, got, want)
		}
	}
	check("filled", &c, want)
	var joined Strings
	joined.Append("first")
	joined.AppendColumn(&c)
	joined.AppendColumn(&c)
	check("joined", &joined, slices.Concat([]string{"first"}, want, want))
	joined.Truncate(7)
	check("cut", &joined, slices.Concat([]string{"first"}, want[:6]))
	joined.AppendRepeat("again", 3)
	check("cut, then filled", &joined, slices.Concat([]string{"first"}, want[:6], []string{"again", "again", "again"}))
	joined.Truncate(0)
	check("emptied", &joined, nil)
}
