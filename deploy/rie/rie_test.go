package rie_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/rie"
	"github.com/lambdascope/lambdascope/internal/testload"
)

// What the CLI prints with --output json, as far as the tests read it.
type (
	invocationOut struct {
		FunctionName string  `json:"functionName"`
		RequestID    string  `json:"requestId"`
		DurationMs   float64 `json:"durationMs"`
		BilledMs     float64 `json:"billedDurationMs"`
		Status       string  `json:"status"`
		ErrorType    string  `json:"errorType"`
		// FunctionErrorType is the type the function's runtime gave the
		// error, as the layer's Runtime API proxy read it.
		FunctionErrorType string `json:"functionErrorType"`
		ColdStart         bool   `json:"coldStart"`
		TraceID           string `json:"traceId"`
		// The figures the platform did not report.
		BilledEstimated      bool `json:"billedDurationEstimated"`
		MaxMemoryUsedUnknown bool `json:"maxMemoryUsedUnknown"`
		DurationUnknown      bool `json:"durationUnknown"`
	}
	logOut struct {
		FunctionName string `json:"functionName"`
		RequestID    string `json:"requestId"`
		TraceID      string `json:"traceId"`
		Body         string `json:"body"`
	}
	spanOut struct {
		TraceID      string `json:"traceId"`
		SpanID       string `json:"spanId"`
		ParentSpanID string `json:"parentSpanId"`
		Name         string `json:"name"`
		StatusCode   int    `json:"statusCode"`
		FunctionName string `json:"functionName"`
		RequestID    string `json:"requestId"`
	}
	nodeOut struct {
		Span     spanOut   `json:"span"`
		Children []nodeOut `json:"children"`
	}
	traceOut struct {
		TraceID string    `json:"traceId"`
		Roots   []nodeOut `json:"roots"`
	}
)

// spans lists the trace's spans, depth first.
func (tr traceOut) spans() []spanOut {
	var out []spanOut
	var walk func([]nodeOut)
	walk = func(ns []nodeOut) {
		for _, n := range ns {
			out = append(out, n.Span)
			walk(n.Children)
		}
	}
	walk(tr.Roots)
	return out
}

// call is one invocation a test makes and what it expects of it.
type call struct {
	name      string
	requestID string
	traceID   string // 32 hex digits, sent as an X-Ray root and in the event
	lines     int
	fail      bool
	together  int
	group     string
	noSpan    bool
	result    rie.Result
	err       error
}

func newCall(name string, lines int) *call {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	b2 := make([]byte, 16)
	_, _ = rand.Read(b2)
	return &call{
		name:      name,
		requestID: fmt.Sprintf("%s-%s-%s-%s-%s", id[:8], id[8:12], id[12:16], id[16:20], id[20:]),
		traceID:   hex.EncodeToString(b2),
		lines:     lines,
	}
}

