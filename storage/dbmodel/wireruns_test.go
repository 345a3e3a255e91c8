package dbmodel_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// TestAppendWireResourceRuns: the spans of a resource sent again, the same
// byte for byte, lengthen the run of the resource's row the columns
// already hold (one run, not one a request), and a message refused after
// one of its scopes' spans was read leaves that run as it was (checkWire:
// the resource columns encode the message path's rows).
func TestAppendWireResourceRuns(t *testing.T) {
	// checkWire's columns hold this request before the message.
	prefill := storagetest.DemoSpanRequest(rand.New(rand.NewPCG(5, 6)), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 3, true)
	same := proto.Clone(prefill.ResourceSpans[len(prefill.ResourceSpans)-1]).(*tracepb.ResourceSpans)
	b, err := proto.Marshal(same)
	if err != nil {
		t.Fatal(err)
	}
	if !checkWire(t, b, capLimits) {
		t.Fatal("AppendWire left the demo's resource spans")
	}
	var c dbmodel.SpanColumns
	c.AppendExport(prefill)
	runs := len(c.ResourceAttrKeys.Ends)
	for range 3 {
		if !c.AppendWire(wireFn, b, capLimits) {
			t.Fatal("AppendWire left the demo's resource spans")
		}
	}
	if got := len(c.ResourceAttrKeys.Ends); got != runs || c.ResourceAttrKeys.Len() != c.Len() || c.ResourceAttrValues.Len() != c.Len() {
		t.Errorf("the same resource three times more: %d runs of %d rows (was %d runs), want as many runs, %d rows",
			got, c.ResourceAttrKeys.Len(), runs, c.Len())
	}

	// The same resource, a second scope whose span the writer refuses:
	// the first scope's spans are read (their resource rows lengthen the
	// run) before the message is left to the message path.
	refused := proto.Clone(same).(*tracepb.ResourceSpans)
	bad := proto.Clone(same.ScopeSpans[0]).(*tracepb.ScopeSpans)
	bad.Spans = bad.Spans[:1]
	bad.Spans[0].TraceId = []byte{1, 2, 3}
	refused.ScopeSpans = append(refused.ScopeSpans, bad)
	b, err = proto.Marshal(refused)
	if err != nil {
		t.Fatal(err)
	}
	if checkWire(t, b, capLimits) {
		t.Fatal("AppendWire took a span with a trace ID of 3 bytes")
	}
	n, ends := c.Len(), append([]int(nil), c.ResourceAttrValues.Ends...)
	if c.AppendWire(wireFn, b, capLimits) {
		t.Fatal("AppendWire took a span with a trace ID of 3 bytes")
	}
	if c.Len() != n || c.ResourceAttrKeys.Len() != n || c.ResourceAttrValues.Len() != n || !slices.Equal(c.ResourceAttrValues.Ends, ends) {
		t.Errorf("refused: %d spans, resource rows %d and %d, runs %v; want %d, runs %v",
			c.Len(), c.ResourceAttrKeys.Len(), c.ResourceAttrValues.Len(), c.ResourceAttrValues.Ends, n, ends)
	}
	c.AppendExport(&ingestv1.ExportRequest{Function: wireFn, ResourceSpans: []*tracepb.ResourceSpans{refused}})
	if c.Rejected != 1 || c.ResourceAttrKeys.Len() != c.Len() {
		t.Errorf("message path: %d rejected, %d resource rows for %d spans; want 1 rejected, a row a span", c.Rejected, c.ResourceAttrKeys.Len(), c.Len())
	}
}

