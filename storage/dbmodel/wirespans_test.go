package dbmodel_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

var (
	wireFn    = &ingestv1.FunctionIdentity{Name: "orders", Version: "$LATEST", Region: "eu-west-1", AccountId: "123456789012"}
	noLimits  = dbmodel.WireLimits{MaxAttributeKeyBytes: math.MaxInt, MaxAttributeValueBytes: math.MaxInt, NameBytes: math.MaxInt, StatusMessageBytes: math.MaxInt, OtherBytes: math.MaxInt}
	capLimits = dbmodel.WireLimits{MaxAttributeKeyBytes: 256, MaxAttributeValueBytes: 16 << 10, NameBytes: 1024, StatusMessageBytes: 4096, OtherBytes: 1024}
)

// wireSeeds are SpanShapes in wire form, and the same with the hostile
// turns a sender can give them: fields repeated (which protobuf merges or
// takes the last of), unknown fields, known fields of the wrong wire type,
// strings that are not UTF-8, cut-off messages.
func wireSeeds(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, rs := range storagetest.SpanShapes(rand.New(rand.NewPCG(3, 4))) {
		if proto.Size(rs) > 20000 {
			continue // 40 KB strings slow the fuzzer down; small caps reach the same code
		}
		// The fuzzer minimizes each input that reaches new code, in time
		// quadratic in its length (for a minute by default, counting no
		// executions meanwhile): the demo's twelve spans in a scope, of
		// the same shape, are cut to two.
		if proto.Size(rs) > 1024 {
			rs = proto.Clone(rs).(*tracepb.ResourceSpans)
			for _, ss := range rs.ScopeSpans {
				ss.Spans = ss.Spans[:min(len(ss.Spans), 2)]
			}
		}
		b, err := proto.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b,
			append(b[:len(b):len(b)], b...), // every field twice: the resource and scopes merge
			protowire.AppendBytes(protowire.AppendTag(b[:len(b):len(b)], 99, protowire.BytesType), []byte{0xff}),
			protowire.AppendVarint(protowire.AppendTag(b[:len(b):len(b)], 3, protowire.VarintType), 1),
			b[:len(b)/2])
	}
	// A span with a name that is not UTF-8, one with its name as a varint,
	// one with its status twice, one with a group.
	sp := func(fields ...[]byte) []byte {
		var s []byte
		s = protowire.AppendTag(s, 1, protowire.BytesType)
		s = protowire.AppendBytes(s, []byte("0123456789abcdef"))
		s = protowire.AppendTag(s, 2, protowire.BytesType)
		s = protowire.AppendBytes(s, []byte("01234567"))
		for _, f := range fields {
			s = append(s, f...)
		}
		ss := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), s)
		return protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), ss)
	}
	field := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	out = append(out,
		sp(field(5, []byte{'a', 0xff})),
		sp(protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 7)),
		sp(field(15, field(2, []byte("a"))), field(15, protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 2))),
		sp(protowire.AppendTag(protowire.AppendTag(nil, 20, protowire.StartGroupType), 20, protowire.EndGroupType)),
		sp(field(9, field(2, field(1, []byte{0xc3})))),
		sp(field(9, append(field(2, field(1, []byte("x"))), field(2, protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 5))...))),
		sp(field(9, field(2, append(field(1, []byte("x")), protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 9)...)))),
	)
	return out
}

// spanPrefill is the spans checkWire puts in the columns before the
// message's, made once: the fuzzer runs checkWire for every input, and
// minimizes an input by running it thousands of times.
var spanPrefill = sync.OnceValue(func() *dbmodel.SpanColumns {
	var c dbmodel.SpanColumns
	c.AppendExport(storagetest.DemoSpanRequest(rand.New(rand.NewPCG(5, 6)), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 3, true))
	return &c
})

