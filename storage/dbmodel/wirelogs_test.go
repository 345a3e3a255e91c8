package dbmodel_test

import (
	"math"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

var (
	logNoLimits  = withLogBody(noLimits, math.MaxInt)
	logCapLimits = withLogBody(capLimits, 64<<10)
)

func withLogBody(l dbmodel.WireLimits, n int) dbmodel.WireLimits {
	l.LogBodyBytes = n
	return l
}

// logSent is the sent time of the batches the log tests read: the time of
// records without one.
const logSent = 1_780_000_000_000_000_000

// logShapes are ResourceLogs of the shapes log records come in: the
// demo's (text lines and a structured one), records with every field,
// without times, with bodies of every kind, under a resource naming the
// function, and those the message path must take (key-value bodies, scope
// attributes, a time after the last one stored).
func logShapes(t testing.TB) []*logspb.ResourceLogs {
	t.Helper()
	demo := storagetest.DemoLogRequest(rand.New(rand.NewPCG(3, 4)), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 20, false)
	s := func(v string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}
	}
	kv := func(k string, v *commonpb.AnyValue) *commonpb.KeyValue { return &commonpb.KeyValue{Key: k, Value: v} }
	full := &logspb.LogRecord{
		TimeUnixNano: 1_780_000_000_000_000_001, ObservedTimeUnixNano: 1_780_000_000_000_000_002,
		SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_ERROR, SeverityText: "ERROR", Body: s("boom"),
		Attributes: []*commonpb.KeyValue{
			kv("requestId", s("r-1")), kv("n", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: -7}}),
			kv("d", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}}),
			kv("b", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}),
			kv("raw", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2}}}),
			kv(dbmodel.AttrLogType, s("platform")),
		},
		DroppedAttributesCount: 2, Flags: 1, TraceId: make([]byte, 16), SpanId: []byte{1, 2, 3}, EventName: "evt",
	}
	bodies := []*commonpb.AnyValue{
		nil, {}, {Value: &commonpb.AnyValue_IntValue{IntValue: 42}}, {Value: &commonpb.AnyValue_BoolValue{}},
		{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte("bytes")}}, {Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.Inf(1)}},
	}
	var varied []*logspb.LogRecord
	for i, body := range bodies {
		varied = append(varied, &logspb.LogRecord{Body: body, ObservedTimeUnixNano: uint64(i) * 1e9, SeverityNumber: logspb.SeverityNumber(300 * i)})
	}
	named := &logspb.ResourceLogs{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			kv("faas.name", s("other")), kv("service.name", s("svc")), kv(dbmodel.AttrLogType, s("extension"))}},
		ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "scope", Version: "1"}, LogRecords: varied}},
	}
	return []*logspb.ResourceLogs{
		demo.ResourceLogs[0],
		{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{full}}}},
		named,
		{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{
			KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{kv("a", s("b"))}}}}}}}}},
		{ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "s", Attributes: []*commonpb.KeyValue{kv("a", s("b"))}},
			LogRecords: []*logspb.LogRecord{{Body: s("x")}}}}},
		{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{TimeUnixNano: math.MaxUint64, Body: s("late")}}}}},
	}
}

// logWireSeeds are logShapes in wire form, and the same with the hostile
// turns wireSeeds gives spans, and records with a string that is not
// UTF-8, a body twice, a body of the wrong wire type.
func logWireSeeds(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, rl := range logShapes(t) {
		// The demo's twenty records are cut to two, as wireSeeds cuts
		// spans.
		if proto.Size(rl) > 1024 {
			rl = proto.Clone(rl).(*logspb.ResourceLogs)
			for _, sl := range rl.ScopeLogs {
				sl.LogRecords = sl.LogRecords[:min(len(sl.LogRecords), 2)]
			}
		}
		b, err := proto.Marshal(rl)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b,
			append(b[:len(b):len(b)], b...),
			protowire.AppendBytes(protowire.AppendTag(b[:len(b):len(b)], 99, protowire.BytesType), []byte{0xff}),
			protowire.AppendVarint(protowire.AppendTag(b[:len(b):len(b)], 3, protowire.VarintType), 1),
			b[:len(b)/2])
	}
	field := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	rec := func(fields ...[]byte) []byte {
		var r []byte
		for _, f := range fields {
			r = append(r, f...)
		}
		return field(2, field(2, r))
	}
	body := field(5, field(1, []byte("hello")))
	out = append(out,
		rec(field(3, []byte{'a', 0xff})),
		rec(body, body),
		rec(protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 7)),
		rec(field(6, field(2, field(1, []byte{0xc3})))),
		rec(field(12, []byte{0xff})),
		rec(protowire.AppendFixed64(protowire.AppendTag(nil, 11, protowire.Fixed64Type), math.MaxUint64)),
	)
	return out
}

// logPrefill is the records checkLogWire puts in the columns before the
// message's, made once, as spanPrefill.
var logPrefill = sync.OnceValue(func() *dbmodel.LogColumns {
	var c dbmodel.LogColumns
	c.AppendExport(storagetest.DemoLogRequest(rand.New(rand.NewPCG(5, 6)), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 3, true))
	return &c
})

