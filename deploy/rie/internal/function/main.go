// Command function is a small custom Lambda runtime, a bootstrap that
// speaks the Runtime API itself with nothing but the standard library, for
// the tests and the benchmark under AWS's emulator. It serves
// AWS_LAMBDA_MAX_CONCURRENCY invocations at once (one without it), as
// runtimes do on Lambda Managed Instances.
//
// The event says what to do (see event); every invocation prints its log
// lines to stdout, exports one SERVER span over OTLP/HTTP JSON to
// OTEL_EXPORTER_OTLP_ENDPOINT (in the trace of the invocation's
// Lambda-Runtime-Trace-Id) and answers with its call name and request ID,
// or fails with errorType CallFailed (Function.CallFailed to the platform,
// which takes only Runtime.* and Function.* types).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// event is the invocation's payload.
type event struct {
	// Call names the invocation in its log lines, span and answer.
	Call string `json:"call"`
	// Lines is how many plain-text lines and how many JSON lines (with
	// the request ID, as Lambda's JSON log format writes them) to print.
	Lines int `json:"lines"`
	// Together makes the invocation print its lines only once this many
	// invocations of its Group have arrived, and answer only once all of
	// them have printed (each wait bounded by 10 s): their lines are then
	// written while all are in flight.
	Together int    `json:"together"`
	Group    string `json:"group"`
	// NoSpan leaves out the span.
	NoSpan bool `json:"no_span"`
	// TraceID (32 hex digits) puts the span in this trace, as a caller's
	// propagated context would, instead of the Lambda-Runtime-Trace-Id's.
	TraceID string `json:"trace_id"`
	// Fail answers with an error.
	Fail bool `json:"fail"`
	// StreamError answers with a streamed response that fails after its
	// first bytes: Lambda-Runtime-Function-Error-Type Function.StreamFailed
	// and an error-body trailer of this many bytes of base64 (its stack
	// trace filling it). The Runtime API's answer is printed, as
	// "<call> streamed failure answered <status> <body>", or "... answered
	// no answer, connection reset" (or closed).
	StreamError int `json:"stream_error"`
}

var (
	api    = os.Getenv("AWS_LAMBDA_RUNTIME_API")
	client = &http.Client{}
	out    sync.Mutex
)

func main() {
	workers := 1
	if n, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_MAX_CONCURRENCY")); err == nil && n > 1 {
		workers = n
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(serve)
	}
	wg.Wait()
}