// checkWire holds AppendWire to the message path on one ResourceSpans in
// wire form: when it takes the message, the columns are those AppendExport
// makes of the decoded message; when protobuf refuses the message, it must
// not take it; when it leaves it, the columns are as they were.
func checkWire(t *testing.T, b []byte, lim dbmodel.WireLimits) (took bool) {
	t.Helper()
	var got, want dbmodel.SpanColumns
	got.AppendColumns(spanPrefill())
	want.AppendColumns(spanPrefill())
	before := got.Len()
	took = got.AppendWire(wireFn, b, lim)
	var rs tracepb.ResourceSpans
	err := proto.Unmarshal(b, &rs)
	switch {
	case err != nil && took:
		t.Fatalf("AppendWire took a message protobuf refuses (%v)", err)
	case !took:
		if got.Len() != before {
			t.Fatalf("AppendWire left the message but kept %d spans of it", got.Len()-before)
		}
	default:
		want.AppendExport(&ingestv1.ExportRequest{Function: wireFn, ResourceSpans: []*tracepb.ResourceSpans{&rs}})
		if want.Rejected != 0 {
			t.Fatalf("AppendWire took a message with %d spans the writer refuses: %q", want.Rejected, want.Problems)
		}
	}
	if got.Len() != want.Len() || got.Rejected != want.Rejected {
		t.Fatalf("AppendWire: %d spans (%d rejected), message path %d (%d)", got.Len(), got.Rejected, want.Len(), want.Rejected)
	}
	// The prefill's rows are the same in both columns unless the bytes
	// under them changed, which sameNative sees.
	for i := before; i < want.Len(); i++ {
		if g, w := got.Row(i), want.Row(i); !reflect.DeepEqual(g, w) {
			t.Fatalf("span %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	sameNative(t, &got, &want)
	return took
}

// sameNative fails the test unless every Native-format column of got
// (Strings, StringArrays, Uint64Arrays, FixedArrays) holds the same bytes
// and offsets as want's: the block writer sends them as they are, so a
// column left longer than its rows (a rollback that cut the row ends but
// not the data) would send bytes no row holds. The columns held in runs
// (StringArrayRuns) are held to the bytes they encode, offsets and data:
// a rollback that cut a run's rows but not its row, or left a run longer,
// would send other rows.
func sameNative(t *testing.T, got, want any) {
	t.Helper()
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		f := g.Type().Field(i)
		if !f.IsExported() || f.Type.Kind() != reflect.Struct || f.Type.PkgPath() != reflect.TypeFor[dbmodel.Strings]().PkgPath() {
			continue
		}
		if gr, ok := g.Field(i).Addr().Interface().(*dbmodel.StringArrayRuns); ok {
			wr := w.Field(i).Addr().Interface().(*dbmodel.StringArrayRuns)
			if gr.Len() != wr.Len() {
				t.Fatalf("column %s: %d rows against %d", f.Name, gr.Len(), wr.Len())
			}
			goff, gn := gr.AppendNativeOffsets(nil, 7)
			woff, wn := wr.AppendNativeOffsets(nil, 7)
			if gn != wn || !bytes.Equal(goff, woff) {
				t.Fatalf("column %s: encoded offsets differ (%d against %d elements)", f.Name, gn, wn)
			}
			if gd, wd := gr.AppendNativeData(nil), wr.AppendNativeData(nil); !bytes.Equal(gd, wd) || len(gd) != gr.NativeDataSize() {
				t.Fatalf("column %s: encoded data differ (%d against %d bytes, size %d)", f.Name, len(gd), len(wd), gr.NativeDataSize())
			}
			continue
		}
		for j := range f.Type.NumField() {
			gs, ws := g.Field(i).Field(j), w.Field(i).Field(j)
			if gs.Len() != ws.Len() || (gs.Len() > 0 && !reflect.DeepEqual(gs.Interface(), ws.Interface())) {
				t.Fatalf("column %s: %s differs (%d against %d elements)", f.Name, f.Type.Field(j).Name, gs.Len(), ws.Len())
			}
		}
	}
}

// TestAppendWireShapes: the plain shapes are taken (the fast path is the
// one they use) and give the message path's rows; the rest give its rows
// or are left to it.
func TestAppendWireShapes(t *testing.T) {
	shapes := storagetest.SpanShapes(rand.New(rand.NewPCG(3, 4)))
	for i, rs := range shapes {
		b, err := proto.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		took := checkWire(t, b, capLimits)
		// demo, inventory, AWS-like, bare: taken; refused, big, nested: left.
		if wantTook := i < 4; took != wantTook {
			t.Errorf("shape %d: AppendWire took it = %v, want %v", i, took, wantTook)
		}
		checkWire(t, b, noLimits)
	}
	for i, b := range wireSeeds(t) {
		t.Run("", func(t *testing.T) {
			_ = i
			checkWire(t, b, capLimits)
		})
	}
}

// FuzzAppendWire holds AppendWire to the message path (checkWire) on
// resource spans of every shape and any bytes, with caps from tiny to none.
func FuzzAppendWire(f *testing.F) {
	for _, b := range wireSeeds(f) {
		f.Add(b, uint16(0))
		f.Add(b, uint16(8))
	}
	f.Fuzz(func(t *testing.T, b []byte, capBytes uint16) {
		lim := noLimits
		if capBytes > 0 {
			n := int(capBytes)
			lim = dbmodel.WireLimits{MaxAttributeKeyBytes: n, MaxAttributeValueBytes: n, NameBytes: n, StatusMessageBytes: n, OtherBytes: n}
		}
		checkWire(t, b, lim)
	})
}

// TestAppendColumns: columns filled from two requests apart and then
// joined hold the rows of columns filled from both in turn, and the same
// Native bytes (sameNative).
func TestAppendColumns(t *testing.T) {
	shapes := storagetest.SpanShapes(rand.New(rand.NewPCG(7, 8)))
	first := &ingestv1.ExportRequest{Function: wireFn, ResourceSpans: shapes[:3]}
	second := &ingestv1.ExportRequest{Function: wireFn, ResourceSpans: shapes[3:]}
	var a, b, joined, both dbmodel.SpanColumns
	a.AppendExport(first)
	b.AppendExport(second)
	joined.AppendColumns(&a)
	joined.AppendColumns(&b)
	both.AppendExport(first)
	both.AppendExport(second)
	if joined.Len() != both.Len() || joined.Rejected != both.Rejected || !reflect.DeepEqual(joined.Problems, both.Problems) {
		t.Fatalf("joined: %d spans, %d rejected, %q; want %d, %d, %q", joined.Len(), joined.Rejected, joined.Problems, both.Len(), both.Rejected, both.Problems)
	}
	for i := range both.Len() {
		if g, w := joined.Row(i), both.Row(i); !reflect.DeepEqual(g, w) {
			t.Fatalf("span %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	sameNative(t, &joined, &both)
}

// TestAppendWirePlainAttributes holds the one-pass readings of plain
// attributes (an ASCII key and a string, integer or boolean value, lengths
// under 128) to the general one at their edges: the caps, lengths of one
// and two bytes, values that are not ASCII, or not UTF-8, varints of one
// to eleven bytes, cut off or repeated, and values of other kinds.
func TestAppendWirePlainAttributes(t *testing.T) {
	lim := capLimits
	lim.MaxAttributeKeyBytes, lim.MaxAttributeValueBytes = 8, 130
	str := func(s string) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte(s))
	}
	kv := func(key string, value []byte) []byte {
		b := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte(key))
		return protowire.AppendBytes(protowire.AppendTag(b, 2, protowire.BytesType), value)
	}
	long := func(n int) string { return string(make([]byte, n)) }
	varint := func(num protowire.Number, v uint64) []byte { // an AnyValue field of a varint
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	arr := func(values ...[]byte) []byte { // an AnyValue holding an ArrayValue of values
		var a []byte
		for _, v := range values {
			a = protowire.AppendBytes(protowire.AppendTag(a, 1, protowire.BytesType), v)
		}
		return protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), a)
	}
	tests := []struct {
		name string
		attr []byte
		took bool
	}{
		{"plain", kv("k", str("v")), true},
		{"empty value", kv("k", str("")), true},
		{"key at the cap", kv("12345678", str("v")), true},
		{"key over the cap", kv("123456789", str("v")), false},
		{"value of 127 bytes", kv("k", str(long(127))), true},
		{"value of 128 bytes, a length of two bytes", kv("k", str(long(128))), true},
		{"value at the cap", kv("k", str(long(130))), true},
		{"value over the cap", kv("k", str(long(131))), false},
		{"value not ASCII", kv("k", str("café")), true},
		{"key not ASCII", kv("é", str("v")), true},
		{"value not UTF-8", kv("k", str("\xff")), false},
		{"value an integer", kv("k", protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 200)), true},
		{"value and an unknown field", append(kv("k", str("v")), 0x78, 1), true},
		{"integer 0", kv("k", varint(3, 0)), true},
		{"integer of one byte", kv("k", varint(3, 5432)), true},
		{"negative integer, ten bytes", kv("k", varint(3, uint64(1<<64-200))), true},
		{"largest integer", kv("k", varint(3, 1<<63-1)), true},
		{"integer key at the cap", kv("12345678", varint(3, 1)), true},
		{"integer key over the cap", kv("123456789", varint(3, 1)), false},
		{"integer key not ASCII", kv("é", varint(3, 1)), true},
		{"integer key not UTF-8", kv("\xff", varint(3, 1)), false},
		{"integer of eleven bytes", kv("k", []byte{0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), false},
		{"integer cut off", kv("k", []byte{0x18, 0xff}), false},
		{"integer twice", kv("k", append(varint(3, 1), varint(3, 2)...)), true},
		{"integer and an unknown field", kv("k", append(varint(3, 1), 0x78, 1)), true},
		{"integer then string", kv("k", append(varint(3, 1), str("v")...)), true},
		{"integer, key last", append(protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), varint(3, 1)), str("k")...), true},
		{"true", kv("k", varint(2, 1)), true},
		{"false", kv("k", varint(2, 0)), true},
		{"boolean of 2, true as protobuf reads it", kv("k", varint(2, 2)), true},
		{"boolean of ten bytes", kv("k", varint(2, 1<<63)), true},
		{"boolean then integer", kv("k", append(varint(2, 1), varint(3, 7)...)), true},
		{"double", kv("k", protowire.AppendFixed64(protowire.AppendTag(nil, 4, protowire.Fixed64Type), 0x400921fb54442d18)), true},
		{"value then key", append(protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), str("v")), str("k")...), true},
		{"array of strings", kv("k", arr(str("/aws/lambda/orders"), str(""), str("b"))), true},
		{"empty array", kv("k", arr()), true},
		{"array string of 125 bytes", kv("k", arr(str(strings.Repeat("a", 125)))), true},
		{"array string of 126 bytes, a length of two bytes", kv("k", arr(str(strings.Repeat("a", 126)))), false},
		{"array string JSON escapes", kv("k", arr(str("a<b"))), false},
		{"array string with a quote", kv("k", arr(str(`a"b`))), false},
		{"array string not ASCII", kv("k", arr(str("café"))), false},
		{"array of an integer", kv("k", arr(protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 2))), false},
		{"array of an empty value", kv("k", arr(nil)), false},
		{"array twice", kv("k", append(arr(str("a")), arr(str("b"))...)), false},
		{"string then array", kv("k", append(str("v"), arr(str("a"))...)), true},
		{"array then string", kv("k", append(arr(str("a")), str("v")...)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			span := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("0123456789abcdef"))
			span = protowire.AppendBytes(protowire.AppendTag(span, 2, protowire.BytesType), []byte("01234567"))
			span = protowire.AppendBytes(protowire.AppendTag(span, 9, protowire.BytesType), tt.attr)
			span = protowire.AppendBytes(protowire.AppendTag(span, 9, protowire.BytesType), kv("b", str("second")))
			ss := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), span)
			rs := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), ss)
			if took := checkWire(t, rs, lim); took != tt.took {
				t.Errorf("AppendWire took it = %v, want %v", took, tt.took)
			}
		})
	}
}

