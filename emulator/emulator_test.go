package emulator_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lambdascope/lambdascope/emulator"
)

var (
	functionBin  string
	extensionBin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "emulator-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	functionBin = filepath.Join(dir, "bootstrap")
	extensionBin = filepath.Join(dir, "extensions", "test-ext")
	for _, b := range []struct{ out, pkg string }{
		{functionBin, "./testdata/function"},
		{extensionBin, "./testdata/extension"},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", b.pkg, err)
			_ = os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// extLog reads what the test extension recorded.
type extLog struct {
	path string
}

type extRecord struct {
	Kind   string          `json:"kind"`
	At     time.Time       `json:"at"`
	PID    int             `json:"pid"`
	Env    []string        `json:"env"`
	Status int             `json:"status"`
	ID     string          `json:"id"`
	Body   json.RawMessage `json:"body"`
	Event  json.RawMessage `json:"event"`
	After  string          `json:"after"`
	// Released says what ended a held telemetry answer.
	Released string            `json:"released"`
	Events   []json.RawMessage `json:"events"`
	// TmpNote is what the extension found in its TESTEXT_TMP_NOTE file
	// at start.
	TmpNote string `json:"tmp_note"`
}

type telemetryEvent struct {
	Time   string          `json:"time"`
	Type   string          `json:"type"`
	Record json.RawMessage `json:"record"`
}

func (l extLog) records(t *testing.T) []extRecord {
	t.Helper()
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("open extension log: %v", err)
	}
	defer func() { _ = f.Close() }()
	var out []extRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r extRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // a line being written
		}
		out = append(out, r)
	}
	return out
}

func (l extLog) telemetry(t *testing.T) []telemetryEvent {
	t.Helper()
	var out []telemetryEvent
	for _, r := range l.records(t) {
		if r.Kind != "telemetry" {
			continue
		}
		for _, raw := range r.Events {
			var ev telemetryEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("telemetry event %s: %v", raw, err)
			}
			out = append(out, ev)
		}
	}
	return out
}

// report returns the platform.report record for requestID, if delivered.
func (l extLog) report(t *testing.T, requestID string) (map[string]any, string, bool) {
	t.Helper()
	for _, ev := range l.telemetry(t) {
		if ev.Type != "platform.report" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(ev.Record, &rec); err != nil {
			t.Fatalf("report record: %v", err)
		}
		if rec["requestId"] == requestID {
			return rec, ev.Time, true
		}
	}
	return nil, "", false
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type setup struct {
	em  *emulator.Emulator
	ext extLog
	out *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs one function "fn" with the test extension; mutate adjusts the
// configuration.
func start(t *testing.T, mutate func(*emulator.Config)) setup {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "ext.jsonl")
	out := &syncBuffer{}
	cfg := emulator.Config{
		Functions: []emulator.FunctionConfig{{
			Name:       "fn",
			Handler:    functionBin,
			Extensions: []string{extensionBin},
			Timeout:    5 * time.Second,
			Env:        map[string]string{"TESTEXT_OUT": logPath, "CUSTOM_VAR": "custom"},
		}},
		Output: out,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	em, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := em.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := em.Shutdown(ctx); err != nil {
			t.Logf("Shutdown: %v", err)
		}
	})
	return setup{em: em, ext: extLog{path: logPath}, out: out}
}

func invoke(t *testing.T, em *emulator.Emulator, fn string, payload any) *emulator.InvokeResult {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatalf("marshal payload: %v", err)
	}
	res, err := em.Invoke(t.Context(), fn, b)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return res
}

type fnResponse struct {
	Echo       string            `json:"echo"`
	RequestID  string            `json:"request_id"`
	ARN        string            `json:"arn"`
	TraceID    string            `json:"trace_id"`
	DeadlineMs int64             `json:"deadline_ms"`
	Env        map[string]string `json:"env"`
	PID        int               `json:"pid"`
	Tmp        map[string]string `json:"tmp"`
}

