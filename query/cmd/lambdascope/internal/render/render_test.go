package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var (
	zone = time.FixedZone("CET", 3600)
	t0   = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update and review the diff)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func id(b byte) query.SpanID { return query.SpanID{0: 0xa0, 7: b} }

var traceID = query.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}

func twoFunctionTrace() *query.Trace {
	spans := []query.Span{
		{SpanID: id(1), Start: at(0), Duration: ms(212), Name: "POST /orders", StatusCode: query.StatusOK, FunctionName: "orders", ServiceName: "orders-api", RequestID: "req-orders"},
		{SpanID: id(2), ParentSpanID: id(1), Start: at(5), Duration: 1500 * time.Microsecond, Name: "SELECT orders", FunctionName: "orders", ServiceName: "orders-api"},
		{SpanID: id(3), ParentSpanID: id(1), Start: at(50), Duration: ms(100), Name: "invoke billing", Kind: query.SpanKindClient, FunctionName: "orders", ServiceName: "orders-api"},
		{SpanID: id(4), ParentSpanID: id(3), Start: at(30), Duration: ms(80), Name: "charge", Kind: query.SpanKindServer, StatusCode: query.StatusError, StatusMessage: "card declined", FunctionName: "billing", ServiceName: "billing", RequestID: "req-billing"},
		{SpanID: id(5), ParentSpanID: id(4), Start: at(40), Duration: ms(20), Name: "UPDATE accounts", FunctionName: "billing", ServiceName: "billing"},
	}
	invs := []query.Invocation{
		{RequestID: "req-orders", FunctionName: "orders", ColdStart: true, InitDurationMs: 301.24, Status: "success"},
		{RequestID: "req-billing", FunctionName: "billing", Status: "error", ErrorType: "Runtime.ExitError"},
	}
	return query.BuildTrace(traceID, spans, invs)
}

func brokenTrace() *query.Trace {
	spans := []query.Span{
		{SpanID: id(1), Start: at(0), Duration: ms(1000), Name: "GET /", FunctionName: "web", StatusCode: query.StatusOK},
		{SpanID: id(2), ParentSpanID: id(1), Start: at(10), Duration: ms(20), Name: "cache get", FunctionName: "web"},
		{SpanID: id(2), ParentSpanID: id(1), Start: at(10), Duration: ms(20), Name: "cache get", FunctionName: "web"},
		{SpanID: id(3), ParentSpanID: id(1), Start: at(40), Duration: ms(5), Name: "first", FunctionName: "web"},
		{SpanID: id(3), ParentSpanID: id(1), Start: at(60), Duration: ms(5), Name: "second", FunctionName: "web"},
		{SpanID: id(4), ParentSpanID: id(0x99), Start: at(300), Duration: 2500 * time.Millisecond, Name: "consume", ServiceName: "worker"},
		{SpanID: id(5), ParentSpanID: id(6), Start: at(500), Duration: ms(10), Name: "loop a", ServiceName: "worker"},
		{SpanID: id(6), ParentSpanID: id(5), Start: at(501), Duration: ms(5), Name: "loop b", ServiceName: "worker"},
	}
	return query.BuildTrace(traceID, spans, nil)
}

var workerTraceID = query.TraceID{0x5b, 0xef, 0x4d, 0xe7, 0xad, 0x49, 0xb0, 0xe8, 0x7f, 0x6e, 0xf6, 0xc8, 0x7f, 0xc2, 0xe7, 0x01}

