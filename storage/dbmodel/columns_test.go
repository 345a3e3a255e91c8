package dbmodel

import (
	"reflect"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
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
		"DurationNs": len(reused.DurationNs), "Name": len(reused.Name), "Kind": len(reused.Kind),
		"StatusCode": len(reused.StatusCode), "RequestID": len(reused.RequestID), "ScopeVersion": len(reused.ScopeVersion),
		"AttributeKeys": len(reused.AttributeKeys), "ResourceAttrValues": len(reused.ResourceAttrValues),
		"EventTimes": len(reused.EventTimes), "LinkAttrs": len(reused.LinkAttrs),
	}
	for name, l := range lens {
		if l != n {
			t.Errorf("column %s has %d values for %d spans", name, l, n)
		}
	}
}