func decode(t *testing.T, res *emulator.InvokeResult) fnResponse {
	t.Helper()
	if res.FunctionError != "" {
		t.Fatalf("function error %s: %s", res.FunctionError, res.Payload)
	}
	var r fnResponse
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		t.Fatalf("decode response %s: %v", res.Payload, err)
	}
	return r
}

var runtimeEnvKeys = []string{
	"AWS_LAMBDA_RUNTIME_API", "_HANDLER", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME",
	"AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
	"AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_EXECUTION_ENV", "TZ", "LANG", "PATH",
	"CUSTOM_VAR", "AWS_ENDPOINT_URL_LAMBDA", "LAMBDASCOPE_OTLP_GRPC_ADDR", "LAMBDASCOPE_OTLP_HTTP_ADDR",
	"OTEL_EXPORTER_OTLP_ENDPOINT",
}

func TestColdThenWarm(t *testing.T) {
	s := start(t, nil)
	first := invoke(t, s.em, "fn", map[string]any{"echo": "one", "env": runtimeEnvKeys})
	r1 := decode(t, first)
	// The environment is busy until the invocation ends; then it freezes.
	eventually(t, "environment frozen", func() bool { return processState(r1.PID) == "T" })
	second := invoke(t, s.em, "fn", map[string]any{"echo": "two", "env": runtimeEnvKeys})
	r2 := decode(t, second)

	if !first.ColdStart || second.ColdStart {
		t.Errorf("ColdStart = %v, %v; want true, false", first.ColdStart, second.ColdStart)
	}
	if r1.Echo != "one" || r2.Echo != "two" {
		t.Errorf("echo = %q, %q", r1.Echo, r2.Echo)
	}
	if r1.PID != r2.PID {
		t.Errorf("warm invocation ran in another process: %d then %d", r1.PID, r2.PID)
	}
	if first.RequestID == second.RequestID || r1.RequestID != first.RequestID {
		t.Errorf("request IDs: result %q/%q, runtime saw %q/%q", first.RequestID, second.RequestID, r1.RequestID, r2.RequestID)
	}
	if want := "arn:aws:lambda:us-east-1:123456789012:function:fn"; r1.ARN != want {
		t.Errorf("invoked ARN = %q, want %q", r1.ARN, want)
	}
	if !strings.HasPrefix(r1.TraceID, "Root=1-") || !strings.Contains(r1.TraceID, ";Parent=") || !strings.HasSuffix(r1.TraceID, ";Sampled=1") {
		t.Errorf("trace header = %q", r1.TraceID)
	}
	if first.Duration <= 0 {
		t.Errorf("Duration = %v", first.Duration)
	}

	want := map[string]string{
		"_HANDLER":                        "bootstrap",
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME":        "fn",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/fn",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"TZ":                              ":UTC",
		"CUSTOM_VAR":                      "custom",
		"AWS_ENDPOINT_URL_LAMBDA":         s.em.InvokeURL(),
		"OTEL_EXPORTER_OTLP_ENDPOINT":     "http://" + r1.Env["LAMBDASCOPE_OTLP_HTTP_ADDR"],
	}
	for _, k := range runtimeEnvKeys {
		t.Run(k, func(t *testing.T) {
			v, ok := r1.Env[k]
			if !ok || v == "" {
				t.Fatalf("runtime lacks %s", k)
			}
			if w, ok := want[k]; ok && v != w {
				t.Errorf("%s = %q, want %q", k, v, w)
			}
		})
	}
}

