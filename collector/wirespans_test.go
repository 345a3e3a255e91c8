package collector

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// decoded is what the receiver makes of an Ingest API request's bytes on
// the way to the insert: the span columns, what was left out, cut and
// dropped, and the request as the WAL keeps it.
type decoded struct {
	err                 error
	cols                *dbmodel.SpanColumns
	logs                *dbmodel.LogColumns
	invalidUTF8         int
	malformed           int
	keysDropped, values int
	cut                 map[string]int
	largest             int
	wal                 *ingestv1.ExportRequest
}

// messagePath decodes b the way every request was before spans were read
// from the wire: into messages, leniently; malformed spans dropped; limits
// applied; spans converted into columns.
func messagePath(b []byte, cfg Config) decoded {
	req := &ingestv1.ExportRequest{}
	rejected, err := decodeLenient(b, req)
	if err != nil {
		return decoded{err: err}
	}
	d := decoded{invalidUTF8: rejected, cols: &dbmodel.SpanColumns{}, logs: &dbmodel.LogColumns{}}
	d.malformed, _ = dropMalformedSpans(req, nil)
	lim := attrLimiter{maxKey: cfg.MaxAttributeKeyBytes, maxValue: cfg.MaxAttributeValueBytes}
	lim.apply(req)
	fl := fieldLimiter{lim: cfg.Fields}
	fl.apply(req)
	d.keysDropped, d.values, d.cut, d.largest = lim.dropped, lim.truncated, fl.cut, fl.largest
	d.cols.AppendExport(req)
	d.logs.AppendExport(req)
	d.wal = req
	return d
}

// wirePath decodes b as the gRPC receiver does now: the codec reads the
// spans into columns, the receiver and pipeline handle the rest.
func wirePath(b []byte, cfg Config) decoded {
	codec := newLenientCodec(cfg)
	req := &ingestv1.ExportRequest{}
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, req); err != nil {
		return decoded{err: err}
	}
	note, _ := codec.take(req)
	if note.err != nil {
		return decoded{err: note.err}
	}
	spans := note.spans
	d := decoded{invalidUTF8: note.rejected, cols: &dbmodel.SpanColumns{}, logs: &dbmodel.LogColumns{}}
	if spans != nil {
		d.cols = &spans.cols
		d.logs = &spans.logs
		d.malformed = spans.malformed
	}
	n, _ := dropMalformedSpans(req, nil)
	d.malformed += n
	lim := attrLimiter{maxKey: cfg.MaxAttributeKeyBytes, maxValue: cfg.MaxAttributeValueBytes}
	lim.apply(req)
	fl := fieldLimiter{lim: cfg.Fields}
	fl.apply(req)
	d.wal = withSpanMessages(req, spans)
	if spans != nil {
		lim.dropped += spans.attrs.dropped
		lim.truncated += spans.attrs.truncated
		for f, n := range spans.fields.cut {
			if fl.cut == nil {
				fl.cut = map[string]int{}
			}
			fl.cut[f] += n
		}
		fl.largest = max(fl.largest, spans.fields.largest)
	}
	d.keysDropped, d.values, d.cut, d.largest = lim.dropped, lim.truncated, fl.cut, fl.largest
	d.cols.AppendExport(req)
	d.logs.AppendExport(req)
	return d
}

