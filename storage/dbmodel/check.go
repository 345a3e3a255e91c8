package dbmodel

import (
	"fmt"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// SpanProblem says why the writer refuses a span (counting it in
// Rejected), or nil when it stores it: receivers that acknowledge a batch
// before it is written use it to report those spans to the sender.
func SpanProblem(sp *tracepb.Span) error {
	if err := checkID(sp.GetTraceId(), 16, "trace_id"); err != nil {
		return err
	}
	if err := checkID(sp.GetSpanId(), 8, "span_id"); err != nil {
		return err
	}
	if pid := sp.GetParentSpanId(); len(pid) != 0 && len(pid) != 8 {
		return fmt.Errorf("parent_span_id has %d bytes, want 8 or none", len(pid))
	}
	return nil
}