// TestAppendWireReplacedArray: an attribute's array followed by a value
// of another kind is not kept, but protobuf refuses the message when the
// array is malformed or nested past its limit (10,000 messages), and
// AppendWire must then not take it; a well-formed array, nested or not,
// is taken with the later value.
func TestAppendWireReplacedArray(t *testing.T) {
	str := func(s string) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte(s))
	}
	// nested is an ArrayValue holding an array n deep, in wire form.
	nested := func(n int) []byte {
		v := &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "x"}}
		for range n {
			v = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{v}}}}
		}
		b, err := proto.Marshal(v.GetArrayValue())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tt := range []struct {
		name  string
		array []byte
		took  bool
	}{
		{"plain array", protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), str("a")), true},
		{"empty array", nil, true},
		{"array of a varint cut off", []byte("0"), false}, // the fuzzer's find
		{"array of a value cut off", protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), str("abc")[:3]), false},
		{"array cut off", str("abc")[:3], false},
		{"array of a string not UTF-8", protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), str("\xff")), false},
		{"array nested 100 deep", nested(100), true},
		{"array nested past protobuf's limit", nested(protowire.DefaultRecursionLimit / 2), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			value := protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), tt.array)
			value = append(value, str("last")...)
			attr := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("k"))
			attr = protowire.AppendBytes(protowire.AppendTag(attr, 2, protowire.BytesType), value)
			span := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("0123456789abcdef"))
			span = protowire.AppendBytes(protowire.AppendTag(span, 2, protowire.BytesType), []byte("01234567"))
			span = protowire.AppendBytes(protowire.AppendTag(span, 9, protowire.BytesType), attr)
			ss := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), span)
			rs := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), ss)
			if err := proto.Unmarshal(rs, &tracepb.ResourceSpans{}); (err == nil) != tt.took {
				t.Fatalf("protobuf's decoding: %v; the case wants it to succeed = %v", err, tt.took)
			}
			if took := checkWire(t, rs, noLimits); took != tt.took {
				t.Errorf("AppendWire took it = %v, want %v", took, tt.took)
			}
			if tt.took {
				var c dbmodel.SpanColumns
				c.AppendWire(wireFn, rs, noLimits)
				if _, values := c.AttributeKeys.Row(0), c.AttributeValues.Row(0); len(values) != 1 || values[0] != "last" {
					t.Errorf("attribute values %q, want [last]", values)
				}
			}
		})
	}
}