func TestConcurrentInvocationsGetSeparateEnvironments(t *testing.T) {
	s := start(t, nil)
	var wg sync.WaitGroup
	results := make([]*emulator.InvokeResult, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = s.em.Invoke(t.Context(), "fn", []byte(`{"sleep_ms":500}`))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
	}
	a, b := decode(t, results[0]), decode(t, results[1])
	if !results[0].ColdStart || !results[1].ColdStart {
		t.Errorf("ColdStart = %v, %v; want both true", results[0].ColdStart, results[1].ColdStart)
	}
	if a.PID == b.PID {
		t.Errorf("both invocations ran in process %d", a.PID)
	}
}

func TestExtensionEnvironmentAndRegistration(t *testing.T) {
	s := start(t, nil)
	r := decode(t, invoke(t, s.em, "fn", map[string]any{"env": runtimeEnvKeys}))

	var startRec, regRec *extRecord
	for _, rec := range s.ext.records(t) {
		switch rec.Kind {
		case "start":
			startRec = &rec
		case "register":
			regRec = &rec
		}
	}
	if startRec == nil || regRec == nil {
		t.Fatalf("extension did not record start and register")
	}
	env := map[string]string{}
	for _, kv := range startRec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	tests := []struct {
		key     string
		present bool
		value   string
	}{
		{"AWS_LAMBDA_RUNTIME_API", true, r.Env["AWS_LAMBDA_RUNTIME_API"]},
		{"AWS_LAMBDA_FUNCTION_NAME", true, "fn"},
		{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", true, "128"},
		{"AWS_REGION", true, "us-east-1"},
		{"LAMBDASCOPE_OTLP_GRPC_ADDR", true, r.Env["LAMBDASCOPE_OTLP_GRPC_ADDR"]},
		{"LAMBDASCOPE_OTLP_HTTP_ADDR", true, r.Env["LAMBDASCOPE_OTLP_HTTP_ADDR"]},
		{"CUSTOM_VAR", true, "custom"},
		{"_HANDLER", false, ""},
		{"AWS_EXECUTION_ENV", false, ""},
		{"LAMBDA_TASK_ROOT", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			v, ok := env[tc.key]
			if ok != tc.present {
				t.Fatalf("%s present = %v, want %v", tc.key, ok, tc.present)
			}
			if tc.present && v != tc.value {
				t.Errorf("%s = %q, want %q", tc.key, v, tc.value)
			}
		})
	}

	if regRec.Status != http.StatusOK || regRec.ID == "" {
		t.Errorf("register status %d, id %q", regRec.Status, regRec.ID)
	}
	var body map[string]string
	if err := json.Unmarshal(regRec.Body, &body); err != nil {
		t.Fatalf("register body %s: %v", regRec.Body, err)
	}
	wantBody := map[string]string{"functionName": "fn", "functionVersion": "$LATEST", "handler": "bootstrap", "accountId": "123456789012"}
	for k, v := range wantBody {
		if body[k] != v {
			t.Errorf("register response %s = %q, want %q", k, body[k], v)
		}
	}
}

func TestReportWaitsForExtension(t *testing.T) {
	const delay = 800 * time.Millisecond
	s := start(t, func(c *emulator.Config) {
		c.Functions[0].Env["TESTEXT_INVOKE_DELAY_MS"] = fmt.Sprint(delay.Milliseconds())
	})
	res := invoke(t, s.em, "fn", map[string]any{"echo": "x"})
	// The caller got the response while the extension was still busy.
	for _, rec := range s.ext.records(t) {
		if rec.Kind == "next" && rec.After == res.RequestID {
			t.Fatalf("Invoke returned only after the extension was back on next")
		}
	}
	if _, _, ok := s.ext.report(t, res.RequestID); ok {
		t.Fatalf("platform.report arrived before the extension was back on next")
	}
	// Once the invocation is over the environment freezes with the report
	// still held: it is delivered in the next window.
	pid := decode(t, res).PID
	eventually(t, "environment frozen", func() bool { return processState(pid) == "T" })
	if _, _, ok := s.ext.report(t, res.RequestID); ok {
		t.Fatalf("platform.report was delivered before the next window")
	}
	invoke(t, s.em, "fn", map[string]any{})

	var report map[string]any
	var reportTime string
	eventually(t, "platform.report", func() bool {
		var ok bool
		report, reportTime, ok = s.ext.report(t, res.RequestID)
		return ok
	})
	var backOnNext time.Time
	for _, rec := range s.ext.records(t) {
		if rec.Kind == "next" && rec.After == res.RequestID {
			backOnNext = rec.At
		}
	}
	rt, err := time.Parse("2006-01-02T15:04:05.000Z", reportTime)
	if err != nil {
		t.Fatalf("report time %q: %v", reportTime, err)
	}
	if rt.Before(backOnNext.Truncate(time.Millisecond)) {
		t.Errorf("report at %v, before the extension was back on next at %v", rt, backOnNext)
	}
	metrics := report["metrics"].(map[string]any)
	if d := metrics["durationMs"].(float64); d < float64(delay.Milliseconds()) {
		t.Errorf("durationMs = %v, want at least the extension's %v", d, delay)
	}
}

