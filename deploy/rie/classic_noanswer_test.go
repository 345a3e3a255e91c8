package rie_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/rie"
	"github.com/lambdascope/lambdascope/extension"
	"github.com/lambdascope/lambdascope/internal/testload"
)

// unansweringFunction is a custom runtime in JavaScript that answers an
// SQS event as its first record's body says: "timeout" never answers (the
// function runs into its timeout), "crash" ends the runtime's process
// before answering, anything else answers.
const unansweringFunction = `#!/usr/bin/env node
'use strict';
const http = require('http');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({host, port, method, path}, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => resolve({headers: res.headers, body: Buffer.concat(chunks).toString()}));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
(async () => {
  for (;;) {
    const next = await call('GET', '/2018-06-01/runtime/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    let what = '';
    try { what = JSON.parse(next.body).Records[0].body; } catch (e) { /* answered */ }
    if (what === 'timeout') {
      await new Promise(resolve => setTimeout(resolve, 3600 * 1000));
    }
    if (what === 'crash') {
      process.exit(3);
    }
    await call('POST', '/2018-06-01/runtime/invocation/' + id + '/response', JSON.stringify({done: id}));
  }
})().catch(err => { console.error('runtime:', err); process.exit(1); });
`

// unansweringTimeout is the function timeout of unansweringFunction's
// sandboxes, in whole seconds as the emulator takes it. The emulator
// counts a new environment's INIT against the call's timeout: at load 10
// an environment started after a crash took over a second to start, and
// its call timed out before the runtime read it.
func unansweringTimeout() time.Duration {
	return testload.Scale(2*time.Second, 15*time.Second).Round(time.Second)
}

// runUnanswering runs unansweringFunction as function fn under AWS's
// emulator in classic mode, through the layer's wrapper and proxy, calls
// it once with an SQS event of each body in turn (each in a trace of its
// own), shuts the sandbox down and returns the calls.
func runUnanswering(t *testing.T, ctx context.Context, fn string, bodies ...string) []*call {
	t.Helper()
	dir := t.TempDir()
	wrapper, real := filepath.Join(dir, "bootstrap"), filepath.Join(dir, "bootstrap.real")
	if err := os.WriteFile(wrapper, []byte(extension.Wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte(unansweringFunction), 0o755); err != nil {
		t.Fatal(err)
	}
	sb, out := sandboxOutput(t, ctx, rie.Options{FunctionName: fn, Bootstrap: wrapper,
		TaskFiles: map[string]string{"bootstrap.real": real}, Timeout: unansweringTimeout()})
	var calls []*call
	for _, body := range bodies {
		c := newCall(body, 0)
		ictx, icancel := context.WithTimeout(ctx, time.Minute)
		c.result, c.err = sb.Invoke(ictx, rie.Invocation{RequestID: c.requestID, Payload: sqsEvent(body, c.traceID)})
		icancel()
		if c.err != nil {
			t.Fatalf("%s: invoke: %v\n%s", body, c.err, out.String())
		}
		calls = append(calls, c)
	}
	if err := sb.Shutdown(ctx); err != nil {
		t.Errorf("shut down: %v", err)
	}
	return calls
}

// sqsEvent is an SQS event of one message whose body is body, sent in
// the W3C trace traceID (32 hex digits) from queue orders-<name>.
func sqsEvent(body, traceID string) []byte {
	b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "body": body,
		"attributes": map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
			"SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185"},
		"messageAttributes": map[string]any{"traceparent": map[string]any{"stringValue": "00-" + traceID + "-b7ad6b7169203331-01",
			"stringListValues": []string{}, "binaryListValues": []string{}, "dataType": "String"}},
		"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:orders-queue", "awsRegion": "us-east-2",
	}}})
	return b
}

// TestClassicRecordsOfUnansweredInvocations runs a function that never
// answers some of its events under AWS's emulator in classic mode, where
// the Telemetry API is not supported, through the layer's Runtime API
// proxy: one runs into its timeout, one crashes its runtime, one
// answers. The emulator starts a new environment after each of the
// first two. Every call has exactly one invocation record, built from
// what the extension saw: the unanswered ones with their duration
// unknown and the status the SHUTDOWN's reason gives ("timeout"; after
// the crash the emulator resets the environment for "ReleaseFail", and
// its SHUTDOWN names neither a timeout nor a failure, so the status
// stays empty: unknown, never guessed), and all of them with the
// trigger, its source and the trace context the proxy read of the event
// when it handed it to the runtime, the caller's trace, and the cold
// start of their environment.
func TestClassicRecordsOfUnansweredInvocations(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	fn := functionName("rie-classic-unanswered")
	type unanswered struct {
		*call
		body, status string
	}
	var calls []unanswered
	tcs := []struct{ body, status string }{{"timeout", "timeout"}, {"crash", ""}, {"answer", "success"}}
	for i, c := range runUnanswering(t, ctx, fn, "timeout", "crash", "answer") {
		calls = append(calls, unanswered{c, tcs[i].body, tcs[i].status})
	}

	var recs []struct {
		RequestID          string  `json:"requestId"`
		Status             string  `json:"status"`
		Incomplete         bool    `json:"incomplete"`
		ColdStart          bool    `json:"coldStart"`
		DurationUnknown    bool    `json:"durationUnknown"`
		Trigger            string  `json:"trigger"`
		TriggerSource      string  `json:"triggerSource"`
		TraceContextSource string  `json:"traceContextSource"`
		TraceID            string  `json:"traceId"`
		Start              string  `json:"start"`
		DurationMs         float64 `json:"durationMs"`
	}
	byID := map[string]int{}
	eventually(t, ctx, func() string {
		if err := tryCLI(ctx, &recs, "invocations", "--function", fn, "--limit", "100"); err != nil {
			return err.Error()
		}
		clear(byID)
		for i, r := range recs {
			byID[r.RequestID] = i
		}
		for _, c := range calls {
			if _, ok := byID[c.requestID]; !ok {
				return "no record of the " + c.body + " call"
			}
		}
		return ""
	})
	if len(recs) != len(calls) {
		t.Errorf("%d records, want one per call (%d)", len(recs), len(calls))
	}
	for _, c := range calls {
		j, ok := byID[c.requestID]
		if !ok {
			continue // reported by eventually
		}
		r := recs[j]
		if r.Status != c.status || !r.Incomplete || r.DurationUnknown != (c.status != "success") {
			t.Errorf("%s: status %q, incomplete %v, duration unknown %v (start %s, %.3f ms); want %q, incomplete, duration unknown without an answer",
				c.body, r.Status, r.Incomplete, r.DurationUnknown, r.Start, r.DurationMs, c.status)
		}
		if r.Trigger != "sqs" || r.TriggerSource != "orders-queue" || r.TraceContextSource != "w3c" {
			t.Errorf("%s: trigger %q, source %q, trace context %q; want sqs, orders-queue, w3c (what the proxy read of the event)",
				c.body, r.Trigger, r.TriggerSource, r.TraceContextSource)
		}
		if want, _ := hex.DecodeString(c.traceID); r.TraceID != c.traceID || len(want) != 16 {
			t.Errorf("%s: trace %q, want the caller's %s", c.body, r.TraceID, c.traceID)
		}
		// Each call runs in an environment of its own: the emulator
		// starts a new one after a timeout and after a crash.
		if !r.ColdStart {
			t.Errorf("%s: not a cold start, though its environment was new", c.body)
		}
	}
}
