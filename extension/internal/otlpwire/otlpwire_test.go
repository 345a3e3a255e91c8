package otlpwire

import (
	"bytes"
	"errors"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

var (
	traceA = bytes.Repeat([]byte{0xa}, 16)
	traceB = bytes.Repeat([]byte{0xb}, 16)
)

func sampleRequest() *coltracepb.ExportTraceServiceRequest {
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "orders")}},
			ScopeSpans: []*tracepb.ScopeSpans{
				{Scope: &commonpb.InstrumentationScope{Name: "otelaws"}, Spans: []*tracepb.Span{
					{TraceId: traceA, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "handler", Kind: tracepb.Span_SPAN_KIND_SERVER,
						Attributes: []*commonpb.KeyValue{str("http.method", "GET"), str(AttrInvocationID, "req-1")}},
					{TraceId: traceA, SpanId: []byte{2, 2, 2, 2, 2, 2, 2, 2}, Name: "db", Kind: tracepb.Span_SPAN_KIND_CLIENT,
						Attributes: []*commonpb.KeyValue{{Key: "n", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 3}}}}},
				}},
				{Spans: []*tracepb.Span{
					{TraceId: traceB, SpanId: []byte{3, 3, 3, 3, 3, 3, 3, 3}, Name: "inner",
						Attributes: []*commonpb.KeyValue{str(AttrInvocationID, "req-2")}},
					{TraceId: []byte{1, 2}, SpanId: []byte{4, 4, 4, 4, 4, 4, 4, 4}, Name: "short trace id",
						Attributes: []*commonpb.KeyValue{str(AttrInvocationID, "req-3")}},
				}},
			},
		},
		{},
		{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "no ids"}}}}},
	}}
}

func TestScanTraces(t *testing.T) {
	data, err := proto.Marshal(sampleRequest())
	if err != nil {
		t.Fatal(err)
	}
	got, err := ScanTraces(data)
	if err != nil {
		t.Fatalf("ScanTraces: %v", err)
	}
	if n := got.SpanCount(); n != 5 {
		t.Errorf("SpanCount = %d, want 5", n)
	}
	if len(got.ResourceSpans) != 3 {
		t.Fatalf("%d resource spans, want 3", len(got.ResourceSpans))
	}
	for i, want := range []int{4, 0, 1} {
		if got.ResourceSpans[i].Spans != want {
			t.Errorf("resource spans %d: %d spans, want %d", i, got.ResourceSpans[i].Spans, want)
		}
		if want := proto.Size(sampleRequest().ResourceSpans[i]); got.ResourceSpans[i].Size != want {
			t.Errorf("resource spans %d: size %d, want %d", i, got.ResourceSpans[i].Size, want)
		}
	}
	want := []InvocationSpan{
		{InvocationID: "req-1", TraceID: traceA, SpanID: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Server: true},
		{InvocationID: "req-2", TraceID: traceB, SpanID: []byte{3, 3, 3, 3, 3, 3, 3, 3}},
	}
	if !equalInvocations(got.Invocations, want) {
		t.Errorf("invocations = %+v, want %+v", got.Invocations, want)
	}
	checkSpliced(t, data, got)
}

func TestScanTracesErrors(t *testing.T) {
	bad := func(b ...byte) []byte { return b }
	// A span name (field 5) that is not UTF-8, nested in resource spans.
	span := protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), []byte{0xff, 0xfe})
	scope := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), span)
	rs := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), scope)
	badUTF8 := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rs)
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"truncated tag", bad(0x80)},
		{"field number 0", bad(0x02, 0x00)},
		{"length past the end", bad(0x0a, 0x05, 0x01)},
		{"end of a group not started", bad(0x0c)},
		{"bad nested message", bad(0x0a, 0x02, 0x12, 0x05)},
		{"invalid UTF-8 in a span name", badUTF8},
		{"unterminated group", bad(0x1b, 0x08, 0x01)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := proto.Unmarshal(tt.data, &coltracepb.ExportTraceServiceRequest{}); err == nil {
				t.Fatalf("proto.Unmarshal accepts the input; the case is wrong")
			}
			got, err := ScanTraces(tt.data)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ScanTraces = %v, %v; want ErrMalformed", got, err)
			}
		})
	}
}

