package rie_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestClassicInferredSpansOfUnansweredInvocations runs, under AWS's
// emulator in classic mode and through the layer's Runtime API proxy, an
// SQS-triggered function that runs into its timeout on one event and
// crashes its runtime on another (unansweringFunction). Neither answers,
// yet each invocation's inferred span reaches ClickHouse in the caller's
// trace, as the child of the caller's span: the span the invocation's
// record names (its span ID, under which the platform's spans hang when
// the Telemetry API delivers) exists. Without the Telemetry API (the
// emulator's classic mode has none) the SHUTDOWN ends them: the one that
// timed out is an error of type "timeout" (the SHUTDOWN's reason), the
// one that crashed, whose SHUTDOWN names neither a timeout nor a failure,
// an error of type "unanswered"; neither has a response size or an HTTP
// status, and their end is marked estimated.
func TestClassicInferredSpansOfUnansweredInvocations(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	fn := functionName("rie-classic-unanswered-span")
	type unanswered struct {
		*call
		body, errType string
	}
	var calls []unanswered
	tcs := []struct{ body, errType string }{{"timeout", "timeout"}, {"crash", "unanswered"}}
	for i, c := range runUnanswering(t, ctx, fn, "timeout", "crash") {
		calls = append(calls, unanswered{c, tcs[i].body, tcs[i].errType})
	}

	type span struct {
		TraceID      string            `json:"traceId"`
		SpanID       string            `json:"spanId"`
		ParentSpanID string            `json:"parentSpanId"`
		Name         string            `json:"name"`
		StatusCode   int               `json:"statusCode"`
		Attributes   map[string]string `json:"attributes"`
	}
	type node struct {
		Span     span   `json:"span"`
		Children []node `json:"children"`
	}
	type trace struct {
		Roots []node `json:"roots"`
	}
	for _, c := range calls {
		var inferred span
		var recordSpan string
		eventually(t, ctx, func() string {
			var recs []struct {
				RequestID string `json:"requestId"`
				TraceID   string `json:"traceId"`
				SpanID    string `json:"spanId"`
			}
			if err := tryCLI(ctx, &recs, "invocations", "--function", fn, "--limit", "100"); err != nil {
				return err.Error()
			}
			recordSpan = ""
			for _, r := range recs {
				if r.RequestID == c.requestID {
					if r.TraceID != c.traceID {
						return fmt.Sprintf("%s: record in trace %q, want the caller's %s", c.body, r.TraceID, c.traceID)
					}
					recordSpan = r.SpanID
				}
			}
			if recordSpan == "" {
				return "no record of the " + c.body + " call with a span"
			}
			var tr trace
			if err := tryCLI(ctx, &tr, "trace", c.traceID); err != nil {
				return err.Error()
			}
			var walk func([]node) bool
			walk = func(ns []node) bool {
				for _, n := range ns {
					if n.Span.Attributes["lambdascope.invocation_id"] == c.requestID {
						inferred = n.Span
						return true
					}
					if walk(n.Children) {
						return true
					}
				}
				return false
			}
			if !walk(tr.Roots) {
				return "no inferred span of the " + c.body + " call in the caller's trace " + c.traceID
			}
			return ""
		})
		if inferred.TraceID != c.traceID || inferred.ParentSpanID != "b7ad6b7169203331" {
			t.Errorf("%s: inferred span in trace %s under %s, want the caller's %s under b7ad6b7169203331",
				c.body, inferred.TraceID, inferred.ParentSpanID, c.traceID)
		}
		if inferred.SpanID != recordSpan {
			t.Errorf("%s: the record names span %s, the inferred span is %s: the span the platform's spans hang under does not exist",
				c.body, recordSpan, inferred.SpanID)
		}
		a := inferred.Attributes
		if inferred.StatusCode != 2 || a["error.type"] != c.errType || a["lambdascope.unanswered.ended_by"] != "shutdown" ||
			a["lambdascope.end_time.estimated"] != "true" {
			t.Errorf("%s: inferred span status %d, attributes %v; want an error of type %q ended by the SHUTDOWN, its end estimated",
				c.body, inferred.StatusCode, a, c.errType)
		}
		for _, k := range []string{"aws.lambda.response.size", "http.response.status_code"} {
			if v, ok := a[k]; ok {
				t.Errorf("%s: %s=%s on the span of an invocation that never answered", c.body, k, v)
			}
		}
	}
}
