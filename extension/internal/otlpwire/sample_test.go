package otlpwire

import (
	"bytes"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// filterDecoded is FilterSpans on decoded messages: the reference.
func filterDecoded(rs *tracepb.ResourceSpans, keep func([]byte) bool) (*tracepb.ResourceSpans, int) {
	dropped := 0
	out := proto.Clone(rs).(*tracepb.ResourceSpans)
	out.ScopeSpans = nil
	for _, ss := range rs.GetScopeSpans() {
		kept := proto.Clone(ss).(*tracepb.ScopeSpans)
		kept.Spans = nil
		for _, sp := range ss.GetSpans() {
			if keep(sp.GetTraceId()) {
				kept.Spans = append(kept.Spans, sp)
			} else {
				dropped++
			}
		}
		if len(kept.Spans) > 0 {
			out.ScopeSpans = append(out.ScopeSpans, kept)
		}
	}
	if dropped == 0 {
		return rs, 0
	}
	if len(out.ScopeSpans) == 0 {
		return nil, dropped
	}
	return out, dropped
}

// checkFilter filters every resource of an encoded export request both
// ways and compares.
func checkFilter(t *testing.T, data []byte, keep func([]byte) bool) (dropped int) {
	t.Helper()
	traces, err := ScanTraces(data)
	if err != nil {
		return 0
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		t.Fatalf("ScanTraces accepted what proto.Unmarshal refuses: %v", err)
	}
	if len(req.ResourceSpans) != len(traces.ResourceSpans) {
		t.Fatalf("%d resource spans decoded, %d scanned", len(req.ResourceSpans), len(traces.ResourceSpans))
	}
	for i, rs := range traces.ResourceSpans {
		got, n := FilterSpans(rs, keep)
		want, wantN := filterDecoded(req.ResourceSpans[i], keep)
		dropped += n
		if n != wantN || got.Spans != rs.Spans-n {
			t.Errorf("resource %d: dropped %d (spans %d of %d), want %d", i, n, got.Spans, rs.Spans, wantN)
		}
		if want == nil {
			if len(got.Field) != 0 || got.Spans != 0 {
				t.Errorf("resource %d: every span dropped, yet %d bytes and %d spans are left", i, len(got.Field), got.Spans)
			}
			continue
		}
		var ingest ingestv1.ExportRequest
		if err := proto.Unmarshal(got.Field, &ingest); err != nil || len(ingest.ResourceSpans) != 1 {
			t.Fatalf("resource %d: filtered field does not decode as one resource_spans: %v", i, err)
		}
		if !proto.Equal(ingest.ResourceSpans[0], want) {
			t.Errorf("resource %d: filtered\n%v\nwant\n%v", i, ingest.ResourceSpans[0], want)
		}
		if n := headerLen(got.Field); len(got.Field)-n != got.Size {
			t.Errorf("resource %d: Size %d, message is %d bytes", i, got.Size, len(got.Field)-n)
		}
	}
	return dropped
}

// headerLen is the size of a field's tag and length.
func headerLen(field []byte) int {
	_, _, n := consumeTag(field)
	_, m := consumeVarint(field[n:])
	return n + m
}

func TestFilterSpans(t *testing.T) {
	data, err := proto.Marshal(sampleRequest())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		keep    func([]byte) bool
		dropped int
	}{
		{"keep all", func([]byte) bool { return true }, 0},
		{"drop trace A", func(id []byte) bool { return !bytes.Equal(id, traceA) }, 2},
		{"drop trace B", func(id []byte) bool { return !bytes.Equal(id, traceB) }, 1},
		{"keep only trace A", func(id []byte) bool { return bytes.Equal(id, traceA) }, 3},
		{"drop all", func([]byte) bool { return false }, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkFilter(t, data, tt.keep); got != tt.dropped {
				t.Errorf("dropped %d spans, want %d", got, tt.dropped)
			}
		})
	}
	// Unknown fields and a repeated trace_id (the last one counts) pass
	// through as the decoder reads them.
	var span, scope, res []byte
	span = protowire.AppendTag(span, 1, protowire.BytesType)
	span = protowire.AppendBytes(span, []byte{0xaa})
	span = protowire.AppendTag(span, 1, protowire.BytesType)
	span = protowire.AppendBytes(span, []byte{0xbb})
	span = protowire.AppendTag(span, 99, protowire.VarintType)
	span = protowire.AppendVarint(span, 1)
	for _, last := range []byte{0xbb, 0xcc} {
		sp := span
		if last == 0xcc {
			sp = append(protowire.AppendTag(nil, 1, protowire.BytesType), protowire.AppendBytes(nil, []byte{0xcc})...)
		}
		scope = protowire.AppendTag(scope, 2, protowire.BytesType)
		scope = protowire.AppendBytes(scope, sp)
	}
	scope = protowire.AppendTag(scope, 50, protowire.BytesType)
	scope = protowire.AppendString(scope, "unknown")
	res = protowire.AppendTag(res, 2, protowire.BytesType)
	res = protowire.AppendBytes(res, scope)
	res = protowire.AppendTag(res, 77, protowire.BytesType)
	res = protowire.AppendString(res, "x")
	odd := protowire.AppendTag(nil, 1, protowire.BytesType)
	odd = protowire.AppendBytes(odd, res)
	if _, err := ScanTraces(odd); err != nil {
		t.Fatalf("hand-made request: %v", err)
	}
	if got := checkFilter(t, odd, func(id []byte) bool { return !bytes.Equal(id, []byte{0xbb}) }); got != 1 {
		t.Errorf("dropped %d spans of the hand-made request, want the one whose last trace_id is bb", got)
	}
}

// FuzzFilterSpans checks the wire filter against the decoded reference on
// every request ScanTraces accepts.
func FuzzFilterSpans(f *testing.F) {
	data, err := proto.Marshal(sampleRequest())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFilter(t, data, func(id []byte) bool { return len(id) == 0 || id[len(id)-1]&1 == 0 })
	})
}