// nested is a request whose one span has an attribute of levels arrays
// nested in each other around inner, an encoded AnyValue.
func nested(levels int, inner []byte) []byte {
	field := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	v := inner
	for range levels {
		v = field(5, field(1, v)) // AnyValue.array_value, ArrayValue.values
	}
	kv := append(field(1, []byte("k")), field(2, v)...)
	return field(1, field(2, field(2, field(9, kv))))
}

func TestScanTracesDeepNesting(t *testing.T) {
	badString := []byte{0x0a, 0x01, 0xff} // AnyValue.string_value, not UTF-8
	for _, tt := range []struct {
		name   string
		data   []byte
		wantOK bool
	}{
		{"as deep as the decoder allows", nested(4997, nil), true},
		{"bad string deep down", nested(4000, badString), false},
		{"one level deeper", nested(4998, nil), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			perr := proto.Unmarshal(tt.data, &coltracepb.ExportTraceServiceRequest{})
			got, err := ScanTraces(tt.data)
			if (perr == nil) != tt.wantOK || (err == nil) != tt.wantOK {
				t.Fatalf("ScanTraces error %v, proto.Unmarshal error %v; want ok=%v", err, perr, tt.wantOK)
			}
			if err != nil {
				// The message names the innermost field only.
				if len(err.Error()) > 300 {
					t.Errorf("error of %d bytes: %.300s...", len(err.Error()), err)
				}
				return
			}
			checkSpliced(t, tt.data, got)
		})
	}
}

// checkSpliced asserts that the re-tagged fields, as an Ingest API
// request, carry the same resource spans as the decoded request.
func checkSpliced(t *testing.T, data []byte, got *Traces) {
	t.Helper()
	var decoded coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &decoded); err != nil {
		t.Fatalf("proto.Unmarshal: %v", err)
	}
	var fields []byte
	for _, rs := range got.ResourceSpans {
		fields = append(fields, rs.Field...)
	}
	var ingest ingestv1.ExportRequest
	if err := proto.Unmarshal(fields, &ingest); err != nil {
		t.Fatalf("unmarshal spliced fields as an Ingest request: %v", err)
	}
	if len(ingest.ResourceSpans) != len(decoded.ResourceSpans) {
		t.Fatalf("%d resource spans spliced, want %d", len(ingest.ResourceSpans), len(decoded.ResourceSpans))
	}
	spans := 0
	for i, rs := range decoded.ResourceSpans {
		if !proto.Equal(ingest.ResourceSpans[i], rs) {
			t.Fatalf("resource spans %d differ after splicing", i)
		}
		for _, ss := range rs.GetScopeSpans() {
			spans += len(ss.GetSpans())
		}
	}
	if got.SpanCount() != spans {
		t.Fatalf("SpanCount = %d, decoded request has %d", got.SpanCount(), spans)
	}
	if want := decodedInvocations(&decoded); !equalInvocations(got.Invocations, want) {
		t.Fatalf("invocations = %+v, decoded request gives %+v", got.Invocations, want)
	}
}

// decodedInvocations is what the decoded request says, by the rules of
// the structs' getters.
func decodedInvocations(req *coltracepb.ExportTraceServiceRequest) []InvocationSpan {
	var out []InvocationSpan
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				id := ""
				for _, kv := range sp.GetAttributes() {
					if kv.GetKey() == AttrInvocationID {
						id = kv.GetValue().GetStringValue()
						break
					}
				}
				if id == "" || len(sp.GetTraceId()) != 16 {
					continue
				}
				inv := InvocationSpan{InvocationID: id, TraceID: sp.GetTraceId(), SpanID: sp.GetSpanId(),
					Server: sp.GetKind() == tracepb.Span_SPAN_KIND_SERVER}
				if len(sp.GetParentSpanId()) == 8 {
					inv.Parent = sp.GetParentSpanId()
				}
				out = append(out, inv)
			}
		}
	}
	return out
}