func (c *call) invoke(ctx context.Context, sb *rie.Sandbox) {
	payload, _ := json.Marshal(map[string]any{
		"call": c.name, "lines": c.lines, "fail": c.fail, "together": c.together, "group": c.group, "no_span": c.noSpan,
		// AWS's emulator passes the X-Ray header on to the runtime only in
		// Managed Instances mode; the event names the trace in both.
		"trace_id": c.traceID,
	})
	// Every invocation answers well within a minute; a hung emulator fails
	// the call, not the whole test.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// Under Managed Instances an invocation is refused with
	// Runtime.Unavailable while no runtime worker waits on next, as a
	// worker that has just answered may not yet (on a loaded machine that
	// takes seconds); the caller tries again for seven seconds at most,
	// within the function's 10 s timeout that the calls which wait for
	// their group are held to.
	for deadline := time.Now().Add(7 * time.Second); ; {
		c.result, c.err = sb.Invoke(ctx, rie.Invocation{
			RequestID:   c.requestID,
			TraceHeader: fmt.Sprintf("Root=1-%s-%s;Parent=%s;Sampled=1", c.traceID[:8], c.traceID[8:], c.traceID[:16]),
			Payload:     payload,
		})
		if c.err != nil || !bytes.Contains(c.result.Body, []byte(`"Runtime.Unavailable"`)) || time.Now().After(deadline) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkAnswer checks the emulator's answer to the call: the function's
// response, or its error.
func (c *call) checkAnswer(t *testing.T) {
	t.Helper()
	if c.err != nil {
		t.Errorf("%s: %v", c.name, c.err)
		return
	}
	var got map[string]string
	if err := json.Unmarshal(c.result.Body, &got); err != nil {
		t.Errorf("%s: answer %q is not a JSON object: %v", c.name, c.result.Body, err)
		return
	}
	want := map[string]string{"call": c.name, "request_id": c.requestID}
	if c.fail {
		want = map[string]string{"errorType": "CallFailed", "errorMessage": c.name + " failed"}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: answer %s = %q, want %q (answer %s)", c.name, k, got[k], v, c.result.Body)
		}
	}
}

// plainLines and jsonLines are the lines the Go function prints for a call.
func (c *call) plainLines() []string {
	var out []string
	for i := 1; i <= c.lines; i++ {
		out = append(out, fmt.Sprintf("%s plain line %d", c.name, i))
	}
	return out
}

func (c *call) jsonLines() []string {
	var out []string
	for i := 1; i <= c.lines; i++ {
		out = append(out, fmt.Sprintf("%s json line %d", c.name, i))
	}
	return out
}

// invokeAll invokes the calls at once and waits for every answer.
func invokeAll(ctx context.Context, sb *rie.Sandbox, calls []*call) {
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { c.invoke(ctx, sb) })
	}
	wg.Wait()
}

// addedBound is the most an invocation may take beyond what the function
// itself needs (a few milliseconds here) when the layer is attached and
// the Telemetry API is unavailable: the extension has nothing to wait for.
// The function's timeout is 5 s; an extension that waits for events that
// cannot come holds every invocation until 4.75 s.
const addedBound = 1500 * time.Millisecond

// TestClassic runs the Go function with the layer under AWS's emulator in
// classic mode, where the Telemetry API is not supported: the layer must
// not hold any invocation, and the function's spans must reach ClickHouse,
// each in its invocation's trace.
func TestClassic(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	fn := functionName("rie-classic-go")
	sb := sandbox(t, ctx, rie.Options{FunctionName: fn, Bootstrap: shared.goFn, Timeout: 5 * time.Second})

	var calls []*call
	for i := range 4 {
		c := newCall(fmt.Sprintf("classic-%d", i), 2)
		c.fail = i == 2
		c.invoke(ctx, sb)
		c.checkAnswer(t)
		calls = append(calls, c)
	}
	// The emulator's output is read to its end once it has exited.
	if err := sb.Shutdown(ctx); err != nil {
		t.Errorf("shut down: %v", err)
	}
	reports := sb.Reports()
	for _, c := range calls {
		rep, ok := reports[c.requestID]
		if !ok {
			t.Errorf("%s: the emulator printed no REPORT for %s", c.name, c.requestID)
			continue
		}
		if d := time.Duration(rep.DurationMs * float64(time.Millisecond)); d > addedBound {
			t.Errorf("%s: the emulator reports %v for an invocation the function serves in milliseconds (bound %v): the layer held it", c.name, d, addedBound)
		}
		if c.result.Elapsed > addedBound {
			t.Errorf("%s: answered after %v (bound %v)", c.name, c.result.Elapsed, addedBound)
		}
	}

	// Every invocation's span, in its trace, names its request; the failed
	// one has status ERROR.
	for _, c := range calls {
		eventually(t, ctx, func() string {
			var tr traceOut
			if err := tryCLI(ctx, &tr, "trace", c.traceID); err != nil {
				return err.Error()
			}
			var names []string
			for _, s := range tr.spans() {
				names = append(names, s.Name)
				if s.Name != "handle "+c.name {
					continue
				}
				if s.RequestID != c.requestID || s.FunctionName != fn {
					return fmt.Sprintf("%s: span of request %q of %q, want %q of %q", c.name, s.RequestID, s.FunctionName, c.requestID, fn)
				}
				if want := map[bool]int{false: 1, true: 2}[c.fail]; s.StatusCode != want {
					return fmt.Sprintf("%s: span status %d, want %d", c.name, s.StatusCode, want)
				}
				return ""
			}
			return fmt.Sprintf("%s: trace %s has spans %q, no %q", c.name, c.traceID, names, "handle "+c.name)
		})
	}
	// Without the Telemetry API there are no platform reports; whatever
	// record the extension still writes names one of these invocations,
	// once.
	var recs []invocationOut
	cli(t, ctx, &recs, "invocations", "--function", fn, "--limit", "100")
	seen := map[string]bool{}
	for _, r := range recs {
		if !slices.ContainsFunc(calls, func(c *call) bool { return c.requestID == r.RequestID }) || seen[r.RequestID] {
			t.Errorf("invocation record %+v: not one of the invocations, or twice", r)
		}
		seen[r.RequestID] = true
	}
}