// producerTrace is an API Gateway request to orders, inferred from its
// event and answered 201, that sends a message the worker consumed.
func producerTrace() *query.Trace {
	spans := []query.Span{
		{SpanID: id(1), Start: at(0), Duration: ms(48), Name: "POST /orders", Kind: query.SpanKindServer, FunctionName: "orders",
			RequestID: "req-orders", Attributes: map[string]string{"lambdascope.trigger": "apigateway-rest", "http.response.status_code": "201"}},
		{SpanID: id(2), ParentSpanID: id(1), Start: at(3), Duration: ms(40), Name: "handler", FunctionName: "orders", RequestID: "req-orders"},
		{SpanID: id(3), ParentSpanID: id(2), Start: at(10), Duration: ms(12), Name: "orders-queue send", Kind: query.SpanKindProducer, FunctionName: "orders"},
	}
	invs := []query.Invocation{{RequestID: "req-orders", FunctionName: "orders", Status: "success", Trigger: "apigateway-rest", HTTPStatusCode: 201}}
	tr := query.BuildTrace(traceID, spans, invs)
	tr.LinksIn = []query.TraceLink{{SpanID: id(3), MessageID: "059f36b4-87a3-44ab-83d2-661975830a7d",
		Other: query.LinkedSpan{TraceID: workerTraceID, SpanID: id(9), Stored: true, Start: at(900), Name: "orders-queue process",
			Kind: query.SpanKindConsumer, FunctionName: "worker", RequestID: "req-worker"}}}
	return tr
}

// batchTrace is the worker consuming an SQS batch of two messages, one
// sent by orders, one by a sender whose spans are not stored, and
// answering an API Gateway request with a 502 afterwards.
func batchTrace() *query.Trace {
	spans := []query.Span{
		{SpanID: id(9), Start: at(900), Duration: ms(2), Name: "orders-queue process", Kind: query.SpanKindConsumer, FunctionName: "worker",
			RequestID: "req-worker", Attributes: map[string]string{"lambdascope.trigger": "sqs", "messaging.batch.message_count": "2"},
			Links: []query.SpanLink{{TraceID: traceID, SpanID: id(3)}, {TraceID: query.TraceID{0x77, 15: 1}, SpanID: id(7)}}},
		{SpanID: id(10), Start: at(1000), Duration: ms(30), Name: "GET /report", Kind: query.SpanKindServer, FunctionName: "worker",
			RequestID: "req-report", Attributes: map[string]string{"lambdascope.trigger": "apigateway-http", "http.response.status_code": "502"}},
	}
	invs := []query.Invocation{
		{RequestID: "req-worker", FunctionName: "worker", Status: "success", Trigger: "sqs"},
		{RequestID: "req-report", FunctionName: "worker", Status: "success", Trigger: "apigateway-http", HTTPStatusCode: 502},
	}
	tr := query.BuildTrace(workerTraceID, spans, invs)
	tr.LinksOut = []query.TraceLink{
		{SpanID: id(9), MessageID: "059f36b4-87a3-44ab-83d2-661975830a7d",
			Other: query.LinkedSpan{TraceID: traceID, SpanID: id(3), Stored: true, Start: at(10), Name: "orders-queue send",
				Kind: query.SpanKindProducer, FunctionName: "orders"}},
		{SpanID: id(9), MessageID: "2e1424d4-f796-459a-8184-9c92662be6da", Other: query.LinkedSpan{TraceID: query.TraceID{0x77, 15: 1}, SpanID: id(7)}},
	}
	return tr
}

// linkLines counts the lines of the link sections.
func linkLines(t *query.Trace) int {
	n := 0
	if len(t.LinksOut) > 0 {
		n += 2 + len(t.LinksOut)
	}
	if len(t.LinksIn) > 0 {
		n += 2 + len(t.LinksIn)
	}
	return n
}