func TestTelemetryShapes(t *testing.T) {
	s := start(t, func(c *emulator.Config) { c.Functions[0].MemoryMB = 256 })
	res := invoke(t, s.em, "fn", map[string]any{"log": "hello from the function"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.em.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	events := s.ext.telemetry(t)
	byType := map[string][]map[string]any{}
	var functionLines, extensionLines []string
	for _, ev := range events {
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", ev.Time); err != nil {
			t.Errorf("event %s time %q: %v", ev.Type, ev.Time, err)
		}
		switch ev.Type {
		case "function", "extension":
			var line string
			if err := json.Unmarshal(ev.Record, &line); err != nil {
				t.Errorf("%s record %s is not a string", ev.Type, ev.Record)
			}
			if ev.Type == "function" {
				functionLines = append(functionLines, line)
			} else {
				extensionLines = append(extensionLines, line)
			}
		default:
			var rec map[string]any
			if err := json.Unmarshal(ev.Record, &rec); err != nil {
				t.Fatalf("%s record %s: %v", ev.Type, ev.Record, err)
			}
			byType[ev.Type] = append(byType[ev.Type], rec)
		}
	}
	if !containsString(functionLines, "hello from the function") {
		t.Errorf("function lines %q lack the logged line", functionLines)
	}
	if !containsString(extensionLines, "test extension ready") {
		t.Errorf("extension lines %q lack the extension's output", extensionLines)
	}

	tests := []struct {
		typ  string
		path string
		want any // nil: present and not empty
	}{
		{"platform.initStart", "initializationType", "on-demand"},
		{"platform.initStart", "phase", "init"},
		{"platform.initStart", "runtimeVersion", nil},
		{"platform.initStart", "functionName", "fn"},
		{"platform.initStart", "functionVersion", "$LATEST"},
		{"platform.initRuntimeDone", "status", "success"},
		{"platform.initRuntimeDone", "phase", "init"},
		{"platform.initReport", "metrics.durationMs", nil},
		{"platform.initReport", "status", "success"},
		{"platform.telemetrySubscription", "name", "test-ext"},
		{"platform.telemetrySubscription", "state", "Subscribed"},
		{"platform.extension", "name", "test-ext"},
		{"platform.extension", "state", "Ready"},
		{"platform.start", "requestId", res.RequestID},
		{"platform.start", "version", "$LATEST"},
		{"platform.start", "tracing.type", "X-Amzn-Trace-Id"},
		{"platform.start", "tracing.value", nil},
		{"platform.runtimeDone", "requestId", res.RequestID},
		{"platform.runtimeDone", "status", "success"},
		{"platform.runtimeDone", "metrics.durationMs", nil},
		{"platform.runtimeDone", "metrics.producedBytes", float64(len(res.Payload))},
		{"platform.runtimeDone", "spans.0.name", "responseLatency"},
		{"platform.runtimeDone", "spans.1.name", "responseDuration"},
		{"platform.runtimeDone", "spans.2.name", "runtimeOverhead"},
		{"platform.report", "requestId", res.RequestID},
		{"platform.report", "status", "success"},
		{"platform.report", "metrics.durationMs", nil},
		{"platform.report", "metrics.billedDurationMs", nil},
		{"platform.report", "metrics.memorySizeMB", float64(256)},
		{"platform.report", "metrics.maxMemoryUsedMB", nil},
		{"platform.report", "metrics.initDurationMs", nil},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.path, func(t *testing.T) {
			recs := byType[tc.typ]
			if len(recs) == 0 {
				t.Fatalf("no %s event", tc.typ)
			}
			got, ok := lookup(recs[0], tc.path)
			if !ok || got == nil || got == "" {
				t.Fatalf("%s has no %s: %v", tc.typ, tc.path, recs[0])
			}
			if tc.want != nil && got != tc.want {
				t.Errorf("%s %s = %v, want %v", tc.typ, tc.path, got, tc.want)
			}
		})
	}

	// Billing: init time is billed on an on-demand cold start.
	m := byType["platform.report"][0]["metrics"].(map[string]any)
	d, initD, billed := m["durationMs"].(float64), m["initDurationMs"].(float64), m["billedDurationMs"].(float64)
	if billed < d+initD || billed >= d+initD+1 {
		t.Errorf("billedDurationMs = %v, want ceil(%v + %v)", billed, d, initD)
	}
	// Order of the lifecycle events.
	order := []string{"platform.initStart", "platform.initRuntimeDone", "platform.initReport", "platform.start", "platform.runtimeDone", "platform.report"}
	pos := map[string]int{}
	for i, ev := range events {
		if _, seen := pos[ev.Type]; !seen {
			pos[ev.Type] = i
		}
	}
	for i := 1; i < len(order); i++ {
		if pos[order[i-1]] > pos[order[i]] {
			t.Errorf("%s came before %s", order[i], order[i-1])
		}
	}
	if out := s.out.String(); !strings.Contains(out, "[fn] hello from the function") || !strings.Contains(out, "REPORT RequestId: "+res.RequestID) {
		t.Errorf("Output lacks the function's line or the REPORT line:\n%s", out)
	}
}