// TestManagedInstances runs the Go function with the layer under AWS's
// emulator in Managed Instances mode: serial invocations, then three at
// once whose lines are all printed while the three are in flight. Every
// invocation has its record, its spans joined to the platform's, and every
// line it printed, attributed to it or to no invocation, never to another.
func TestManagedInstances(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	var (
		fn    string
		calls []*call
	)
	retryStalled(t, ctx, func() *rie.Sandbox {
		fn = functionName("rie-mi-go")
		sb := sandbox(t, ctx, rie.Options{FunctionName: fn, Bootstrap: shared.goFn, Timeout: 10 * time.Second, MaxConcurrency: 3})
		var serial, concurrent []*call
		for i := range 3 {
			c := newCall(fmt.Sprintf("serial-%d", i), 2)
			c.fail = i == 1
			c.invoke(ctx, sb)
			if sb.TelemetryStalled() {
				return sb
			}
			c.checkAnswer(t)
			serial = append(serial, c)
		}
		for i := range 3 {
			c := newCall(fmt.Sprintf("together-%d", i), 2)
			c.together, c.group = 3, "together"
			c.fail = i == 2
			concurrent = append(concurrent, c)
		}
		invokeAll(ctx, sb, concurrent)
		if sb.TelemetryStalled() {
			return sb
		}
		for _, c := range concurrent {
			c.checkAnswer(t)
		}
		if err := sb.Shutdown(ctx); err != nil {
			t.Errorf("shut down: %v", err)
		}
		calls = append(slices.Clone(serial), concurrent...)
		return nil
	})

	checkRecords(t, ctx, fn, calls)

	// Each trace holds the function's span and the platform's
	// lambda.invoke under it, both naming the request.
	for _, c := range calls {
		eventually(t, ctx, func() string {
			var tr traceOut
			if err := tryCLI(ctx, &tr, "trace", c.traceID); err != nil {
				return err.Error()
			}
			byName := map[string]spanOut{}
			for _, s := range tr.spans() {
				if _, dup := byName[s.Name]; dup && s.Name != "lambda.init" {
					return fmt.Sprintf("%s: two spans %q in trace %s", c.name, s.Name, c.traceID)
				}
				byName[s.Name] = s
			}
			fnSpan, ok1 := byName["handle "+c.name]
			inv, ok2 := byName["lambda.invoke"]
			if !ok1 || !ok2 {
				return fmt.Sprintf("%s: trace %s has spans %v, want %q and lambda.invoke", c.name, c.traceID, slices.Sorted(maps.Keys(byName)), "handle "+c.name)
			}
			if inv.ParentSpanID != fnSpan.SpanID {
				return fmt.Sprintf("%s: lambda.invoke's parent is %s, not the function's span %s", c.name, inv.ParentSpanID, fnSpan.SpanID)
			}
			for _, s := range []spanOut{fnSpan, inv} {
				if s.RequestID != c.requestID || s.FunctionName != fn {
					return fmt.Sprintf("%s: span %q of request %q of %q, want %q of %q", c.name, s.Name, s.RequestID, s.FunctionName, c.requestID, fn)
				}
			}
			return ""
		})
	}

	// Every line, once, with its body as printed, under its invocation's
	// request or none, never another's: the emulator passes lines on as
	// the runtime's pipe delivers them, as strings (a JSON line's
	// requestId is the function's word, not the platform's), which may be
	// after the invocation's runtimeDone, and three invocations print
	// theirs at once.
	want := map[string]*call{}
	for _, c := range calls {
		for _, l := range c.plainLines() {
			want[l] = c
		}
	}
	jsonOf := map[string]*call{}
	for _, c := range calls {
		for _, l := range c.jsonLines() {
			jsonOf[l] = c
		}
	}
	var lines []logOut
	eventually(t, ctx, func() string {
		lines = functionLines(t, ctx, fn)
		if n := len(lines); n < len(want)+len(jsonOf) {
			return fmt.Sprintf("%d of %d log lines of %s stored", n, len(want)+len(jsonOf), fn)
		}
		return ""
	})
	seen := map[string]int{}
	for _, l := range lines {
		key := l.Body
		var j struct {
			RequestID string `json:"requestId"`
			Message   string `json:"message"`
		}
		if json.Unmarshal([]byte(l.Body), &j) == nil && j.Message != "" {
			key = j.Message
		}
		seen[key]++
		if c, ok := jsonOf[key]; ok {
			if l.RequestID != c.requestID && l.RequestID != "" {
				t.Errorf("JSON line %q stored under request %q, want %q or none", l.Body, l.RequestID, c.requestID)
			}
			continue
		}
		c, ok := want[key]
		if !ok {
			t.Errorf("log line %q (request %q) was never printed by the function", l.Body, l.RequestID)
			continue
		}
		if l.RequestID == c.requestID {
			continue
		}
		if l.RequestID != "" {
			t.Errorf("line %q stored under request %q, want %q or none", l.Body, l.RequestID, c.requestID)
		}
	}
	for key := range want {
		if seen[key] != 1 {
			t.Errorf("line %q stored %d times, want once", key, seen[key])
		}
	}
	for key := range jsonOf {
		if seen[key] != 1 {
			t.Errorf("JSON line %q stored %d times, want once", key, seen[key])
		}
	}

	// Logs of a trace: every line stored under the trace's invocation.
	for _, c := range calls {
		var ofTrace []logOut
		cli(t, ctx, &ofTrace, "logs", "--trace", c.traceID, "--limit", "1000")
		wantN := 0
		for _, l := range lines {
			if l.RequestID == c.requestID {
				wantN++
			}
		}
		if len(ofTrace) != wantN {
			t.Errorf("%s: lambdascope logs --trace %s finds %d lines, %d are stored under its request", c.name, c.traceID, len(ofTrace), wantN)
		}
		for _, l := range ofTrace {
			if l.RequestID != c.requestID && l.RequestID != "" {
				t.Errorf("%s: lambdascope logs --trace %s finds a line of request %s: %q", c.name, c.traceID, l.RequestID, l.Body)
			}
		}
	}
}