// checkSpanPaths holds the wire path to the message path on one request.
func checkSpanPaths(t *testing.T, b []byte, cfg Config) {
	t.Helper()
	want := messagePath(b, cfg)
	got := wirePath(b, cfg)
	if (got.err == nil) != (want.err == nil) {
		t.Fatalf("error %v, message path %v", got.err, want.err)
	}
	if want.err != nil {
		return
	}
	if got.invalidUTF8 != want.invalidUTF8 || got.malformed != want.malformed {
		t.Errorf("left out %d (not UTF-8) and %d (malformed), message path %d and %d", got.invalidUTF8, got.malformed, want.invalidUTF8, want.malformed)
	}
	if got.keysDropped != want.keysDropped || got.values != want.values || !reflect.DeepEqual(got.cut, want.cut) || got.largest != want.largest {
		t.Errorf("limits: %d keys dropped, %d values cut, fields cut %v (largest %d); message path %d, %d, %v (%d)",
			got.keysDropped, got.values, got.cut, got.largest, want.keysDropped, want.values, want.cut, want.largest)
	}
	// Problems: nil and empty alike (pooled columns keep an empty list).
	if got.cols.Len() != want.cols.Len() || got.cols.Rejected != want.cols.Rejected || !slices.Equal(got.cols.Problems, want.cols.Problems) {
		t.Fatalf("%d spans, %d rejected (%q); message path %d, %d (%q)", got.cols.Len(), got.cols.Rejected, got.cols.Problems,
			want.cols.Len(), want.cols.Rejected, want.cols.Problems)
	}
	for i := range want.cols.Len() {
		if g, w := got.cols.Row(i), want.cols.Row(i); !reflect.DeepEqual(g, w) {
			t.Fatalf("span %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if got.logs.Len() != want.logs.Len() || got.logs.Rejected != want.logs.Rejected || !slices.Equal(got.logs.Problems, want.logs.Problems) {
		t.Fatalf("%d log records, %d rejected (%q); message path %d, %d (%q)", got.logs.Len(), got.logs.Rejected, got.logs.Problems,
			want.logs.Len(), want.logs.Rejected, want.logs.Problems)
	}
	for i := range want.logs.Len() {
		if g, w := got.logs.Row(i), want.logs.Row(i); !reflect.DeepEqual(g, w) {
			t.Fatalf("log record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if !proto.Equal(got.wal, want.wal) {
		t.Errorf("the WAL's copy of the request differs from the message path's")
	}
}

// spanRequestSeeds are Ingest API requests of every span shape
// (storagetest.SpanShapes), with logs beside them, and hostile turns:
// strings that are not UTF-8 in a span, a resource, a scope, a log record,
// the function's identity; cut-off bodies; a resource's spans twice.
// For the fuzzer (small) the shape with 40 KB strings is left out: it
// slows mutation down a hundredfold, and small caps reach the same code.
func spanRequestSeeds(t testing.TB, small bool) [][]byte {
	t.Helper()
	fn := &ingestv1.FunctionIdentity{Name: "orders", Version: "$LATEST", Region: "eu-west-1", AccountId: "123456789012"}
	shapes := storagetest.SpanShapes(rand.New(rand.NewPCG(9, 10)))
	if small {
		shapes = slices.DeleteFunc(shapes, func(rs *tracepb.ResourceSpans) bool { return proto.Size(rs) > 20000 })
	}
	logs := []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
		{TimeUnixNano: 1, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "hello"}}}}}}}}
	marshal := func(req *ingestv1.ExportRequest) []byte {
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var out [][]byte
	all := &ingestv1.ExportRequest{BatchId: make([]byte, 16), Function: fn, ResourceSpans: shapes, ResourceLogs: logs, SentTimeUnixNano: 5}
	out = append(out, marshal(all))
	for _, rs := range shapes {
		out = append(out, marshal(&ingestv1.ExportRequest{BatchId: make([]byte, 16), Function: fn, ResourceSpans: []*tracepb.ResourceSpans{rs}}))
	}
	// Bad UTF-8 planted by replacing a known string's bytes in the wire
	// form (same length, so the framing holds).
	plant := func(b []byte, s string) []byte {
		i := indexOf(b, []byte(s))
		if i < 0 {
			return nil // in a shape left out
		}
		c := append([]byte(nil), b...)
		c[i+1] = 0xff
		return c
	}
	base := marshal(all)
	for _, s := range []string{"validate order", "aws_lambda", "io.opentelemetry.aws-lambda", "hello", "$LATEST", "exception.message", "scope.attr", "https://opentelemetry.io"} {
		if b := plant(base, s); b != nil {
			out = append(out, b)
		}
	}
	out = append(out, base[:len(base)-3], base[:len(base)/2])
	// Log records: the demo's, and beside them records the message path
	// must take (a key-value body, a time after the last one stored) or
	// cut (a body over small caps), and strings that are not UTF-8 in a
	// record and in the logs' resource.
	demoLogs := storagetest.DemoLogRequest(rand.New(rand.NewPCG(11, 12)), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 10, false)
	odd := &logspb.ResourceLogs{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
		{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
			Values: []*commonpb.KeyValue{{Key: "k", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "v"}}}}}}}},
		{TimeUnixNano: 1 << 63, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "late"}}},
		{SeverityText: "a severity text longer than small caps", EventName: "an event name longer than small caps"},
	}}}}
	logReq := &ingestv1.ExportRequest{BatchId: make([]byte, 16), Function: fn, SentTimeUnixNano: 7,
		ResourceLogs: append(demoLogs.ResourceLogs, odd), ResourceSpans: shapes[:1]}
	logBase := marshal(logReq)
	out = append(out, logBase)
	for _, s := range []string{"order placed", "SKU-", "late", "a severity text"} {
		if b := plant(logBase, s); b != nil {
			out = append(out, b)
		}
	}
	twice := protowire.AppendBytes(protowire.AppendTag(base[:len(base):len(base)], 4, protowire.BytesType), marshalRS(t, shapes[2]))
	out = append(out, twice)
	return out
}