func lookup(v any, path string) (any, bool) {
	for part := range strings.SplitSeq(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return nil, false
			}
		case []any:
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestFunctionError(t *testing.T) {
	s := start(t, nil)
	res := invoke(t, s.em, "fn", map[string]any{"fail": true})
	if res.FunctionError != "Unhandled" {
		t.Fatalf("FunctionError = %q, want Unhandled", res.FunctionError)
	}
	var body struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(res.Payload, &body); err != nil {
		t.Fatalf("error payload %s: %v", res.Payload, err)
	}
	if body.ErrorMessage != "requested failure" || body.ErrorType == "" {
		t.Errorf("error payload = %+v", body)
	}
	// A handled error keeps the environment.
	if again := invoke(t, s.em, "fn", map[string]any{}); again.ColdStart {
		t.Errorf("the invocation after a function error was a cold start")
	}
	// The report is delivered in a later window or at SHUTDOWN.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.em.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	report, _, ok := s.ext.report(t, res.RequestID)
	if !ok {
		t.Fatalf("platform.report of %s never reached the extension", res.RequestID)
	}
	// aws-lambda-go sends no Lambda-Runtime-Function-Error-Type: Lambda
	// reports Runtime.Unknown, whatever the body says.
	if report["status"] != "error" || report["errorType"] != "Runtime.Unknown" {
		t.Errorf("report status %v errorType %v, want error Runtime.Unknown", report["status"], report["errorType"])
	}
}

func TestTimeout(t *testing.T) {
	s := start(t, func(c *emulator.Config) { c.Functions[0].Timeout = time.Second })
	res := invoke(t, s.em, "fn", map[string]any{"sleep_ms": 4000})
	if res.FunctionError != "Unhandled" || !bytes.Contains(res.Payload, []byte("Task timed out after 1.00 seconds")) {
		t.Fatalf("result = %q %s", res.FunctionError, res.Payload)
	}
	var report map[string]any
	eventually(t, "platform.report", func() bool {
		var ok bool
		report, _, ok = s.ext.report(t, res.RequestID)
		return ok
	})
	if report["status"] != "timeout" {
		t.Errorf("report status = %v, want timeout", report["status"])
	}
	eventually(t, "SHUTDOWN with reason timeout", func() bool {
		for _, rec := range s.ext.records(t) {
			if rec.Kind == "event" && bytes.Contains(rec.Event, []byte(`"shutdownReason":"timeout"`)) {
				return true
			}
		}
		return false
	})
	if next := invoke(t, s.em, "fn", map[string]any{}); !next.ColdStart {
		t.Errorf("the invocation after a timeout reused the environment")
	}
}

func TestRuntimeCrash(t *testing.T) {
	s := start(t, nil)
	res := invoke(t, s.em, "fn", map[string]any{"exit": true})
	if res.FunctionError != "Unhandled" || !bytes.Contains(res.Payload, []byte("Runtime.ExitError")) {
		t.Fatalf("result = %q %s", res.FunctionError, res.Payload)
	}
	if next := invoke(t, s.em, "fn", map[string]any{}); !next.ColdStart {
		t.Errorf("the invocation after a crash reused the environment")
	}
}

func TestShutdownDeliversReportAndKillsStuckExtension(t *testing.T) {
	s := start(t, func(c *emulator.Config) { c.Functions[0].Env["TESTEXT_HANG_ON_SHUTDOWN"] = "1" })
	res := invoke(t, s.em, "fn", map[string]any{})
	// Wait until the invocation is over, so the report is pending or sent.
	eventually(t, "extension back on next", func() bool {
		for _, rec := range s.ext.records(t) {
			if rec.Kind == "next" && rec.After == res.RequestID {
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.em.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "did not exit") {
		t.Fatalf("Shutdown error = %v, want the stuck extension reported", err)
	}
	if _, _, ok := s.ext.report(t, res.RequestID); !ok {
		t.Errorf("the last platform.report did not reach the extension")
	}
	var pid int
	hung := false
	for _, rec := range s.ext.records(t) {
		switch rec.Kind {
		case "start":
			pid = rec.PID
		case "hang":
			hung = true
		}
	}
	if !hung {
		t.Errorf("extension never received SHUTDOWN")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("extension process %d still exists (kill 0: %v)", pid, err)
	}
	if _, err := s.em.Invoke(t.Context(), "fn", []byte(`{}`)); !errors.Is(err, emulator.ErrShutdown) {
		t.Errorf("Invoke after Shutdown: %v, want ErrShutdown", err)
	}
}

// TestExtensionRegisteringAtOnceGetsItsShutdown: an extension that
// registers before the emulator has recorded its process (as the
// Lambdascope launcher does on a loaded machine) is still the process
// SHUTDOWN waits for, not one killed at once.
func TestExtensionRegisteringAtOnceGetsItsShutdown(t *testing.T) {
	emulator.SetExtensionStartedHook(func() { time.Sleep(500 * time.Millisecond) })
	t.Cleanup(func() { emulator.SetExtensionStartedHook(nil) })
	s := start(t, func(c *emulator.Config) { c.Functions[0].Env["TESTEXT_HANG_ON_SHUTDOWN"] = "1" })
	invoke(t, s.em, "fn", map[string]any{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The extension hangs on SHUTDOWN: the emulator must wait for it until
	// the deadline and say so.
	if err := s.em.Shutdown(ctx); err == nil || !strings.Contains(err.Error(), "did not exit") {
		t.Fatalf("Shutdown error = %v, want the extension waited for until the deadline", err)
	}
	if strings.Contains(s.out.String(), "matches no extension executable") {
		t.Errorf("the registration was not matched to its process:\n%s", s.out.String())
	}
}

func TestFreezeBetweenInvocations(t *testing.T) {
	s := start(t, nil)
	first := decode(t, invoke(t, s.em, "fn", map[string]any{}))
	eventually(t, "runtime frozen", func() bool { return processState(first.PID) == "T" })
	second := decode(t, invoke(t, s.em, "fn", map[string]any{}))
	if first.PID != second.PID {
		t.Errorf("warm invocation after thaw ran in another process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.em.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown of a frozen environment: %v", err)
	}
	if _, _, ok := s.ext.report(t, second.RequestID); !ok {
		t.Errorf("the report held while frozen did not reach the extension at shutdown")
	}
}

// TestEventNotHeldForTelemetryAnswer holds the extension's answer to the
// push that brings the first invocation's report, delivered when the
// environment wakes for the second, until the extension has the second
// INVOKE: Lambda hands out the event without waiting for a subscriber's
// answer (AWS's Telemetry API code sends batches from a goroutine of
// their own), so the answer must not be what releases the event.
func TestEventNotHeldForTelemetryAnswer(t *testing.T) {
	s := start(t, func(c *emulator.Config) {
		c.Functions[0].Env["TESTEXT_HOLD_REPORTS_UNTIL_INVOKES"] = "2"
	})
	first := decode(t, invoke(t, s.em, "fn", map[string]any{}))
	eventually(t, "runtime frozen", func() bool { return processState(first.PID) == "T" })
	// The report's buffering window (25 ms) runs out while the
	// environment is frozen, so it is due when it wakes.
	time.Sleep(100 * time.Millisecond)
	decode(t, invoke(t, s.em, "fn", map[string]any{}))
	// The environment may freeze again before the extension has recorded
	// the push it answered after the second INVOKE, as Lambda would: a
	// third invocation wakes it. (Were the event held for the answer, the
	// second invocation would not have returned.)
	decode(t, invoke(t, s.em, "fn", map[string]any{}))
	eventually(t, "the first report delivered", func() bool {
		_, _, ok := s.ext.report(t, first.RequestID)
		return ok
	})
	var held []string
	for _, r := range s.ext.records(t) {
		if r.Kind == "telemetry-held" {
			held = append(held, r.Released)
		}
	}
	if len(held) == 0 || held[0] != "invoke" {
		t.Errorf("the push with the first report was answered after %v, want after the second INVOKE reached the extension", held)
	}
}

func processState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

func TestInvokeAPI(t *testing.T) {
	s := start(t, nil)
	tests := []struct {
		name       string
		function   string
		body       string
		wantStatus int
		wantHeader map[string]string
		wantBody   string
	}{
		{"unknown function", "nope", `{}`, http.StatusNotFound,
			map[string]string{"x-amzn-ErrorType": "ResourceNotFoundException"}, "Function not found"},
		{"success", "fn", `{"echo":"via http"}`, http.StatusOK,
			map[string]string{"X-Amz-Executed-Version": "$LATEST", "X-Amz-Function-Error": ""}, `"echo":"via http"`},
		{"qualified name", "fn:$LATEST", `{"echo":"q"}`, http.StatusOK, nil, `"echo":"q"`},
		{"function error", "fn", `{"fail":true}`, http.StatusOK,
			map[string]string{"X-Amz-Function-Error": "Unhandled"}, "requested failure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := s.em.InvokeURL() + "/2015-03-31/functions/" + tc.function + "/invocations"
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body %s lacks %q", body, tc.wantBody)
			}
		})
	}
	if _, err := s.em.Invoke(t.Context(), "nope", nil); !errors.Is(err, emulator.ErrFunctionNotFound) {
		t.Errorf("Invoke(nope) = %v, want ErrFunctionNotFound", err)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestConfigValidate(t *testing.T) {
	valid := emulator.FunctionConfig{Name: "ok", Handler: "/bin/true"}
	tests := []struct {
		name    string
		cfg     emulator.Config
		wantErr string
	}{
		{"valid", emulator.Config{Functions: []emulator.FunctionConfig{valid}}, ""},
		{"no functions", emulator.Config{}, "functions must not be empty"},
		{"bad name", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a b", Handler: "x"}}}, "functions[0].name"},
		{"no handler", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a"}}}, "functions[0].handler"},
		{"memory", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Handler: "x", MemoryMB: 64}}}, "functions[0].memory_mb"},
		{"timeout", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Handler: "x", Timeout: time.Hour}}}, "functions[0].timeout"},
		{"arch", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Handler: "x", Architecture: "mips"}}}, "functions[0].architecture"},
		{"duplicate", emulator.Config{Functions: []emulator.FunctionConfig{valid, valid}}, "functions[1].name"},
		{"account", emulator.Config{AccountID: "12", Functions: []emulator.FunctionConfig{valid}}, "account_id"},
		{"concurrency on demand", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Handler: "x", MaxConcurrency: 4}}}, "functions[0].max_concurrency above 1 needs managed_instances"},
		{"concurrency range", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Handler: "x", ManagedInstances: true, MaxConcurrency: 65}}}, "functions[0].max_concurrency must be between 1 and 64"},
		{"concurrency negative", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Handler: "x", ManagedInstances: true, MaxConcurrency: -1}}}, "functions[0].max_concurrency must be between 1 and 64"},
		{"concurrency managed", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Handler: "x", ManagedInstances: true, MaxConcurrency: 16}}}, ""},
		{"managed runtime", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Runtime: "nodejs22.x", Handler: "index.handler", CodeDir: "/code"}}}, ""},
		{"unknown runtime", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Runtime: "cobol1.x", Handler: "index.handler", CodeDir: "/code"}}}, "functions[0].runtime"},
		{"managed handler", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Runtime: "nodejs22.x", Handler: "/var/task/bootstrap", CodeDir: "/code"}}}, "functions[0].handler"},
		{"managed code", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Runtime: "nodejs22.x", Handler: "index.handler"}}}, "functions[0].code_dir"},
		{"queue consumer", emulator.Config{Functions: []emulator.FunctionConfig{valid}, Queues: []emulator.QueueConfig{{Name: "q", Consumer: "nope"}}}, "queues[0].consumer"},
		{"queue batch", emulator.Config{Functions: []emulator.FunctionConfig{valid}, Queues: []emulator.QueueConfig{{Name: "q", BatchSize: 20000}}}, "queues[0].batch_size"},
		{"queue window", emulator.Config{Functions: []emulator.FunctionConfig{valid}, Queues: []emulator.QueueConfig{{Name: "q", BatchWindow: time.Hour}}}, "queues[0].batch_window"},
		{"queue", emulator.Config{Functions: []emulator.FunctionConfig{valid}, Queues: []emulator.QueueConfig{{Name: "q", Consumer: "ok", BatchWindow: time.Second}}}, ""},
		{"extension names", emulator.Config{Functions: []emulator.FunctionConfig{{Name: "a", Handler: "x", Extensions: []string{"/a/e", "/b/e"}}}}, "functions[0].extensions[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := emulator.New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestShutdownBeforeStart(t *testing.T) {
	em, err := emulator.New(emulator.Config{Functions: []emulator.FunctionConfig{{Name: "fn", Handler: functionBin}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := em.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	}
	if _, err := em.Invoke(t.Context(), "fn", nil); !errors.Is(err, emulator.ErrNotStarted) && !errors.Is(err, emulator.ErrShutdown) {
		t.Errorf("Invoke after Shutdown = %v", err)
	}
}
