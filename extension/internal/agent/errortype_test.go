package agent

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/redact"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// TestFunctionErrorTypeOnTheRecord: the type of the error a function
// reported goes on its invocation's record beside the platform's, from the
// /error bodies the runtimes send (aws-lambda-go's, Node.js's and
// Python's published shapes), else from the
// Lambda-Runtime-Function-Error-Type header; redacted, bounded, a cut
// counted. A body that is not a JSON object gives no type (the header's,
// when sent); a member that is not a string is read as empty. A body too
// large to read (an /error body over 1 MiB, an error-body trailer whose
// beginning kept holds not both the type and the message) gives no
// message and the header's type when it had none, and is counted and
// logged; of a longer trailer, the beginning is read.
func TestFunctionErrorTypeOnTheRecord(t *testing.T) {
	longType := strings.Repeat("E", maxErrorType-3) + "rrör" // the bound falls inside the ö
	streamed := base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"stream broke","errorType":"StreamError"}`))
	// padded is an error body of n bytes, its stack trace filling it.
	padded := func(n int) string {
		const head, tail = `{"errorMessage":"boom","errorType":"Big","stackTrace":"`, `"}`
		return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
	}
	// trailer is an error-body trailer of n base64 bytes (a multiple of 4).
	trailer := func(n int) string {
		const head, tail = `{"errorMessage":"stream broke","errorType":"StreamError","stackTrace":"`, `"}`
		b := base64.StdEncoding.EncodeToString([]byte(head + strings.Repeat("x", n/4*3-len(head)-len(tail)) + tail))
		if len(b) != n {
			t.Fatalf("trailer of %d bytes, want %d", len(b), n)
		}
		return b
	}
	// node is the error-body trailer of Node.js's runtime interface client
	// for an error thrown 2,000 calls deep, with Error.stackTraceLimit =
	// Infinity: 86 KB of base64, as measured with Node.js 20.
	node := func(message string) string {
		frames := make([]string, 0, 2001)
		frames = append(frames, "TypeError: "+message)
		for i := range 2000 {
			frames = append(frames, fmt.Sprintf("    at f (/var/task/node_modules/@acme/orders/dist/handlers/process.js:%d:16)", i))
		}
		msg, err := json.Marshal(message)
		if err != nil {
			t.Fatal(err)
		}
		trace, err := json.Marshal(frames)
		if err != nil {
			t.Fatal(err)
		}
		// In Node's order: errorType, errorMessage, trace.
		b := []byte(`{"errorType":"TypeError","errorMessage":` + string(msg) + `,"trace":` + string(trace) + `}`)
		return base64.StdEncoding.EncodeToString(b)
	}
	kept := func(b string) string { return b[:min(len(b), rtproxy.MaxErrorBodyKept)] }
	notJSON := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("Traceback ", 10<<10)))
	deep := node("Cannot read properties of undefined (reading 'id')")
	longMessage := node(strings.Repeat("m", 60<<10))
	if len(deep) < 80<<10 || len(longMessage) < 160<<10 {
		t.Fatalf("node error bodies of %d and %d bytes, want over 80 and 160 KiB", len(deep), len(longMessage))
	}
	tests := []struct {
		name         string
		kind         rtproxy.Kind
		header       string // Lambda-Runtime-Function-Error-Type
		body         string
		truncated    bool   // the body is the capture's first bytes
		errorBody    string // Lambda-Runtime-Function-Error-Body trailer (what the proxy kept)
		errorBodyLen int    // the trailer's length, when longer than errorBody
		wantType     string
		wantMessage  string
		wantSpanType string
		wantCut      uint64
		wantTooLarge uint64
	}{
		// aws-lambda-go (lambda/messages.InvokeResponse_Error): an error
		// made by errors.New, no header.
		{name: "aws-lambda-go errors.New", kind: rtproxy.Error,
			body:     `{"errorMessage":"sku SKU-404 not found","errorType":"errorString"}`,
			wantType: "errorString", wantMessage: "sku SKU-404 not found", wantSpanType: "errorString"},
		// aws-lambda-go: an error of the function's own type, with the
		// stack trace of a panic.
		{name: "aws-lambda-go own type", kind: rtproxy.Error,
			body: `{"errorMessage":"stock exhausted","errorType":"StockError","stackTrace":[` +
				`{"path":"github.com/acme/inventory/main.go","line":42,"label":"reserve"}]}`,
			wantType: "StockError", wantMessage: "stock exhausted", wantSpanType: "StockError"},
		// Node.js's runtime interface client: "trace", not "stackTrace".
		{name: "Node.js TypeError", kind: rtproxy.Error,
			body: `{"errorType":"TypeError","errorMessage":"Cannot read properties of undefined (reading 'id')",` +
				`"trace":["TypeError: Cannot read properties of undefined (reading 'id')","    at Runtime.handler (file:///var/task/index.mjs:3:25)"]}`,
			wantType: "TypeError", wantMessage: "Cannot read properties of undefined (reading 'id')", wantSpanType: "TypeError"},
		// Python's runtime interface client.
		{name: "Python ValueError", kind: rtproxy.Error,
			body: `{"errorMessage": "invalid literal for int() with base 10: 'x'", "errorType": "ValueError", ` +
				`"requestId": "r1", "stackTrace": ["  File \"/var/task/lambda_function.py\", line 4, in lambda_handler\n    return int(event['n'])\n"]}`,
			wantType: "ValueError", wantMessage: "invalid literal for int() with base 10: 'x'", wantSpanType: "ValueError"},
		// Both: the body's is the function's, the header the span's.
		{name: "header and body", kind: rtproxy.Error, header: "Runtime.HandlerError",
			body:     `{"errorMessage":"boom","errorType":"Error"}`,
			wantType: "Error", wantMessage: "boom", wantSpanType: "Runtime.HandlerError"},
		{name: "header, body without a type", kind: rtproxy.Error, header: "Runtime.HandlerError",
			body:     `{"errorMessage":"boom"}`,
			wantType: "Runtime.HandlerError", wantMessage: "boom", wantSpanType: "Runtime.HandlerError"},
		{name: "header, malformed body", kind: rtproxy.Error, header: "Runtime.ExitError",
			body:     `{"errorMessage":"boom","errorType":"Err`,
			wantType: "Runtime.ExitError", wantSpanType: "Runtime.ExitError"},
		{name: "malformed body", kind: rtproxy.Error, body: `Traceback (most recent call last): ValueError`},
		{name: "body a JSON array", kind: rtproxy.Error, body: `["ValueError"]`},
		{name: "type not a string", kind: rtproxy.Error,
			body:        `{"errorMessage":"boom","errorType":{"name":"ValueError"}}`,
			wantMessage: "boom"},
		{name: "type blank", kind: rtproxy.Error, header: "Runtime.HandlerError",
			body:     `{"errorMessage":"boom","errorType":"  "}`,
			wantType: "Runtime.HandlerError", wantMessage: "boom", wantSpanType: "Runtime.HandlerError"},
		// Hostile values: a secret in the type is redacted, a type over
		// the bound is cut at a character boundary and counted, terminal
		// controls are kept as sent (the CLI escapes them).
		{name: "type with a secret", kind: rtproxy.Error,
			body:     `{"errorMessage":"declined","errorType":"Card4111111111111111Error"}`,
			wantType: "Card[REDACTED]Error", wantMessage: "declined", wantSpanType: "Card[REDACTED]Error"},
		{name: "type over its bound", kind: rtproxy.Error,
			body:     `{"errorMessage":"boom","errorType":"` + longType + `"}`,
			wantType: longType[:maxErrorType-1], wantMessage: "boom", wantSpanType: longType[:maxErrorType-1], wantCut: 1},
		{name: "type with terminal controls", kind: rtproxy.Error,
			body:     `{"errorMessage":"boom","errorType":"Bad\u001b[2J\u202eError"}`,
			wantType: "Bad\x1b[2J\u202eError", wantMessage: "boom", wantSpanType: "Bad\x1b[2J\u202eError"},
		{name: "type over the scan bound", kind: rtproxy.Error,
			body:     `{"errorMessage":"boom","errorType":"` + strings.Repeat("T", maxErrorScan+1) + `"}`,
			wantType: strings.Repeat("T", maxErrorType), wantMessage: "boom", wantSpanType: strings.Repeat("T", maxErrorType), wantCut: 1},
		// A streamed response that failed: the trailers, as aws-lambda-go
		// sends them.
		{name: "streamed response failed", kind: rtproxy.Response, header: "StreamError", body: `{"partial":`, errorBody: streamed,
			wantType: "StreamError", wantMessage: "stream broke", wantSpanType: "StreamError"},
		{name: "streamed response failed, trailer not base64", kind: rtproxy.Response, header: "StreamError", body: `{}`,
			errorBody: "%%%", wantType: "StreamError", wantSpanType: "StreamError"},
		{name: "success", kind: rtproxy.Response, body: `{"errorType":"NotAnError"}`},
		// Bodies at and over what is read: the agent's capture keeps 1 MiB
		// and a byte, so a larger body comes truncated.
		{name: "body of 1 MiB", kind: rtproxy.Error, header: "Runtime.HandlerError", body: padded(trigger.MaxDecode),
			wantType: "Big", wantMessage: "boom", wantSpanType: "Runtime.HandlerError"},
		{name: "body over 1 MiB, header", kind: rtproxy.Error, header: "Runtime.HandlerError", body: padded(trigger.MaxDecode + 1),
			truncated: true, wantType: "Runtime.HandlerError", wantSpanType: "Runtime.HandlerError", wantTooLarge: 1},
		{name: "body over 1 MiB, no header", kind: rtproxy.Error, body: padded(trigger.MaxDecode + 1), truncated: true, wantTooLarge: 1},
		// An error-body trailer is kept whole up to rtproxy.MaxErrorBodyKept,
		// beyond it only its beginning: read up to where it is cut.
		{name: "streamed response failed, trailer kept whole", kind: rtproxy.Response, header: "StreamError", body: `{}`,
			errorBody: trailer(rtproxy.MaxErrorBodyKept / 4 * 4), wantType: "StreamError", wantMessage: "stream broke", wantSpanType: "StreamError"},
		{name: "streamed response failed, trailer of 1 MiB", kind: rtproxy.Response, header: "Function.StreamFailed", body: `{}`,
			errorBody: kept(trailer(1 << 20)), errorBodyLen: 1 << 20,
			wantType: "StreamError", wantMessage: "stream broke", wantSpanType: "Function.StreamFailed"},
		{name: "streamed response failed, Node.js deep stack", kind: rtproxy.Response, header: "TypeError", body: `{}`,
			errorBody: kept(deep), errorBodyLen: len(deep),
			wantType: "TypeError", wantMessage: "Cannot read properties of undefined (reading 'id')", wantSpanType: "TypeError"},
		{name: "streamed response failed, message cut by what is kept", kind: rtproxy.Response, header: "Function.StreamFailed", body: `{}`,
			errorBody: kept(longMessage), errorBodyLen: len(longMessage),
			wantType: "TypeError", wantSpanType: "Function.StreamFailed", wantTooLarge: 1},
		{name: "streamed response failed, trailer cut, not JSON", kind: rtproxy.Response, header: "StreamError", body: `{}`,
			errorBody: kept(notJSON), errorBodyLen: len(notJSON),
			wantType: "StreamError", wantSpanType: "StreamError", wantTooLarge: 1},
	}
	red, err := redact.New(nil, []string{`\d{16}`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			buf := buffer.New(1<<20, 1<<20, log)
			tracker := invocation.New(buf, &resourcepb.Resource{}, log)
			ready := make(chan struct{})
			close(ready)
			o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
				return buf, tracker, &resourcepb.Resource{}
			}, log)
			o.redact = red
			now := time.Now()
			o.Invoked(rtproxy.Event{RequestID: "r1", Received: now, Body: []byte(sample(t, "sqs-event.json"))})
			o.Ended(rtproxy.End{RequestID: "r1", Kind: tt.kind, ErrorType: tt.header, ErrorBody: tt.errorBody,
				ErrorBodySize: int64(max(tt.errorBodyLen, len(tt.errorBody))), Streamed: tt.errorBody != "", Started: now, Ended: now.Add(time.Millisecond), Body: []byte(tt.body), Size: int64(len(tt.body)),
				Truncated: tt.truncated})
			evs, err := telemetry.Parse([]byte(`[
				{"time": "2025-10-13T19:48:00.000Z", "type": "platform.start", "record": {"requestId": "r1"}},
				{"time": "2025-10-13T19:48:00.100Z", "type": "platform.report", "record": {"requestId": "r1", "status": "error", "errorType": "Runtime.Unknown",
					"metrics": {"durationMs": 100, "billedDurationMs": 100, "memorySizeMB": 128, "maxMemoryUsedMB": 60}}}]`))
			if err != nil {
				t.Fatal(err)
			}
			tracker.HandleTelemetry(evs)
			batch := buf.Take(1 << 20)
			if batch == nil || len(batch.Request.GetInvocations()) != 1 {
				t.Fatalf("batch = %v, want one invocation", batch)
			}
			inv := batch.Request.GetInvocations()[0]
			if inv.GetFunctionErrorType() != tt.wantType || inv.GetErrorMessage() != tt.wantMessage {
				t.Errorf("function error type %q, message %q; want %q, %q", inv.GetFunctionErrorType(), inv.GetErrorMessage(), tt.wantType, tt.wantMessage)
			}
			if inv.GetErrorType() != "Runtime.Unknown" {
				t.Errorf("platform's error type %q, want Runtime.Unknown", inv.GetErrorType())
			}
			if n := o.errorTextsCut.Load(); n != tt.wantCut {
				t.Errorf("error texts cut = %d, want %d", n, tt.wantCut)
			}
			if n := o.errorBodiesTooLarge.Load(); n != tt.wantTooLarge {
				t.Errorf("error bodies too large = %d, want %d", n, tt.wantTooLarge)
			}
			if logged := strings.Contains(logs.String(), "body too large to read"); logged != (tt.wantTooLarge > 0) {
				t.Errorf("a body too large to read logged: %v, want %v\n%s", logged, tt.wantTooLarge > 0, logs.String())
			}
			var spanType string
			for _, rs := range batch.Request.GetResourceSpans() {
				for _, ss := range rs.GetScopeSpans() {
					if ss.GetScope().GetName() != EventsScope {
						continue
					}
					for _, sp := range ss.GetSpans() {
						spanType = spanAttr(sp, "error.type")
					}
				}
			}
			if spanType != tt.wantSpanType {
				t.Errorf("inferred span's error.type %q, want %q", spanType, tt.wantSpanType)
			}
		})
	}
}