// TestAppendWireArrayStringCap: a string of an array over the value cap
// is left to the message path, which cuts it; one at the cap is taken.
func TestAppendWireArrayStringCap(t *testing.T) {
	lim := capLimits
	lim.MaxAttributeValueBytes = 3
	for _, tt := range []struct {
		value string
		took  bool
	}{{"abc", true}, {"abcd", false}} {
		value := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte(tt.value))
		array := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), value)
		attr := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("k"))
		attr = protowire.AppendBytes(protowire.AppendTag(attr, 2, protowire.BytesType), protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), array))
		span := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("0123456789abcdef"))
		span = protowire.AppendBytes(protowire.AppendTag(span, 2, protowire.BytesType), []byte("01234567"))
		span = protowire.AppendBytes(protowire.AppendTag(span, 9, protowire.BytesType), attr)
		ss := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), span)
		rs := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), ss)
		if took := checkWire(t, rs, lim); took != tt.took {
			t.Errorf("array [%q] with values capped at 3 bytes: AppendWire took it = %v, want %v", tt.value, took, tt.took)
		}
	}
}

// TestAppendWireRequestID holds AppendWire's request ID, found in one pass
// over a span's attribute keys, to the message path's: faas.invocation_id
// first, else faas.execution, an empty value not counting; the one
// faas.invocation_id moved out of the attributes, kept when it is repeated,
// when faas.execution is there too or when it is empty.
func TestAppendWireRequestID(t *testing.T) {
	kv := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	const inv, exec = dbmodel.AttrInvocationID, "faas.execution"
	for _, tc := range []struct {
		name  string
		attrs []*commonpb.KeyValue
		want  string
	}{
		{"none", []*commonpb.KeyValue{kv("a", "1")}, ""},
		{"invocation ID", []*commonpb.KeyValue{kv("a", "1"), kv(inv, "req"), kv("b", "2")}, "req"},
		{"invocation ID first", []*commonpb.KeyValue{kv(inv, "req")}, "req"},
		{"execution only", []*commonpb.KeyValue{kv(exec, "old")}, "old"},
		{"both", []*commonpb.KeyValue{kv(exec, "old"), kv(inv, "req")}, "req"},
		{"both, the same", []*commonpb.KeyValue{kv(inv, "req"), kv(exec, "req")}, "req"},
		{"empty invocation ID, execution", []*commonpb.KeyValue{kv(inv, ""), kv(exec, "old")}, "old"},
		{"empty both", []*commonpb.KeyValue{kv(inv, ""), kv(exec, "")}, ""},
		{"repeated", []*commonpb.KeyValue{kv(inv, "req"), kv(inv, "other")}, "req"},
		{"repeated, first empty", []*commonpb.KeyValue{kv(inv, ""), kv(inv, "other")}, ""},
		{"execution repeated", []*commonpb.KeyValue{kv(exec, ""), kv(exec, "old")}, ""},
		{"a key of the same length", []*commonpb.KeyValue{kv("faas.invocation_xx", "x"), kv(inv, "req")}, "req"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
				TraceId: []byte("0123456789abcdef"), SpanId: []byte("01234567"), Name: "s",
				StartTimeUnixNano: 1, EndTimeUnixNano: 2, Attributes: tc.attrs,
			}}}}}
			b, err := proto.Marshal(rs)
			if err != nil {
				t.Fatal(err)
			}
			if !checkWire(t, b, noLimits) {
				t.Fatal("AppendWire left the span to the message path")
			}
			var c dbmodel.SpanColumns
			c.AppendWire(wireFn, b, noLimits)
			if got := c.RequestID.Row(0); got != tc.want {
				t.Errorf("request ID %q, want %q", got, tc.want)
			}
		})
	}
}