func equalInvocations(a, b []InvocationSpan) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].InvocationID != b[i].InvocationID || !bytes.Equal(a[i].TraceID, b[i].TraceID) ||
			!bytes.Equal(a[i].SpanID, b[i].SpanID) || a[i].Server != b[i].Server || !bytes.Equal(a[i].Parent, b[i].Parent) {
			return false
		}
	}
	return true
}

// FuzzScanTraces checks ScanTraces against the protobuf decoder: it
// accepts exactly what proto.Unmarshal accepts, never panics, and what it
// passes through decodes to the same spans.
func FuzzScanTraces(f *testing.F) {
	data, err := proto.Marshal(sampleRequest())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x02, 0x12, 0x05})
	f.Add([]byte{0x0c})
	f.Add([]byte{0x1b, 0x08, 0x01, 0x1c})
	f.Add(data[:len(data)/2])
	f.Add([]byte{0x8a, 0x00, 0x00}) // resource spans under a two-byte tag
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ScanTraces(data)
		perr := proto.Unmarshal(data, &coltracepb.ExportTraceServiceRequest{})
		if (err == nil) != (perr == nil) {
			t.Fatalf("ScanTraces error %v, proto.Unmarshal error %v", err, perr)
		}
		inPlace, ierr := ScanTracesInPlace(bytes.Clone(data))
		if (ierr == nil) != (err == nil) {
			t.Fatalf("ScanTracesInPlace error %v, ScanTraces error %v", ierr, err)
		}
		if ierr == nil {
			checkSpliced(t, data, inPlace)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		checkSpliced(t, data, got)
		checkSetParent(t, data, got)
	})
}

// checkSetParent gives the first invocation span without a parent one and
// checks the result against the decoded request given the same parent.
func checkSetParent(t *testing.T, data []byte, got *Traces) {
	t.Helper()
	i := 0
	for i < len(got.Invocations) && got.Invocations[i].Parent != nil {
		i++
	}
	if i == len(got.Invocations) {
		return
	}
	parent := [8]byte{0xfe, 1, 2, 3, 4, 5, 6, 0xef}
	if err := got.SetParent(i, parent); err != nil {
		t.Fatalf("SetParent(%d): %v", i, err)
	}
	var decoded coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &decoded); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rs := range decoded.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if len(decodedInvocations(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
					ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{sp}}}}}})) == 0 {
					continue
				}
				if n == i {
					sp.ParentSpanId = parent[:]
				}
				n++
			}
		}
	}
	want, err := proto.Marshal(&decoded)
	if err != nil {
		t.Fatal(err)
	}
	checkSpliced(t, want, got)
	if !bytes.Equal(got.Invocations[i].Parent, parent[:]) {
		t.Fatalf("invocation span %d's parent %x, want %x", i, got.Invocations[i].Parent, parent)
	}
}

// TestReparentInPlace: writing an invocation span's Parent changes the
// parent of the span that is shipped, and nothing else.
func TestReparentInPlace(t *testing.T) {
	req := sampleRequest()
	req.ResourceSpans[0].ScopeSpans[0].Spans[0].ParentSpanId = []byte{9, 9, 9, 9, 9, 9, 9, 9}
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ScanTraces(data)
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Invocations[0].Parent; !bytes.Equal(p, []byte{9, 9, 9, 9, 9, 9, 9, 9}) {
		t.Fatalf("parent %x", p)
	}
	if got.Invocations[1].Parent != nil {
		t.Errorf("a span without a parent has one: %x", got.Invocations[1].Parent)
	}
	copy(got.Invocations[0].Parent, []byte{7, 7, 7, 7, 7, 7, 7, 7})
	var shipped ingestv1.ExportRequest
	if err := proto.Unmarshal(got.ResourceSpans[0].Field, &shipped); err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(req.ResourceSpans[0]).(*tracepb.ResourceSpans)
	want.ScopeSpans[0].Spans[0].ParentSpanId = []byte{7, 7, 7, 7, 7, 7, 7, 7}
	if !proto.Equal(shipped.ResourceSpans[0], want) {
		t.Errorf("shipped %v, want %v", shipped.ResourceSpans[0], want)
	}
	if data[0] == 7 || bytes.Contains(data, []byte{7, 7, 7, 7, 7, 7, 7, 7}) {
		t.Error("the request's own bytes were changed")
	}
}