// TestNode runs an uninstrumented function written in JavaScript, its own
// runtime speaking the Runtime API directly, with the layer under AWS's
// emulator in both modes: it is never held, and under Managed Instances,
// where the Telemetry API works, every invocation has its record and every
// line it printed, under its request or none (Node writes to a pipe
// asynchronously: a line may reach the platform after its invocation
// ended).
func TestNode(t *testing.T) {
	t.Parallel()
	setup(t)
	for _, tc := range []struct {
		mode           string
		maxConcurrency int
	}{
		{"classic", 0},
		{"managed-instances", 2},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ctx := testload.Context(t, 30*time.Second, 10*time.Minute)
			// The fault is an invocation held until the function's
			// timeout: far beyond the bound, however loaded the machine.
			const timeout = 30 * time.Second
			var (
				fn    string
				calls []*call
			)
			retryStalled(t, ctx, func() *rie.Sandbox {
				fn = functionName("rie-node-" + tc.mode)
				sb := sandbox(t, ctx, rie.Options{FunctionName: fn, Bootstrap: shared.nodeFn, Timeout: timeout, MaxConcurrency: tc.maxConcurrency})
				calls = nil
				for i := range 3 {
					c := newCall(fmt.Sprintf("node-%s-%d", tc.mode, i), 2)
					c.fail = i == 1
					c.invoke(ctx, sb)
					if sb.TelemetryStalled() {
						return sb
					}
					c.checkAnswer(t)
					if bound := testload.Scale(addedBound, timeout/3); c.result.Elapsed > bound {
						t.Errorf("%s: answered after %v (bound %v)", c.name, c.result.Elapsed, bound)
					}
					calls = append(calls, c)
				}
				if err := sb.Shutdown(ctx); err != nil {
					t.Errorf("shut down: %v", err)
				}
				return nil
			})
			if tc.maxConcurrency == 0 {
				return
			}
			checkRecords(t, ctx, fn, calls)
			want := map[string]string{}
			for _, c := range calls {
				for i := 1; i <= c.lines; i++ {
					want[fmt.Sprintf("%s node line %d", c.name, i)] = c.requestID
				}
			}
			eventually(t, ctx, func() string {
				got := map[string]string{}
				for _, l := range functionLines(t, ctx, fn) {
					if _, dup := got[l.Body]; dup {
						return fmt.Sprintf("line %q stored twice", l.Body)
					}
					got[l.Body] = l.RequestID
				}
				for body, id := range want {
					if gid, ok := got[body]; !ok {
						return fmt.Sprintf("line %q not stored", body)
					} else if gid != id && gid != "" {
						return fmt.Sprintf("line %q stored under request %q, want %q or none", body, gid, id)
					}
				}
				if len(got) != len(want) {
					return fmt.Sprintf("%d lines stored, want %d", len(got), len(want))
				}
				return ""
			})
		})
	}
}