// checkLogWire holds LogColumns.AppendWire to the message path on one
// ResourceLogs in wire form, as checkWire does for spans.
func checkLogWire(t *testing.T, b []byte, lim dbmodel.WireLimits) (took bool) {
	t.Helper()
	var got, want dbmodel.LogColumns
	got.AppendColumns(logPrefill())
	want.AppendColumns(logPrefill())
	before := got.Len()
	took = got.AppendWire(wireFn, logSent, b, lim)
	var rl logspb.ResourceLogs
	err := proto.Unmarshal(b, &rl)
	switch {
	case err != nil && took:
		t.Fatalf("AppendWire took a message protobuf refuses (%v)", err)
	case !took:
		if got.Len() != before {
			t.Fatalf("AppendWire left the message but kept %d records of it", got.Len()-before)
		}
	default:
		want.AppendExport(&ingestv1.ExportRequest{Function: wireFn, SentTimeUnixNano: logSent, ResourceLogs: []*logspb.ResourceLogs{&rl}})
		if want.Rejected != 0 {
			t.Fatalf("AppendWire took a message with %d records the writer refuses: %q", want.Rejected, want.Problems)
		}
	}
	if got.Len() != want.Len() || got.Rejected != want.Rejected {
		t.Fatalf("AppendWire: %d records (%d rejected), message path %d (%d)", got.Len(), got.Rejected, want.Len(), want.Rejected)
	}
	// The prefill's rows are the same in both columns unless the bytes
	// under them changed, which sameNative sees.
	for i := before; i < want.Len(); i++ {
		if g, w := got.Row(i), want.Row(i); !reflect.DeepEqual(g, w) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	sameNative(t, &got, &want)
	return took
}

// TestLogAppendWireShapes: the plain shapes are taken and give the
// message path's rows; the rest give its rows or are left to it.
func TestLogAppendWireShapes(t *testing.T) {
	for i, rl := range logShapes(t) {
		b, err := proto.Marshal(rl)
		if err != nil {
			t.Fatal(err)
		}
		// demo, every field, bodies of every kind: taken; a key-value
		// body, scope attributes, a time too late: left.
		if took, want := checkLogWire(t, b, logCapLimits), i < 3; took != want {
			t.Errorf("shape %d: AppendWire took it = %v, want %v", i, took, want)
		}
		checkLogWire(t, b, logNoLimits)
	}
	for _, b := range logWireSeeds(t) {
		t.Run("", func(t *testing.T) { checkLogWire(t, b, logCapLimits) })
	}
}

// TestLogAppendWireLimits: a value over any cap leaves the resource to
// the message path, which cuts and counts it; one at the cap is taken.
func TestLogAppendWireLimits(t *testing.T) {
	rec := &logspb.LogRecord{
		TimeUnixNano: 1, SeverityText: "WARN", EventName: "evt",
		Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "body!"}},
		Attributes: []*commonpb.KeyValue{{Key: "key", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "val"}}}},
	}
	rl := &logspb.ResourceLogs{ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "nm", Version: "v"}, LogRecords: []*logspb.LogRecord{rec}}}}
	b, err := proto.Marshal(rl)
	if err != nil {
		t.Fatal(err)
	}
	at := dbmodel.WireLimits{MaxAttributeKeyBytes: 3, MaxAttributeValueBytes: 3, NameBytes: 3, OtherBytes: 4, LogBodyBytes: 5}
	if !checkLogWire(t, b, at) {
		t.Fatal("values at the caps: left to the message path")
	}
	for name, lower := range map[string]func(*dbmodel.WireLimits){
		"attribute key":        func(l *dbmodel.WireLimits) { l.MaxAttributeKeyBytes-- },
		"attribute value":      func(l *dbmodel.WireLimits) { l.MaxAttributeValueBytes-- },
		"event and scope name": func(l *dbmodel.WireLimits) { l.NameBytes-- },
		"severity text":        func(l *dbmodel.WireLimits) { l.OtherBytes-- },
		"body":                 func(l *dbmodel.WireLimits) { l.LogBodyBytes-- },
	} {
		lim := at
		lower(&lim)
		if checkLogWire(t, b, lim) {
			t.Errorf("%s over its cap: taken", name)
		}
	}
}

// FuzzLogAppendWire holds LogColumns.AppendWire to the message path
// (checkLogWire) on resource logs of every shape and any bytes.
func FuzzLogAppendWire(f *testing.F) {
	for _, b := range logWireSeeds(f) {
		f.Add(b, uint16(0))
		f.Add(b, uint16(8))
	}
	f.Fuzz(func(t *testing.T, b []byte, capBytes uint16) {
		lim := logNoLimits
		if capBytes > 0 {
			n := int(capBytes)
			lim = dbmodel.WireLimits{MaxAttributeKeyBytes: n, MaxAttributeValueBytes: n, NameBytes: n, StatusMessageBytes: n, OtherBytes: n, LogBodyBytes: n}
		}
		checkLogWire(t, b, lim)
	})
}

// TestLogAppendColumns: log columns filled from two requests apart and
// then joined hold the rows of columns filled from both in turn.
func TestLogAppendColumns(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	first := storagetest.DemoLogRequest(rng, time.Now(), 7, false)
	second := storagetest.DemoLogRequest(rng, time.Now(), 4, true)
	var a, b, joined, both dbmodel.LogColumns
	a.AppendExport(first)
	b.AppendExport(second)
	joined.AppendColumns(&a)
	joined.AppendColumns(&b)
	both.AppendExport(first)
	both.AppendExport(second)
	if joined.Len() != both.Len() || joined.Rejected != both.Rejected {
		t.Fatalf("joined: %d records, %d rejected; want %d, %d", joined.Len(), joined.Rejected, both.Len(), both.Rejected)
	}
	for i := range both.Len() {
		if g, w := joined.Row(i), both.Row(i); !reflect.DeepEqual(g, w) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}