// TestSetParent: a span without a parent gets one; its ResourceSpans is
// encoded again and decodes to the same spans but that parent, the other
// ResourceSpans keep their bytes, and the invocation spans point into the
// new encoding.
func TestSetParent(t *testing.T) {
	req := sampleRequest()
	// A second resource whose invocation span has a parent, and a span of
	// the first resource's second scope to change.
	req.ResourceSpans[2].ScopeSpans[0].Spans = append(req.ResourceSpans[2].ScopeSpans[0].Spans, &tracepb.Span{
		TraceId: traceB, SpanId: []byte{5, 5, 5, 5, 5, 5, 5, 5}, ParentSpanId: []byte{6, 6, 6, 6, 6, 6, 6, 6}, Kind: tracepb.Span_SPAN_KIND_SERVER,
		Attributes: []*commonpb.KeyValue{str(AttrInvocationID, "req-4")}})
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ScanTraces(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Invocations) != 3 || got.Invocations[1].InvocationID != "req-2" || got.Invocations[1].Parent != nil {
		t.Fatalf("invocations %+v", got.Invocations)
	}
	before := make([][]byte, len(got.ResourceSpans))
	for i, rs := range got.ResourceSpans {
		before[i] = append([]byte(nil), rs.Field...)
	}
	if err := got.SetParent(1, [8]byte{7, 7, 7, 7, 7, 7, 7, 7}); err != nil {
		t.Fatalf("SetParent: %v", err)
	}
	want := proto.Clone(req).(*coltracepb.ExportTraceServiceRequest)
	want.ResourceSpans[0].ScopeSpans[1].Spans[0].ParentSpanId = []byte{7, 7, 7, 7, 7, 7, 7, 7}
	for i, rs := range got.ResourceSpans {
		var shipped ingestv1.ExportRequest
		if err := proto.Unmarshal(rs.Field, &shipped); err != nil || len(shipped.ResourceSpans) != 1 {
			t.Fatalf("resource spans %d: %v", i, err)
		}
		if !proto.Equal(shipped.ResourceSpans[0], want.ResourceSpans[i]) {
			t.Errorf("resource spans %d shipped %v, want %v", i, shipped.ResourceSpans[0], want.ResourceSpans[i])
		}
		_, _, n := protowire.ConsumeTag(rs.Field)
		if _, m := protowire.ConsumeBytes(rs.Field[n:]); rs.Size != m-protowire.SizeVarint(uint64(rs.Size)) || n+m != len(rs.Field) {
			t.Errorf("resource spans %d: size %d, field of %d bytes", i, rs.Size, len(rs.Field))
		}
		if i > 0 && !bytes.Equal(rs.Field, before[i]) {
			t.Errorf("resource spans %d was encoded again", i)
		}
	}
	if got.SpanCount() != 6 {
		t.Errorf("%d spans", got.SpanCount())
	}
	// The invocation spans point into what is shipped.
	wantInv := decodedInvocations(want)
	if !equalInvocations(got.Invocations, wantInv) {
		t.Fatalf("invocations %+v, want %+v", got.Invocations, wantInv)
	}
	copy(got.Invocations[1].Parent, []byte{8, 8, 8, 8, 8, 8, 8, 8})
	copy(got.Invocations[2].Parent, []byte{9, 9, 9, 9, 9, 9, 9, 9})
	want.ResourceSpans[0].ScopeSpans[1].Spans[0].ParentSpanId = []byte{8, 8, 8, 8, 8, 8, 8, 8}
	want.ResourceSpans[2].ScopeSpans[0].Spans[1].ParentSpanId = []byte{9, 9, 9, 9, 9, 9, 9, 9}
	for _, i := range []int{0, 2} {
		var shipped ingestv1.ExportRequest
		if err := proto.Unmarshal(got.ResourceSpans[i].Field, &shipped); err != nil || !proto.Equal(shipped.ResourceSpans[0], want.ResourceSpans[i]) {
			t.Errorf("resource spans %d after writing parents: %v %v", i, err, &shipped)
		}
	}
	if err := got.SetParent(1, [8]byte{1}); !errors.Is(err, ErrHasParent) {
		t.Errorf("SetParent on a span with a parent: %v", err)
	}
	if err := got.SetParent(3, [8]byte{1}); err == nil {
		t.Error("SetParent of no span: no error")
	}
}

