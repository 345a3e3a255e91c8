package collector_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestEveryFieldIsBounded sends a span whose name, status message, event
// name, trace state, attribute and resource values are megabytes long, and
// a log record with a large body, all of multi-byte characters; what
// ClickHouse stores is cut to the caps on a character boundary, marked, and
// the cuts are counted by field.
func TestEveryFieldIsBounded(t *testing.T) {
	h := start(t, func(c *collector.Config) {
		c.Fields = collector.FieldLimits{NameBytes: 256, StatusMessageBytes: 512, LogBodyBytes: 4096, OtherBytes: 128}
		c.MaxAttributeValueBytes = 1024
		// The fields below come to 13 MiB, beyond the 4 MiB default.
		c.MaxMessageBytes = 16 << 20
	})
	huge := func(n int) string { return "x" + strings.Repeat("é", n/2) } // odd: cut points fall inside characters
	trace := [16]byte{0xf1, 0xe1}
	req := batch(t, trace, 1)
	req.Invocations = nil
	rs := req.ResourceSpans[0]
	rs.Resource = nil
	sp := rs.ScopeSpans[0].Spans[0]
	sp.Name = huge(2 << 20)
	sp.TraceState = huge(10 << 10)
	sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: huge(1 << 20)}
	sp.Events = []*tracepb.Span_Event{{Name: huge(100 << 10), TimeUnixNano: sp.StartTimeUnixNano}}
	sp.Attributes = []*commonpb.KeyValue{{Key: "big", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: huge(1 << 20)}}}}
	rs.Resource = nil
	req.ResourceLogs = []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{
		TimeUnixNano: sp.StartTimeUnixNano, TraceId: trace[:], SeverityText: huge(4 << 10),
		Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: huge(4 << 20)}},
	}}}}}}
	if _, err := h.client.Export(withKey(t.Context(), apiKey), req); err != nil {
		t.Fatalf("export: %v", err)
	}

	db := h.store.Database()
	var name, status, traceState, eventName, attr string
	q := fmt.Sprintf("SELECT name, status_message, trace_state, events.name[1], attributes.value[indexOf(attributes.key, 'big')] FROM %s.spans WHERE trace_id = ?", db)
	if err := chtest.ConnTo(t, h.store.Config().DSN).QueryRow(t.Context(), q, string(trace[:])).Scan(&name, &status, &traceState, &eventName, &attr); err != nil {
		t.Fatalf("read span: %v", err)
	}
	var body, severity string
	q = fmt.Sprintf("SELECT body, severity_text FROM %s.logs WHERE trace_id = ?", db)
	if err := chtest.ConnTo(t, h.store.Config().DSN).QueryRow(t.Context(), q, string(trace[:])).Scan(&body, &severity); err != nil {
		t.Fatalf("read log: %v", err)
	}
	for _, f := range []struct {
		field, got string
		max        int
	}{
		{"span name", name, 256}, {"status message", status, 512}, {"trace state", traceState, 128},
		{"event name", eventName, 256}, {"attribute value", attr, 1024}, {"log body", body, 4096}, {"severity text", severity, 128},
	} {
		if len(f.got) > f.max || len(f.got) < f.max-8 || !utf8.ValidString(f.got) || !strings.Contains(f.got, "…[truncated ") {
			t.Errorf("%s stored as %d bytes (cap %d), valid UTF-8 %v, ending %q", f.field, len(f.got), f.max, utf8.ValidString(f.got), f.got[max(0, len(f.got)-30):])
		}
	}
	_, metrics := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	for _, want := range []string{
		`lambdascope_collector_truncated_fields_total{field="name"} 2`,
		`lambdascope_collector_truncated_fields_total{field="status_message"} 1`,
		`lambdascope_collector_truncated_fields_total{field="log_body"} 1`,
		`lambdascope_collector_truncated_fields_total{field="other"} 2`,
		`lambdascope_collector_truncated_attributes_total 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, grep(metrics, "truncated"))
		}
	}
}