func marshalRS(t testing.TB, rs *tracepb.ResourceSpans) []byte {
	t.Helper()
	b, err := proto.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}

// smallLimits are caps the seeds go over.
func smallLimits(n int) Config {
	cfg := DefaultConfig()
	cfg.MaxAttributeKeyBytes, cfg.MaxAttributeValueBytes = n, n
	cfg.Fields = FieldLimits{NameBytes: n, StatusMessageBytes: n, LogBodyBytes: n, OtherBytes: n}
	return cfg
}

// TestSpansFromWireAsMessages: reading spans from the wire gives the rows,
// counts, cuts and WAL copy the message path gives, on every seed, with
// the default limits and with small ones.
func TestSpansFromWireAsMessages(t *testing.T) {
	for _, b := range spanRequestSeeds(t, false) {
		checkSpanPaths(t, b, DefaultConfig())
		checkSpanPaths(t, b, smallLimits(12))
		checkSpanPaths(t, b, smallLimits(4))
	}
}

// TestSpansFromWireTakePlainShapes: the demo's spans take the wire path
// alone, not the message path behind it.
func TestSpansFromWireTakePlainShapes(t *testing.T) {
	req := storagetest.DemoSpanRequest(rand.New(rand.NewPCG(1, 2)), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 100, false)
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	_, raw, _, ok := splitSpans(b)
	if !ok || len(raw) != 1 {
		t.Fatalf("splitSpans: ok %v, %d resource spans; want 1", ok, len(raw))
	}
	var cols dbmodel.SpanColumns
	if !cols.AppendWire(req.GetFunction(), raw[0], wireLimits(DefaultConfig())) {
		t.Fatal("AppendWire left the demo's spans to the message path")
	}
}

// TestLogsFromWireTakePlainShapes: the demo's log records take the wire
// path alone, not the message path behind it.
func TestLogsFromWireTakePlainShapes(t *testing.T) {
	req := storagetest.DemoLogRequest(rand.New(rand.NewPCG(1, 2)), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 100, false)
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	_, spans, logs, ok := splitSpans(b)
	if !ok || len(spans) != 0 || len(logs) != 1 {
		t.Fatalf("splitSpans: ok %v, %d resource spans and %d resource logs; want 0 and 1", ok, len(spans), len(logs))
	}
	var cols dbmodel.LogColumns
	if !cols.AppendWire(req.GetFunction(), req.GetSentTimeUnixNano(), logs[0], wireLimits(DefaultConfig())) {
		t.Fatal("AppendWire left the demo's log records to the message path")
	}
}