// TestLogAppendWireResourceRuns is TestAppendWireResourceRuns for log
// records: the records of a resource sent again lengthen the run of its
// row, two resources alternating make a run each time, and a message
// refused after one of its scopes' records was read leaves the runs as
// they were (checkLogWire: the resource columns encode the message
// path's rows).
func TestLogAppendWireResourceRuns(t *testing.T) {
	// checkLogWire's columns hold this request before the message.
	prefill := storagetest.DemoLogRequest(rand.New(rand.NewPCG(5, 6)), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 3, true)
	same := proto.Clone(prefill.ResourceLogs[len(prefill.ResourceLogs)-1]).(*logspb.ResourceLogs)
	b, err := proto.Marshal(same)
	if err != nil {
		t.Fatal(err)
	}
	if !checkLogWire(t, b, logCapLimits) {
		t.Fatal("AppendWire left the demo's resource logs")
	}
	var c dbmodel.LogColumns
	c.AppendExport(prefill)
	runs := len(c.ResourceAttrKeys.Ends)
	for range 3 {
		if !c.AppendWire(wireFn, logSent, b, logCapLimits) {
			t.Fatal("AppendWire left the demo's resource logs")
		}
	}
	if got := len(c.ResourceAttrKeys.Ends); got != runs || c.ResourceAttrKeys.Len() != c.Len() || c.ResourceAttrValues.Len() != c.Len() {
		t.Errorf("the same resource three times more: %d runs of %d rows (was %d runs), want as many runs, %d rows",
			got, c.ResourceAttrKeys.Len(), runs, c.Len())
	}

	// Another resource, then the first again: a run of values each, the
	// rows read back those of their own resource; the keys, the same for
	// both, stay one run.
	other := storagetest.DemoLogRequest(rand.New(rand.NewPCG(7, 8)), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 2, false).ResourceLogs[0]
	ob, err := proto.Marshal(other)
	if err != nil {
		t.Fatal(err)
	}
	from := c.Len()
	for _, m := range [][]byte{ob, b, ob} {
		if !checkLogWire(t, m, logCapLimits) || !c.AppendWire(wireFn, logSent, m, logCapLimits) {
			t.Fatal("AppendWire left the demo's resource logs")
		}
	}
	if got, keys := len(c.ResourceAttrValues.Ends), len(c.ResourceAttrKeys.Ends); got != runs+3 || keys != runs {
		t.Errorf("two resources alternating, three messages: %d runs of values, %d of keys; want %d, %d", got, keys, runs+3, runs)
	}
	for i, res := range []*logspb.ResourceLogs{other, other, same, same, same, other, other} {
		want := dbmodel.FromExport(&ingestv1.ExportRequest{Function: wireFn, ResourceLogs: []*logspb.ResourceLogs{res}}).Logs[0].ResourceAttributes
		if got := c.Row(from + i).ResourceAttributes; !reflect.DeepEqual(got, want) {
			t.Errorf("record %d: resource attributes %v, want %v", from+i, got, want)
		}
	}

	// The same resource, a second scope whose record the writer refuses:
	// the first scope's records are read (their resource rows lengthen the
	// run) before the message is left to the message path.
	refused := proto.Clone(same).(*logspb.ResourceLogs)
	bad := proto.Clone(same.ScopeLogs[0]).(*logspb.ScopeLogs)
	bad.LogRecords = bad.LogRecords[:1]
	bad.LogRecords[0].TimeUnixNano = dbmodel.MaxDateTimeUnixNano + 1
	refused.ScopeLogs = append(refused.ScopeLogs, bad)
	b, err = proto.Marshal(refused)
	if err != nil {
		t.Fatal(err)
	}
	if checkLogWire(t, b, logCapLimits) {
		t.Fatal("AppendWire took a record after MaxDateTimeUnixNano")
	}
	n, ends := c.Len(), slices.Clone(c.ResourceAttrValues.Ends)
	if c.AppendWire(wireFn, logSent, b, logCapLimits) {
		t.Fatal("AppendWire took a record after MaxDateTimeUnixNano")
	}
	if c.Len() != n || c.ResourceAttrKeys.Len() != n || c.ResourceAttrValues.Len() != n || !slices.Equal(c.ResourceAttrValues.Ends, ends) {
		t.Errorf("refused: %d records, resource rows %d and %d, runs %v; want %d, runs %v",
			c.Len(), c.ResourceAttrKeys.Len(), c.ResourceAttrValues.Len(), c.ResourceAttrValues.Ends, n, ends)
	}
	c.AppendExport(&ingestv1.ExportRequest{Function: wireFn, SentTimeUnixNano: logSent, ResourceLogs: []*logspb.ResourceLogs{refused}})
	if c.Rejected != 1 || c.ResourceAttrKeys.Len() != c.Len() {
		t.Errorf("message path: %d rejected, %d resource rows for %d records; want 1 rejected, a row a record", c.Rejected, c.ResourceAttrKeys.Len(), c.Len())
	}
}
