package frames

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
)

// TestTraceTagsAsEncodingJSON holds the trace frame's tags, written
// without reflection, and its IDs, cut from one string, to encoding/json
// and the IDs' own String: every span of a trace with strings JSON
// escapes, a request ID with and without faas.invocation_id, spans without
// attributes, and invocation entries with every optional figure on and
// off.
func TestTraceTagsAsEncodingJSON(t *testing.T) {
	start := time.Unix(1_700_000_000, 0).UTC()
	id := query.TraceID{1, 2, 3}
	inv := func(req string, mod func(*query.Invocation)) query.Invocation {
		i := query.Invocation{RequestID: req, FunctionName: "orders", Status: "success", DurationMs: 12.5, BilledDurationMs: 13,
			MemorySizeMB: 512, MaxMemoryUsedMB: 90, ColdStart: true}
		mod(&i)
		return i
	}
	invocations := []query.Invocation{
		inv("r1", func(*query.Invocation) {}),
		inv("r2", func(i *query.Invocation) {
			i.DurationUnknown, i.BilledEstimated, i.MemorySizeUnknown, i.MaxMemoryUsedUnknown = true, true, true, true
			i.Incomplete, i.InitDurationMs, i.ErrorType, i.Status, i.ColdStart = true, 201.25, "Runtime.Exit", "error", false
		}),
	}
	span := func(n byte, parent byte, req string, attrs map[string]string) query.Span {
		return query.Span{TraceID: id, SpanID: query.SpanID{7: n}, ParentSpanID: query.SpanID{7: parent}, Name: "op",
			Start: start.Add(time.Duration(n) * time.Millisecond), Duration: time.Second, FunctionName: "orders", RequestID: req,
			Attributes: attrs}
	}
	spans := []query.Span{
		span(1, 0, "r1", map[string]string{"http.method": "POST", "quote\"d": `back\slash <&> é` + "\x01", "": "empty key"}),
		span(2, 1, "r1", map[string]string{"faas.invocation_id": "given", "b": "2", "a": "1"}),
		span(3, 1, "", nil),
		span(4, 9, "r2", nil), // an orphan, its invocation's entry
		span(5, 4, "r2", map[string]string{"faas.invocation_id": ""}),
		span(6, 4, "r3", map[string]string{"z": strings.Repeat("long ", 50)}),
		span(0, 0, "", map[string]string{"invalid utf-8": "\xff\xfe"}),
	}
	tr := query.BuildTrace(id, spans, invocations)
	f := Trace(tr, TraceLink{})
	tagsField, _ := f.FieldByName("tags")
	spanIDs, _ := f.FieldByName("spanID")
	parentIDs, _ := f.FieldByName("parentSpanID")
	entries := 0
	row := 0
	tr.Walk(func(node *query.Node) bool {
		if node.InvocationEntry {
			entries++
		}
		want := string(mustJSON(referenceSpanTags(node)))
		if got := string(tagsField.At(row).(json.RawMessage)); got != want {
			t.Errorf("span %s tags:\n%s\nwant\n%s", node.Span.SpanID, got, want)
		}
		if got := spanIDs.At(row); got != node.Span.SpanID.String() {
			t.Errorf("row %d spanID %q, want %q", row, got, node.Span.SpanID)
		}
		wantParent := ""
		if node.Parent != nil {
			wantParent = node.Parent.Span.SpanID.String()
		}
		if got := parentIDs.At(row); got != wantParent {
			t.Errorf("row %d parentSpanID %q, want %q", row, got, wantParent)
		}
		row++
		return true
	})
	if row != len(spans) || entries < 2 {
		t.Fatalf("walked %d spans with %d invocation entries, want %d and at least 2", row, entries, len(spans))
	}
}

// referenceSpanTags is the span's tags as a list, encoded with
// encoding/json by the test.
func referenceSpanTags(node *query.Node) []keyValue {
	sp := &node.Span
	tags := make([]keyValue, 0, len(sp.Attributes))
	for _, k := range slices.Sorted(maps.Keys(sp.Attributes)) {
		tags = append(tags, keyValue{Key: k, Value: sp.Attributes[k]})
	}
	if sp.RequestID != "" && sp.Attributes["faas.invocation_id"] == "" {
		tags = append(tags, keyValue{Key: "faas.invocation_id", Value: sp.RequestID})
	}
	return append(tags, invocationTags(node)...)
}