// TestStringAttr: the attribute shape checked without descending into
// its value is recognized, and an attribute of that shape with a string
// that is not UTF-8 is still refused, as proto.Unmarshal refuses it.
func TestStringAttr(t *testing.T) {
	field := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	kv := func(key, value []byte) []byte { return append(field(1, key), field(2, field(1, value))...) }
	for _, tt := range []struct {
		name      string
		attr      []byte
		wantShape bool // stringAttr takes it
		wantOK    bool // the request decodes
	}{
		{"key and string value", kv([]byte("http.method"), []byte("GET")), true, true},
		{"empty key and value", kv(nil, nil), true, true},
		{"key not UTF-8", kv([]byte{0xff}, []byte("v")), false, false},
		{"string value not UTF-8", kv([]byte("k"), []byte{0xc3}), false, false},
		{"value before key", append(field(2, field(1, []byte("v"))), field(1, []byte("k"))...), false, true},
		{"int value", append(field(1, []byte("k")), field(2, []byte{3 << 3, 7})...), false, true},
		{"key twice", append(field(1, []byte("x")), kv([]byte("k"), []byte("v"))...), false, true},
		{"value with a bad field after the string", append(field(1, []byte("k")), field(2, append(field(1, []byte("v")), 0x0c))...), false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := stringAttr(tt.attr); got != tt.wantShape {
				t.Errorf("stringAttr = %v, want %v", got, tt.wantShape)
			}
			req := field(1, field(2, field(2, field(9, tt.attr))))
			perr := proto.Unmarshal(req, &coltracepb.ExportTraceServiceRequest{})
			_, err := ScanTraces(req)
			if (perr == nil) != tt.wantOK || (err == nil) != tt.wantOK {
				t.Fatalf("ScanTraces error %v, proto.Unmarshal error %v; want ok=%v", err, perr, tt.wantOK)
			}
		})
	}
}

// TestScanTracesInPlace: the request's resource spans are re-tagged where
// they are, one under a tag longer than a byte is copied, and the result
// is what ScanTraces gives.
func TestScanTracesInPlace(t *testing.T) {
	data, err := proto.Marshal(sampleRequest())
	if err != nil {
		t.Fatal(err)
	}
	// The same resource spans once more, under a two-byte tag.
	first, n := protowire.ConsumeBytes(data[1:])
	if n < 0 {
		t.Fatal("sample request does not start with resource spans")
	}
	data = append(data, 0x8a, 0x00)
	data = protowire.AppendBytes(data, first)
	want := bytes.Clone(data)
	copied, err := ScanTraces(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ScanTracesInPlace(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ResourceSpans) != 4 {
		t.Fatalf("%d resource spans, want 4", len(got.ResourceSpans))
	}
	for i, rs := range got.ResourceSpans {
		if !bytes.Equal(rs.Field, copied.ResourceSpans[i].Field) || rs.Spans != copied.ResourceSpans[i].Spans {
			t.Errorf("resource spans %d differ from ScanTraces'", i)
		}
		inData := false
		for k := range data {
			if &data[k] == &rs.Field[0] {
				inData = true
			}
		}
		if wantInData := i < 3; inData != wantInData {
			t.Errorf("resource spans %d in the request: %v, want %v", i, inData, wantInData)
		}
	}
	if !equalInvocations(got.Invocations, copied.Invocations) {
		t.Errorf("invocations %+v, want %+v", got.Invocations, copied.Invocations)
	}
	checkSpliced(t, want, got)
}