func TestTraceGolden(t *testing.T) {
	tests := []struct {
		name  string
		trace *query.Trace
		opts  Options
	}{
		{name: "trace_two_functions", trace: twoFunctionTrace(), opts: Options{Location: zone}},
		{name: "trace_two_functions_color", trace: twoFunctionTrace(), opts: Options{Location: zone, Color: true}},
		{name: "trace_broken_links", trace: brokenTrace(), opts: Options{Location: time.UTC}},
		{name: "trace_producer_links", trace: producerTrace(), opts: Options{Location: time.UTC}},
		{name: "trace_batch_links", trace: batchTrace(), opts: Options{Location: time.UTC}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Trace(&buf, tt.trace, tt.opts); err != nil {
				t.Fatalf("render: %v", err)
			}
			out := buf.String()
			if lines := strings.Count(out, "\n") - linkLines(tt.trace); lines != tt.trace.SpanCount+3 && lines != tt.trace.SpanCount+4 {
				t.Errorf("%d lines for %d spans", lines, tt.trace.SpanCount)
			}
			if hasEsc := strings.Contains(out, "\x1b["); hasEsc != tt.opts.Color {
				t.Errorf("escape codes present = %v, want %v", hasEsc, tt.opts.Color)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}

func TestTraceJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := TraceJSON(&buf, twoFunctionTrace()); err != nil {
		t.Fatalf("render: %v", err)
	}
	var decoded struct {
		TraceID   string `json:"traceId"`
		SpanCount int    `json:"spanCount"`
		Roots     []struct {
			Span struct {
				SpanID string `json:"spanId"`
			} `json:"span"`
			Invocation struct {
				RequestID string `json:"requestId"`
			} `json:"invocation"`
		} `json:"roots"`
	}
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if decoded.TraceID != traceID.String() || decoded.SpanCount != 5 || len(decoded.Roots) != 1 ||
		decoded.Roots[0].Span.SpanID != id(1).String() || decoded.Roots[0].Invocation.RequestID != "req-orders" {
		t.Errorf("decoded trace = %+v", decoded)
	}
	golden(t, "trace_two_functions_json", buf.Bytes())
}

// The links to and from other traces are in the JSON too, IDs in hex.
func TestTraceLinksJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := TraceJSON(&buf, batchTrace()); err != nil {
		t.Fatalf("render: %v", err)
	}
	var decoded struct {
		LinksOut []struct {
			SpanID    string `json:"spanId"`
			MessageID string `json:"messageId"`
			Other     struct {
				TraceID string `json:"traceId"`
				Stored  bool   `json:"stored"`
			} `json:"other"`
		} `json:"linksOut"`
	}
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if len(decoded.LinksOut) != 2 || decoded.LinksOut[0].SpanID != id(9).String() || decoded.LinksOut[0].Other.TraceID != traceID.String() ||
		!decoded.LinksOut[0].Other.Stored || decoded.LinksOut[1].Other.Stored || decoded.LinksOut[1].MessageID == "" {
		t.Errorf("decoded links = %+v", decoded.LinksOut)
	}
	golden(t, "trace_batch_links_json", buf.Bytes())
}

func TestTraceDeepChainStaysNarrow(t *testing.T) {
	spans := make([]query.Span, 200)
	for i := range spans {
		spans[i] = query.Span{SpanID: query.SpanID{0: 1, 7: byte(i)}, Start: at(i), Duration: ms(1000), Name: "op", FunctionName: "f"}
		if i > 0 {
			spans[i].ParentSpanID = spans[i-1].SpanID
		}
	}
	var buf bytes.Buffer
	if err := Trace(&buf, query.BuildTrace(traceID, spans, nil), Options{Location: time.UTC}); err != nil {
		t.Fatalf("render: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "[depth 199]") {
		t.Errorf("deepest line does not name its depth: %q", last)
	}
	if n := len([]rune(last)); n > 3*maxIndentDepth+200 {
		t.Errorf("deepest line is %d characters wide", n)
	}
}

func invocations() []query.Invocation {
	return []query.Invocation{
		{Start: at(25), FunctionName: "billing", FunctionVersion: "7", RequestID: "3f1c9a2e-0b1d-4e8a-9d7c-5a6b7c8d9e0f", DurationMs: 80.04, BilledDurationMs: 81, MemorySizeMB: 256, MaxMemoryUsedMB: 70, Status: "error", ErrorType: "Runtime.ExitError",
			Trigger: "sqs", TriggerSource: "billing-queue", TraceContextSource: "w3c",
			FunctionErrorType: "CardError\u202e\x1b[31m", ErrorMessage: "charge of order 42 refused by the card issuer [REDACTED]\x1b[2J\n    at charge (/var/task/index.js:12:9), then retried three times without success"},
		{Start: at(-5), FunctionName: "orders", FunctionVersion: "$LATEST", RequestID: "8e2d1c0b-7a6f-4e5d-8c3b-2a1f0e9d8c7b", DurationMs: 212.5, BilledDurationMs: 213, MemorySizeMB: 512, MaxMemoryUsedMB: 88, ColdStart: true, InitDurationMs: 301.24, Status: "success", TraceID: traceID, SpanID: id(1),
			Trigger: "apigateway-http", TriggerSource: "POST /orders/{id}", TraceContextSource: "xray", HTTPStatusCode: 201},
		{Start: at(-65_000), FunctionName: "orders", RequestID: "c4b3a291-8f7e-4d6c-9b5a-4f3e2d1c0b9a", DurationMs: 1834.1, BilledDurationMs: 1835, MemorySizeMB: 512, MaxMemoryUsedMB: 91, Status: "timeout"},
		// What AWS's emulator in Managed Instances mode reports: the duration only.
		{Start: at(-70_000), FunctionName: "mi", RequestID: "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a", DurationMs: 12.3, BilledDurationMs: 13, BilledEstimated: true,
			MemorySizeMB: 256, MaxMemoryUsedUnknown: true, Status: "success"},
		// Ran, but no report came before the environment shut down.
		{Start: at(-80_000), FunctionName: "mi", RequestID: "1e0d9c8b-7a6f-4e5d-3c2b-1a0f9e8d7c6b", DurationMs: 40, BilledDurationMs: 40, BilledEstimated: true,
			MemorySizeMB: 256, MaxMemoryUsedUnknown: true, Status: "error", Incomplete: true},
		// Returned, but its API Gateway answer was a server error.
		{Start: at(-90_000), FunctionName: "orders", RequestID: "2f1e0d9c-8b7a-4f6e-5d4c-3b2a1f0e9d8c", DurationMs: 9.5, BilledDurationMs: 10,
			MemorySizeMB: 512, MaxMemoryUsedMB: 80, Status: "success", Trigger: "apigateway-rest", HTTPStatusCode: 503, ResponseSize: 64,
			TriggerSource: "GET /orders", TraceContextSource: "none"},
	}
}

func TestInvocationsGolden(t *testing.T) {
	tests := []struct {
		name   string
		invs   []query.Invocation
		render func(*bytes.Buffer, []query.Invocation) error
	}{
		{name: "invocations_table", invs: invocations(), render: func(b *bytes.Buffer, v []query.Invocation) error {
			return Invocations(b, v, Options{Location: zone})
		}},
		{name: "invocations_empty", invs: nil, render: func(b *bytes.Buffer, v []query.Invocation) error {
			return Invocations(b, v, Options{Location: zone})
		}},
		{name: "invocations_json", invs: invocations(), render: func(b *bytes.Buffer, v []query.Invocation) error {
			return InvocationsJSON(b, v, Options{Location: zone})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.render(&buf, tt.invs); err != nil {
				t.Fatalf("render: %v", err)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}

func TestInvocationsJSONRoundTrip(t *testing.T) {
	want := invocations()
	var buf bytes.Buffer
	if err := InvocationsJSON(&buf, want, Options{Location: zone}); err != nil {
		t.Fatalf("render: %v", err)
	}
	var got []struct {
		Start     time.Time `json:"start"`
		RequestID string    `json:"requestId"`
		TraceID   string    `json:"traceId"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		wantTrace := want[i].TraceID.String()
		if want[i].TraceID.IsZero() {
			wantTrace = "" // omitted
		}
		if !got[i].Start.Equal(want[i].Start) || got[i].RequestID != want[i].RequestID || got[i].TraceID != wantTrace {
			t.Errorf("record %d = %+v, want start %s, request %s, trace %q", i, got[i], want[i].Start, want[i].RequestID, wantTrace)
		}
		if _, off := got[i].Start.Zone(); off != 3600 {
			t.Errorf("record %d time %s not in the requested zone", i, got[i].Start)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0ms"},
		{850, "850ns"},
		{1500 * time.Nanosecond, "1.5µs"},
		{999 * time.Microsecond, "999µs"},
		{time.Millisecond, "1ms"},
		{12345 * time.Microsecond, "12.3ms"},
		{212 * time.Millisecond, "212ms"},
		{1250 * time.Millisecond, "1.25s"},
		{59 * time.Second, "59s"},
		{184 * time.Second, "3m4s"},
		{-30 * time.Millisecond, "-30ms"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Duration(tt.in); got != tt.want {
				t.Errorf("Duration(%d) = %q, want %q", int64(tt.in), got, tt.want)
			}
		})
	}
}