// FuzzSpansFromWire holds the wire path to the message path
// (checkSpanPaths) on any request bytes, with caps from tiny to the
// defaults.
func FuzzSpansFromWire(f *testing.F) {
	for _, b := range spanRequestSeeds(f, true) {
		f.Add(b, uint16(0))
		f.Add(b, uint16(12))
	}
	f.Fuzz(func(t *testing.T, b []byte, caps uint16) {
		cfg := DefaultConfig()
		if caps > 0 {
			cfg = smallLimits(int(caps))
		}
		checkSpanPaths(t, b, cfg)
	})
}

// BenchmarkReceiveSpansDemo is the collector's CPU on one Ingest API
// request of 1,000 demo-shaped spans (storagetest.DemoSpanRequest) from
// the body's bytes to the insert's columns, both ways side by side:
// "message", the gRPC codec decoding the request into messages (as it did
// for every request before), the
// receiver's checks and limits on them, their conversion into columns;
// "wire", the codec reading the spans from the wire into columns with
// the same checks and limits. allocs/op over 1,000 is the allocations per
// span. Run:
//
//	go test -run '^$' -bench ReceiveSpansDemo -benchmem -count 5 ./collector/
func BenchmarkReceiveSpansDemo(b *testing.B) {
	req := storagetest.DemoSpanRequest(rand.New(rand.NewPCG(1, 2)), time.Now(), 1000, false)
	raw, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	codec := newLenientCodec(cfg)
	var cols dbmodel.SpanColumns
	b.Run("message", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			req := &ingestv1.ExportRequest{}
			if err := codec.base.Unmarshal(mem.BufferSlice{mem.SliceBuffer(raw)}, req); err != nil {
				b.Fatal(err)
			}
			dropMalformedSpans(req, nil)
			lim := attrLimiter{maxKey: cfg.MaxAttributeKeyBytes, maxValue: cfg.MaxAttributeValueBytes}
			lim.apply(req)
			fl := fieldLimiter{lim: cfg.Fields}
			fl.apply(req)
			cols.Reset()
			cols.AppendExport(req)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/span")
	})
	b.Run("wire", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		cpu0 := processCPU()
		for b.Loop() {
			req := &ingestv1.ExportRequest{}
			if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(raw)}, req); err != nil {
				b.Fatal(err)
			}
			note, _ := codec.take(req)
			if note.err != nil || note.spans.cols.Len() != 1000 {
				b.Fatalf("decode: %v", note.err)
			}
			dropMalformedSpans(req, nil)
			lim := attrLimiter{maxKey: cfg.MaxAttributeKeyBytes, maxValue: cfg.MaxAttributeValueBytes}
			lim.apply(req)
			fl := fieldLimiter{lim: cfg.Fields}
			fl.apply(req)
			cols.Reset()
			cols.AppendColumns(&note.spans.cols)
			cols.AppendExport(req)
			note.spans.release()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/span")
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*1000), "cpu-ns/span")
	})
}

// TestDirtyPoolSizes holds the request buffers' pool to its size classes:
// a buffer of the asked length, in the smallest class that holds it, back
// in that class when put, and none kept that is not the pool's.
func TestDirtyPoolSizes(t *testing.T) {
	p := &dirtyPool{}
	for _, size := range []int{0, 1, 4096, 4097, 300 << 10, 1 << 20, 64 << 20} {
		b := p.Get(size)
		if len(*b) != size {
			t.Errorf("Get(%d): length %d", size, len(*b))
		}
		if c := cap(*b); c < size || (c > 4096 && c/2 >= size) {
			t.Errorf("Get(%d): capacity %d, not the smallest class", size, c)
		}
		p.Put(b)
	}
	huge := p.Get(1<<27 + 1)
	if len(*huge) != 1<<27+1 {
		t.Errorf("Get(128 MiB + 1): length %d", len(*huge))
	}
	p.Put(huge) // over the classes: not kept
	odd := make([]byte, 5000)
	p.Put(&odd) // not a class size: not kept
	if c, _ := p.class(5000); p.classes[c].Get() != nil {
		t.Error("a buffer of a size the pool does not make was kept")
	}
}

// processCPU is the CPU time the process has used, user and system:
// steadier than the elapsed time on a busy machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