// checkRecords waits until the function has one invocation record per
// call, and checks each. AWS's emulator runs only Managed Instances mode
// with the Telemetry API, where platform.report carries durationMs alone:
// the billed duration is then an estimate (the duration rounded up to the
// millisecond) and the memory used unknown, never a 0 taken for a figure.
func checkRecords(t *testing.T, ctx context.Context, fn string, calls []*call) {
	t.Helper()
	var recs []invocationOut
	eventually(t, ctx, func() string {
		cli(t, ctx, &recs, "invocations", "--function", fn, "--limit", "100")
		if len(recs) < len(calls) {
			return fmt.Sprintf("%d of %d invocation records of %s stored", len(recs), len(calls), fn)
		}
		return ""
	})
	byID := map[string]invocationOut{}
	for _, r := range recs {
		if _, dup := byID[r.RequestID]; dup {
			t.Errorf("request %s has two records", r.RequestID)
		}
		byID[r.RequestID] = r
	}
	if len(recs) != len(calls) {
		t.Errorf("%d invocation records of %s, want %d", len(recs), fn, len(calls))
	}
	cold := 0
	for _, c := range calls {
		r, ok := byID[c.requestID]
		if !ok {
			t.Errorf("%s: no invocation record for request %s", c.name, c.requestID)
			continue
		}
		if want := map[bool]string{false: "success", true: "error"}[c.fail]; r.Status != want {
			t.Errorf("%s: status %q, want %q", c.name, r.Status, want)
		}
		if c.fail && r.ErrorType != "Function.CallFailed" {
			t.Errorf("%s: error type %q, want Function.CallFailed", c.name, r.ErrorType)
		}
		if r.DurationMs <= 0 || r.DurationUnknown {
			t.Errorf("%s: duration %v ms (unknown %v)", c.name, r.DurationMs, r.DurationUnknown)
		}
		if !r.BilledEstimated || r.BilledMs < r.DurationMs || r.BilledMs >= r.DurationMs+1.001 {
			t.Errorf("%s: billed %v ms (estimated %v) for a duration of %v ms the platform reported alone, want the estimate %v",
				c.name, r.BilledMs, r.BilledEstimated, r.DurationMs, math.Ceil(r.DurationMs))
		}
		if !r.MaxMemoryUsedUnknown {
			t.Errorf("%s: memory used is not marked unknown, though the platform did not report it", c.name)
		}
		if r.ColdStart {
			cold++
		}
	}
	if cold > 1 {
		t.Errorf("%d invocations marked as cold starts, want at most one", cold)
	}
}

// functionLines returns the log lines of fn that the function printed
// (not the extension's own).
func functionLines(t *testing.T, ctx context.Context, fn string) []logOut {
	t.Helper()
	var lines []logOut
	cli(t, ctx, &lines, "logs", "--function", fn, "--limit", "1000", "--since", "1h")
	out := lines[:0]
	for _, l := range lines {
		if strings.Contains(l.Body, " plain line ") || strings.Contains(l.Body, " json line ") || strings.Contains(l.Body, " node line ") {
			out = append(out, l)
		}
	}
	return out
}