func serve() {
	for {
		if err := handleNext(); err != nil {
			fmt.Fprintln(os.Stderr, "runtime:", err)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func handleNext() error {
	resp, err := client.Get("http://" + api + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("next: status %d: %s", resp.StatusCode, body)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	start := time.Now()
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		return post(id, "error", []byte(`{"errorType":"BadEvent","errorMessage":"event is not JSON"}`), "BadEvent")
	}
	if ev.Together > 1 {
		meet(ev.Group+"/arrived", ev.Together)
	}
	for i := 1; i <= ev.Lines; i++ {
		say(fmt.Sprintf("%s plain line %d", ev.Call, i))
		j, _ := json.Marshal(map[string]string{
			"timestamp": time.Now().UTC().Format(time.RFC3339Nano),
			"level":     "INFO",
			"requestId": id,
			"message":   fmt.Sprintf("%s json line %d", ev.Call, i),
		})
		say(string(j))
	}
	if ev.Together > 1 {
		meet(ev.Group+"/printed", ev.Together)
	}
	if !ev.NoSpan {
		exportSpan(id, resp.Header.Get("Lambda-Runtime-Trace-Id"), ev, start)
	}
	if ev.StreamError > 0 {
		return streamFailure(id, ev)
	}
	if ev.Fail {
		b, _ := json.Marshal(map[string]string{"errorType": "CallFailed", "errorMessage": ev.Call + " failed"})
		return post(id, "error", b, "Function.CallFailed")
	}
	b, _ := json.Marshal(map[string]string{"call": ev.Call, "request_id": id})
	return post(id, "response", b, "")
}

// say writes one line to stdout whole.
func say(line string) {
	out.Lock()
	defer out.Unlock()
	fmt.Println(line)
}

var (
	meetMu  sync.Mutex
	meetC   = sync.NewCond(&meetMu)
	arrived = map[string]int{}
)

// meet waits until n invocations have called meet with key, or 10 s.
func meet(key string, n int) {
	deadline := time.Now().Add(10 * time.Second)
	timer := time.AfterFunc(10*time.Second, func() {
		meetMu.Lock()
		meetC.Broadcast()
		meetMu.Unlock()
	})
	defer timer.Stop()
	meetMu.Lock()
	defer meetMu.Unlock()
	arrived[key]++
	meetC.Broadcast()
	for arrived[key] < n && time.Now().Before(deadline) {
		meetC.Wait()
	}
}

func post(id, what string, body []byte, errorType string) error {
	req, err := http.NewRequest(http.MethodPost, "http://"+api+"/2018-06-01/runtime/invocation/"+id+"/"+what, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if errorType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("%s %s: status %d", what, id, resp.StatusCode)
	}
	return nil
}

// streamFailure sends a streamed response that fails after its first
// bytes, with error trailers (see event.StreamError), and prints the
// Runtime API's answer.
func streamFailure(id string, ev event) error {
	head := `{"errorType":"StreamError","errorMessage":"` + ev.Call + ` broke","stackTrace":"`
	n := max(ev.StreamError/4*3-len(head)-2, 0)
	errBody := base64.StdEncoding.EncodeToString([]byte(head + strings.Repeat("x", n) + `"}`))
	req, err := http.NewRequest(http.MethodPost, "http://"+api+"/2018-06-01/runtime/invocation/"+id+"/response",
		io.MultiReader(strings.NewReader(`{"partial":`))) // no length: chunked
	if err != nil {
		return err
	}
	req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": {"Function.StreamFailed"}, "Lambda-Runtime-Function-Error-Body": {errBody}}
	resp, err := client.Do(req)
	if err != nil {
		// No answer: how the connection ended (the addresses left out).
		end := err.Error()
		switch {
		case strings.Contains(end, "connection reset by peer") || strings.Contains(end, "broken pipe"):
			end = "reset"
		case strings.Contains(end, "EOF"):
			end = "closed"
		}
		say(fmt.Sprintf("%s streamed failure answered no answer, connection %s", ev.Call, end))
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	say(fmt.Sprintf("%s streamed failure answered %d %s", ev.Call, resp.StatusCode, strings.TrimSpace(string(b))))
	return nil
}

// exportSpan sends the invocation's span; an extension that is not there
// is no error of the function's.
func exportSpan(id, traceHeader string, ev event, start time.Time) {
	traceID, parent := xrayIDs(traceHeader)
	if ev.TraceID != "" {
		traceID, parent = ev.TraceID, ""
	}
	if traceID == "" {
		traceID = randomHex(16)
	}
	status := 1
	if ev.Fail {
		status = 2
	}
	span := map[string]any{
		"traceId":           traceID,
		"spanId":            randomHex(8),
		"parentSpanId":      parent,
		"name":              "handle " + ev.Call,
		"kind":              2,
		"startTimeUnixNano": strconv.FormatInt(start.UnixNano(), 10),
		"endTimeUnixNano":   strconv.FormatInt(time.Now().UnixNano(), 10),
		"attributes": []any{
			attr("faas.invocation_id", id),
			attr("call", ev.Call),
		},
		"status": map[string]any{"code": status},
	}
	name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	body, _ := json.Marshal(map[string]any{"resourceSpans": []any{map[string]any{
		"resource":   map[string]any{"attributes": []any{attr("service.name", name), attr("faas.name", name), attr("cloud.provider", "aws")}},
		"scopeSpans": []any{map[string]any{"scope": map[string]any{"name": "rie-function"}, "spans": []any{span}}},
	}}})
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" {
		endpoint = "http://localhost:4318"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(endpoint, "/")+"/v1/traces", bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime: export span:", err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func attr(k, v string) map[string]any {
	return map[string]any{"key": k, "value": map[string]any{"stringValue": v}}
}

// xrayIDs reads Root=1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy;Parent=zzzzzzzzzzzzzzzz
// as a W3C trace ID and parent span ID.
func xrayIDs(h string) (traceID, parent string) {
	for part := range strings.SplitSeq(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			if f := strings.Split(v, "-"); len(f) == 3 && len(f[1])+len(f[2]) == 32 {
				traceID = f[1] + f[2]
			}
		case "Parent":
			if len(v) == 16 {
				parent = v
			}
		}
	}
	return traceID, parent
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
