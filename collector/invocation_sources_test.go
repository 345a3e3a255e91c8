package collector_test

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
)

// An invocation's trigger source, error message, trace context source and
// the function's error type go from the Ingest API to ClickHouse and back
// through the query service; a message or type over fields.other_bytes (an
// extension that does not bound them) is cut at a character boundary,
// marked, counted and logged.
func TestInvocationSourcesStored(t *testing.T) {
	h := start(t)
	now := time.Now().UTC().Truncate(time.Second)
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	long := "x" + strings.Repeat("é", 1500) // 3001 bytes, over the 1 KiB default
	req := &ingestv1.ExportRequest{
		BatchId:  id,
		Function: &ingestv1.FunctionIdentity{Name: "orders", Version: "$LATEST", Region: "us-east-1", AccountId: "123456789012", MemoryMb: 256},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "from-queue", StartTimeUnixNano: uint64(now.Add(-2 * time.Second).UnixNano()), DurationMs: 8, BilledDurationMs: 8,
				Status: "error", ErrorType: "CardError", Trigger: "sqs", TriggerSource: "orders-queue", TraceContextSource: "w3c",
				ErrorMessage: "card [REDACTED] declined", FunctionErrorType: "CardError"},
			{RequestId: "from-route", StartTimeUnixNano: uint64(now.Add(-time.Second).UnixNano()), DurationMs: 8, BilledDurationMs: 8,
				Status: "error", ErrorType: "Runtime.Boom", Trigger: "apigateway-http", TriggerSource: "POST /orders/{id}",
				TraceContextSource: "lambda", ErrorMessage: long, FunctionErrorType: long},
		},
	}
	resp, err := h.client.Export(withKey(t.Context(), apiKey), req)
	if err != nil || resp.GetAcceptedInvocations() != 2 {
		t.Fatalf("export: %+v, %v; want 2 invocations accepted", resp, err)
	}

	svc := query.NewService(h.store)
	invs, err := svc.Invocations(t.Context(), query.InvocationFilter{FunctionName: "orders", Since: now.Add(-time.Hour)})
	if err != nil {
		t.Fatalf("Invocations: %v", err)
	}
	got := map[string]query.Invocation{}
	for _, inv := range invs {
		got[inv.RequestID] = inv
	}
	if q := got["from-queue"]; q.TriggerSource != "orders-queue" || q.TraceContextSource != "w3c" || q.ErrorMessage != "card [REDACTED] declined" ||
		q.FunctionErrorType != "CardError" || q.ErrorType != "CardError" {
		t.Errorf("from-queue = source %q, context %q, message %q, types %q, %q", q.TriggerSource, q.TraceContextSource, q.ErrorMessage, q.ErrorType, q.FunctionErrorType)
	}
	r := got["from-route"]
	if r.TriggerSource != "POST /orders/{id}" || r.TraceContextSource != "lambda" {
		t.Errorf("from-route = source %q, context %q", r.TriggerSource, r.TraceContextSource)
	}
	if m := r.FunctionErrorType; len(m) > 1024 || len(m) < 1016 || !utf8.ValidString(m) || !strings.Contains(m, "…[truncated ") || !strings.HasPrefix(m, "xéé") {
		t.Errorf("the long function error type is stored as %d bytes (cap 1024), valid UTF-8 %v", len(m), utf8.ValidString(m))
	}
	if m := r.ErrorMessage; len(m) > 1024 || len(m) < 1016 || !utf8.ValidString(m) || !strings.Contains(m, "…[truncated ") || !strings.HasPrefix(m, "xéé") {
		t.Errorf("the long message is stored as %d bytes (cap 1024), valid UTF-8 %v, ending %q", len(m), utf8.ValidString(m), m[max(0, len(m)-30):])
	}
	bySource, err := svc.Invocations(t.Context(), query.InvocationFilter{TriggerSource: "orders-queue", Since: now.Add(-time.Hour)})
	if err != nil {
		t.Fatalf("Invocations by source: %v", err)
	}
	if len(bySource) != 1 || bySource[0].RequestID != "from-queue" {
		t.Errorf("invocations from orders-queue = %+v, want from-queue alone", bySource)
	}
	_, metrics := get(t, "http://"+h.srv.AdminAddr()+"/metrics")
	if want := `lambdascope_collector_truncated_fields_total{field="other"} 2`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %q:\n%s", want, grep(metrics, "truncated"))
	}
}
