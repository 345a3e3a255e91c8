package invocation

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"

	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sink struct {
	mu          sync.Mutex
	invocations []*ingestv1.Invocation
	logs        []*logspb.LogRecord
}

func (s *sink) AddInvocation(inv *ingestv1.Invocation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invocations = append(s.invocations, inv)
	return true
}

func (s *sink) AddLogs(rls []*logspb.ResourceLogs) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rl := range rls {
		for _, sl := range rl.GetScopeLogs() {
			s.logs = append(s.logs, sl.GetLogRecords()...)
		}
	}
	return 0
}

func loadEvents(t *testing.T, name string) []telemetry.Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "telemetry", "testdata", name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	evs, err := telemetry.Parse(data)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return evs
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func attr(rec *logspb.LogRecord, key string) *commonpb.AnyValue {
	for _, kv := range rec.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

func TestDocumentedInvocation(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.HandleTelemetry(loadEvents(t, "documented.json"))

	if len(s.invocations) != 1 {
		t.Fatalf("%d invocations, want 1", len(s.invocations))
	}
	inv := s.invocations[0]
	want := &ingestv1.Invocation{
		RequestId:          "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa",
		StartTimeUnixNano:  uint64(time.Date(2022, 10, 12, 0, 0, 15, 64e6, time.UTC).UnixNano()),
		DurationMs:         693.92,
		BilledDurationMs:   694,
		MemorySizeMb:       128,
		MaxMemoryUsedMb:    84,
		ColdStart:          true,
		InitDurationMs:     397.68,
		Status:             "success",
		TraceId:            mustHex(t, "62e900b2710d76f009d6e7785905449a"),
		SpanId:             mustHex(t, "54565fb41ac79632"),
		XrayTraceHeader:    "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1",
		ResponseLatencyMs:  23.02,
		ResponseDurationMs: 1.5,
		ProducedBytes:      16,
		// The documented runtimeDone's durationMs.
		RuntimeDurationMs: 140,
	}
	if inv.String() != want.String() {
		t.Errorf("invocation:\n got %v\nwant %v", inv, want)
	}

	bySource := map[string]int{}
	for _, rec := range s.logs {
		bySource[attr(rec, AttrLogType).GetStringValue()]++
	}
	if bySource["function"] != 2 || bySource["extension"] != 1 || bySource["platform"] != 2 {
		t.Errorf("log records by source = %v", bySource)
	}
	var jsonLine *logspb.LogRecord
	for _, rec := range s.logs {
		if rec.GetBody().GetStringValue() == "payment failed" {
			jsonLine = rec
		}
	}
	if jsonLine == nil {
		t.Fatal("JSON log line not converted")
	}
	if jsonLine.SeverityNumber != logspb.SeverityNumber_SEVERITY_NUMBER_ERROR ||
		attr(jsonLine, AttrInvocationID).GetStringValue() != "79b4f56e-95b1-4643-9700-2807f4e68189" ||
		attr(jsonLine, "orderId").GetIntValue() != 42 ||
		jsonLine.TimeUnixNano != uint64(time.Date(2024, 5, 1, 10, 0, 0, 120e6, time.UTC).UnixNano()) {
		t.Errorf("JSON log record = %v", jsonLine)
	}
	if st := tr.Stats(); st.Invocations != 1 || st.LogsDropped != 123 || st.UnknownTypes != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestTraceFromFunctionSpans(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	traceID := mustHex(t, "0af7651916cd43dd8448eb211c80319c")
	serverSpan := mustHex(t, "b7ad6b7169203331")
	tr.ObserveInvoke("req-9", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	inv := func(kind tracepb.Span_SpanKind, span []byte) *tracepb.Span {
		return &tracepb.Span{TraceId: traceID, SpanId: span, Kind: kind, Attributes: []*commonpb.KeyValue{
			{Key: AttrInvocationID, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "req-9"}}}}}
	}
	tr.ObserveSpans([]*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
		inv(tracepb.Span_SPAN_KIND_INTERNAL, mustHex(t, "1111111111111111")),
		inv(tracepb.Span_SPAN_KIND_SERVER, serverSpan),
	}}}}})
	tr.HandleTelemetry([]telemetry.Event{
		{Type: telemetry.TypeFunction, Kind: telemetry.KindLog, Log: &telemetry.LogRecord{Text: "2024-05-01T10:00:00.000Z\treq-9\tINFO\thello"}},
		{Type: telemetry.TypeReport, Kind: telemetry.KindPlatform, Platform: &telemetry.PlatformRecord{RequestID: "req-9", Status: "error", ErrorType: "Runtime.ExitError"}},
	})
	if len(s.invocations) != 1 {
		t.Fatalf("%d invocations", len(s.invocations))
	}
	got := s.invocations[0]
	if string(got.TraceId) != string(traceID) || string(got.SpanId) != string(serverSpan) {
		t.Errorf("trace %x span %x, want the function's server span", got.TraceId, got.SpanId)
	}
	if got.Status != "error" || got.ErrorType != "Runtime.ExitError" || got.XrayTraceHeader == "" {
		t.Errorf("invocation = %v", got)
	}
	if len(s.logs) != 1 || string(s.logs[0].TraceId) != string(traceID) || attr(s.logs[0], AttrInvocationID).GetStringValue() != "req-9" ||
		s.logs[0].SeverityNumber != logspb.SeverityNumber_SEVERITY_NUMBER_INFO {
		t.Errorf("log record = %v", s.logs)
	}
}

func TestWaiting(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.ObserveInvoke("a1", "")
	tr.ObserveInvoke("a2", "")

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if tr.WaitRuntimeDone(ctx, "a2", 0) {
		t.Fatal("runtimeDone reported before it arrived")
	}
	done := make(chan bool)
	go func() { done <- tr.WaitRuntimeDone(t.Context(), "a2", 0) }()
	tr.HandleTelemetry(loadEvents(t, "error-timeout.json"))
	if !<-done {
		t.Fatal("WaitRuntimeDone did not see runtimeDone")
	}
	ctx2, cancel2 := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel2()
	if missing := tr.WaitReports(ctx2); len(missing) != 1 || missing[0] != "a2" {
		t.Errorf("missing reports = %v, want [a2]", missing)
	}
	if len(s.invocations) != 1 || s.invocations[0].Status != "timeout" || !s.invocations[0].ColdStart || s.invocations[0].BilledDurationMs != 3000 {
		t.Fatalf("invocations = %v", s.invocations)
	}
	tr.HandleTelemetry([]telemetry.Event{{Type: telemetry.TypeReport, Kind: telemetry.KindPlatform,
		Platform: &telemetry.PlatformRecord{RequestID: "a2", Metrics: telemetry.Metrics{DurationMs: 100}}}})
	if missing := tr.WaitReports(t.Context()); missing != nil {
		t.Errorf("still missing %v", missing)
	}
	second := s.invocations[1]
	if second.ColdStart || second.Status != "error" || second.ErrorType != "Runtime.UnhandledPromiseRejection" {
		t.Errorf("second invocation = %v", second)
	}
}

func TestXRayIDs(t *testing.T) {
	tests := []struct {
		in         string
		wantTrace  string
		wantParent string
	}{
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"},
		{"1-5759e988-bd862e3fe1be46a994272793", "5759e988bd862e3fe1be46a994272793", ""},
		{"Sampled=0;root=1-62e900b2-710d76f009d6e7785905449a", "62e900b2710d76f009d6e7785905449a", ""},
		{"Root=2-5759e988-bd862e3fe1be46a994272793", "", ""},
		{"Root=1-5759e988-bd862e3fe1be46a99427279", "", ""},
		{"Root=1-00000000-000000000000000000000000;Parent=zz", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := hex.EncodeToString(XRayTraceID(tt.in)); got != tt.wantTrace {
				t.Errorf("trace = %q, want %q", got, tt.wantTrace)
			}
			if got := hex.EncodeToString(XRayParentID(tt.in)); got != tt.wantParent {
				t.Errorf("parent = %q, want %q", got, tt.wantParent)
			}
		})
	}
}

func TestTextLogSeverityAndRequest(t *testing.T) {
	tests := []struct {
		line      string
		wantSev   logspb.SeverityNumber
		wantReqID string
	}{
		{"2024-05-01T10:00:00.000Z\t79b4f56e-95b1-4643-9700-2807f4e68189\tWARN\tslow downstream", logspb.SeverityNumber_SEVERITY_NUMBER_WARN, "79b4f56e-95b1-4643-9700-2807f4e68189"},
		{"[ERROR]\t2024-05-01T10:00:00.000Z\t79b4f56e-95b1-4643-9700-2807f4e68189\tboom", logspb.SeverityNumber_SEVERITY_NUMBER_ERROR, "79b4f56e-95b1-4643-9700-2807f4e68189"},
		{"[INFO] Hello world, I am a function!", logspb.SeverityNumber_SEVERITY_NUMBER_INFO, "active"},
		{"plain line from fmt.Println", logspb.SeverityNumber_SEVERITY_NUMBER_UNSPECIFIED, "active"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			rec, id := textLog(tt.line, "active")
			if rec.SeverityNumber != tt.wantSev || id != tt.wantReqID || rec.GetBody().GetStringValue() != tt.line {
				t.Errorf("severity %v request %q body %q", rec.SeverityNumber, id, rec.GetBody().GetStringValue())
			}
		})
	}
}

// TestLateLogLineKeepsItsInvocation: a line of invocation 1 that reaches
// the extension after the INVOKE of invocation 2 (Lambda delivers
// telemetry late) belongs to invocation 1, which the telemetry stream's
// platform.start made active.
func TestLateLogLineKeepsItsInvocation(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.ObserveInvoke("req-1", "")
	tr.HandleTelemetry([]telemetry.Event{
		{Type: telemetry.TypeStart, Kind: telemetry.KindPlatform, Platform: &telemetry.PlatformRecord{RequestID: "req-1"}},
	})
	tr.ObserveInvoke("req-2", "")
	tr.HandleTelemetry([]telemetry.Event{
		{Type: telemetry.TypeFunction, Kind: telemetry.KindLog, Log: &telemetry.LogRecord{Text: "late line of the first invocation"}},
		{Type: telemetry.TypeRuntimeDone, Kind: telemetry.KindPlatform, Platform: &telemetry.PlatformRecord{RequestID: "req-1", Status: "success"}},
		{Type: telemetry.TypeStart, Kind: telemetry.KindPlatform, Platform: &telemetry.PlatformRecord{RequestID: "req-2"}},
		{Type: telemetry.TypeFunction, Kind: telemetry.KindLog, Log: &telemetry.LogRecord{Text: "line of the second invocation"}},
	})
	if len(s.logs) != 2 {
		t.Fatalf("%d log records, want 2", len(s.logs))
	}
	for i, want := range []string{"req-1", "req-2"} {
		if got := attr(s.logs[i], AttrInvocationID).GetStringValue(); got != want {
			t.Errorf("line %d (%q) attributed to %q, want %q", i, s.logs[i].GetBody().GetStringValue(), got, want)
		}
	}
}

// TestLogBodyLosesOneLineEnd: Lambda leaves the line's end on a
// text-format line; the body loses exactly one ("\n" or "\r\n").
func TestLogBodyLosesOneLineEnd(t *testing.T) {
	tests := []struct{ text, want string }{
		{"charging card\n", "charging card"},
		{"charging card\r\n", "charging card"},
		{"two ends\n\n", "two ends\n"},
		{"crlf twice\r\n\r\n", "crlf twice\r\n"},
		{"no end", "no end"},
		{"carriage return only\r", "carriage return only\r"},
		{"\n", ""},
		{"2024-05-01T10:00:00.000Z\treq-1\tINFO\tmulti\nline\n", "2024-05-01T10:00:00.000Z\treq-1\tINFO\tmulti\nline"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			s := &sink{}
			New(s, nil, nil).HandleTelemetry([]telemetry.Event{
				{Type: telemetry.TypeFunction, Kind: telemetry.KindLog, Log: &telemetry.LogRecord{Text: tt.text}},
			})
			if len(s.logs) != 1 || s.logs[0].GetBody().GetStringValue() != tt.want {
				t.Fatalf("body of %q = %v, want %q", tt.text, s.logs, tt.want)
			}
		})
	}
}

// TestWaitRuntimeDoneQuietStream: without runtimeDone the wait ends once
// the telemetry stream has been quiet for the given time, counted from
// its last platform or function event; the extension's own log lines do
// not keep it alive.
func TestWaitRuntimeDoneQuietStream(t *testing.T) {
	line := func(typ string) []telemetry.Event {
		return []telemetry.Event{{Type: typ, Kind: telemetry.KindLog, Log: &telemetry.LogRecord{Text: "working"}}}
	}
	// pushEvery pushes typ every 10 ms until stop is closed, and returns
	// when the last push was handled.
	pushEvery := func(tr *Tracker, typ string, n int, stop <-chan struct{}) <-chan time.Time {
		last := make(chan time.Time, 1)
		go func() {
			var at time.Time
			defer func() { last <- at }()
			for i := 0; i < n; i++ {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				tr.HandleTelemetry(line(typ))
				at = time.Now()
			}
		}()
		return last
	}

	t.Run("runtimeDone ends it", func(t *testing.T) {
		tr := New(&sink{}, nil, nil)
		tr.ObserveInvoke("r1", "")
		go tr.HandleTelemetry([]telemetry.Event{{Type: telemetry.TypeRuntimeDone, Kind: telemetry.KindPlatform,
			Platform: &telemetry.PlatformRecord{RequestID: "r1", Status: "success"}}})
		if !tr.WaitRuntimeDone(t.Context(), "r1", time.Minute) {
			t.Error("runtimeDone not seen")
		}
	})
	t.Run("function lines keep it alive", func(t *testing.T) {
		tr := New(&sink{}, nil, nil)
		tr.ObserveInvoke("r1", "")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		const quiet = 150 * time.Millisecond
		last := pushEvery(tr, telemetry.TypeFunction, 10, nil)
		if tr.WaitRuntimeDone(ctx, "r1", quiet) || ctx.Err() != nil {
			t.Fatalf("wait ended with runtimeDone seen or by its context (%v), want by the quiet stream", ctx.Err())
		}
		ended := time.Now()
		if lastPush := <-last; ended.Before(lastPush.Add(quiet)) {
			t.Errorf("wait ended %v after the last function line, want at least %v", ended.Sub(lastPush), quiet)
		}
	})
	t.Run("extension lines do not", func(t *testing.T) {
		tr := New(&sink{}, nil, nil)
		tr.ObserveInvoke("r1", "")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		stop := make(chan struct{})
		last := pushEvery(tr, telemetry.TypeExtensionLog, 1000, stop)
		ended := tr.WaitRuntimeDone(ctx, "r1", 50*time.Millisecond)
		close(stop)
		<-last
		if ended || ctx.Err() != nil {
			t.Errorf("wait ended with runtimeDone seen %v or by its context (%v), want by the quiet stream", ended, ctx.Err())
		}
	})
}

// TestConcurrentLinesAttributedOnlyWhenKnown: on Managed Instances three
// invocations run at once. A line is attributed to an invocation when it
// names it (text fields, a JSON requestId) or when that invocation is the
// only one in flight; otherwise it is shipped without a request ID and
// counted, never given to the invocation that started last.
func TestConcurrentLinesAttributedOnlyWhenKnown(t *testing.T) {
	const a, b, c = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002", "cccccccc-0000-4000-8000-000000000003"
	platform := func(typ, id string) telemetry.Event {
		return telemetry.Event{Type: typ, Kind: telemetry.KindPlatform, Platform: &telemetry.PlatformRecord{RequestID: id, Status: "success"}}
	}
	text := func(line string) telemetry.Event {
		return telemetry.Event{Type: telemetry.TypeFunction, Kind: telemetry.KindLog, Log: &telemetry.LogRecord{Text: line}}
	}
	jsonLine := func(id, msg string) telemetry.Event {
		return telemetry.Event{Type: telemetry.TypeFunction, Kind: telemetry.KindLog,
			Log: &telemetry.LogRecord{Fields: map[string]any{"level": "INFO", "requestId": id, "message": msg}}}
	}
	s := &sink{}
	tr := New(s, nil, nil)
	tr.HandleTelemetry([]telemetry.Event{
		text("init line\n"), // no invocation yet
		platform(telemetry.TypeStart, a),
		text("only a runs\n"),
		platform(telemetry.TypeStart, b),
		platform(telemetry.TypeStart, c),
		text("2025-03-01T10:00:00.000Z\t" + a + "\tINFO\tnamed a\n"),
		jsonLine(b, "named b"),
		text("bare line, three in flight\n"),
		jsonLine(c, "named c"),
		text("[INFO] another bare line\n"),
		platform(telemetry.TypeRuntimeDone, a),
		text("bare line, two in flight\n"),
		platform(telemetry.TypeRuntimeDone, b),
		text("bare line, only c left\n"),
		platform(telemetry.TypeReport, a),
		platform(telemetry.TypeReport, b),
		platform(telemetry.TypeRuntimeDone, c),
		platform(telemetry.TypeReport, c),
		text("after everything\n"),
	})
	want := map[string]string{
		"init line":                  "",
		"only a runs":                a,
		"named a":                    a,
		"named b":                    b,
		"bare line, three in flight": "",
		"named c":                    c,
		"another bare line":          "",
		"bare line, two in flight":   "",
		"bare line, only c left":     c,
		"after everything":           "",
	}
	if len(s.logs) != len(want) {
		t.Fatalf("%d log records, want %d", len(s.logs), len(want))
	}
	for _, rec := range s.logs {
		body := rec.GetBody().GetStringValue()
		key := body
		for k := range want {
			if strings.HasSuffix(body, k) {
				key = k
			}
		}
		w, ok := want[key]
		if !ok {
			t.Errorf("unexpected line %q", body)
			continue
		}
		if got := attr(rec, AttrInvocationID).GetStringValue(); got != w {
			t.Errorf("line %q attributed to %q, want %q", body, got, w)
		}
	}
	if got := tr.Stats().LogsUnattributed; got != 3 {
		t.Errorf("%d lines counted as unattributed, want 3", got)
	}
}

// TestManagedInstancesLinesOnlyWhereNamed: on Managed Instances the
// Telemetry API may hand a line over after its invocation is done and
// another has started, so a line goes to an invocation only when it names
// it (JSON record, text fields, or a text line that is a JSON object);
// being the only one in flight is no sign.
func TestManagedInstancesLinesOnlyWhereNamed(t *testing.T) {
	const a, b, c, d = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002",
		"cccccccc-0000-4000-8000-000000000003", "dddddddd-0000-4000-8000-000000000004"
	platform := func(typ, id string) telemetry.Event {
		return telemetry.Event{Type: typ, Kind: telemetry.KindPlatform, Platform: &telemetry.PlatformRecord{RequestID: id, Status: "success"}}
	}
	text := func(line string) telemetry.Event {
		return telemetry.Event{Type: telemetry.TypeFunction, Kind: telemetry.KindLog, Log: &telemetry.LogRecord{Text: line}}
	}
	s := &sink{}
	tr := New(s, nil, nil)
	tr.SetManagedInstances()
	tr.HandleTelemetry([]telemetry.Event{
		text("init line\n"), // no invocation yet: nothing to attribute
		platform(telemetry.TypeStart, a),
		platform(telemetry.TypeStart, b),
		platform(telemetry.TypeStart, c),
		platform(telemetry.TypeRuntimeDone, a),
		platform(telemetry.TypeRuntimeDone, b),
		text("late line of a, only c in flight\n"),
		text(`{"timestamp":"2025-03-01T10:00:00.000Z","level":"INFO","requestId":"` + b + `","message":"json text of b"}` + "\n"),
		{Type: telemetry.TypeFunction, Kind: telemetry.KindLog,
			Log: &telemetry.LogRecord{Fields: map[string]any{"level": "INFO", "requestId": c, "message": "json record of c"}}},
		platform(telemetry.TypeRuntimeDone, c),
		platform(telemetry.TypeStart, d),
		text("late line of c, only d in flight\n"),
		text("2025-03-01T10:00:00.000Z\t" + c + "\tINFO\tnamed c\n"),
		text(`{"requestId":42,"aws_request_id":"` + d + `","msg":"snake id of d"}`),
		text("{not json, no id}\n"),
	})
	want := map[string]string{
		"init line":                        "",
		"late line of a, only c in flight": "",
		"json text of b":                   b,
		"json record of c":                 c,
		"late line of c, only d in flight": "",
		"named c":                          c,
		"snake id of d":                    d,
		"{not json, no id}":                "",
	}
	if len(s.logs) != len(want) {
		t.Fatalf("%d log records, want %d", len(s.logs), len(want))
	}
	for _, rec := range s.logs {
		body := rec.GetBody().GetStringValue()
		key := ""
		for k := range want {
			if strings.Contains(body, k) {
				key = k
			}
		}
		if key == "" {
			t.Errorf("unexpected line %q", body)
			continue
		}
		if got := attr(rec, AttrInvocationID).GetStringValue(); got != want[key] {
			t.Errorf("line %q attributed to %q, want %q", body, got, want[key])
		}
	}
	if got := tr.Stats().LogsUnattributed; got != 3 {
		t.Errorf("%d lines counted as unattributed, want 3", got)
	}
	if got := tr.Active(); got != "" {
		t.Errorf("Active() = %q with d alone in flight on Managed Instances, want none", got)
	}
}

// TestDeferredReport: a record held by DeferReport is built at
// ReleaseReport in the trace the function's span named in between, and
// at FinishIncomplete when never released; a record built already cannot
// be held.
func TestDeferredReport(t *testing.T) {
	traceID := mustHex(t, "0af7651916cd43dd8448eb211c80319c")
	serverSpan := mustHex(t, "b7ad6b7169203331")
	report := func(id string) []telemetry.Event {
		return []telemetry.Event{{Type: telemetry.TypeReport, Kind: telemetry.KindPlatform,
			Platform: &telemetry.PlatformRecord{RequestID: id, Status: "success"}}}
	}
	s := &sink{}
	tr := New(s, nil, nil)
	tr.ObserveInvocationSpans([]otlpwire.InvocationSpan{{InvocationID: "r1", TraceID: mustHex(t, "11111111111111111111111111111111"),
		SpanID: mustHex(t, "2222222222222222")}})
	if !tr.DeferReport("r1") {
		t.Fatal("DeferReport refused an invocation not reported yet")
	}
	tr.HandleTelemetry(report("r1"))
	if len(s.invocations) != 0 {
		t.Fatalf("record built while deferred: %v", s.invocations)
	}
	tr.ObserveInvocationSpans([]otlpwire.InvocationSpan{{InvocationID: "r1", TraceID: traceID, SpanID: serverSpan, Server: true}})
	tr.ReleaseReport("r1")
	if len(s.invocations) != 1 || string(s.invocations[0].TraceId) != string(traceID) || string(s.invocations[0].SpanId) != string(serverSpan) {
		t.Fatalf("after release: %v, want one record in the function's trace", s.invocations)
	}
	if tr.DeferReport("r1") {
		t.Error("DeferReport held a record built already")
	}

	if !tr.DeferReport("r2") {
		t.Fatal("DeferReport refused r2")
	}
	tr.HandleTelemetry(report("r2"))
	if n := tr.FinishIncomplete(); n != 1 || len(s.invocations) != 2 || s.invocations[1].RequestId != "r2" {
		t.Errorf("FinishIncomplete wrote %d, records %v; want r2's", n, s.invocations)
	}
}

// TestDeferredLinesTakeTheFinalTrace: the log lines of an invocation
// whose record waits (DeferReport) go out at ReleaseReport, in the trace
// the function's span named in between, not the one known when they
// came; a line with a trace of its own and the lines of other invocations
// go out at once.
func TestDeferredLinesTakeTheFinalTrace(t *testing.T) {
	first, final := mustHex(t, "11111111111111111111111111111111"), mustHex(t, "0af7651916cd43dd8448eb211c80319c")
	line := func(id, msg string) []telemetry.Event {
		evs, err := telemetry.Parse([]byte(`[{"time":"2024-05-01T10:00:00.210Z","type":"function","record":{"timestamp":"2024-05-01T10:00:00.210Z","level":"INFO","requestId":"` + id + `","message":"` + msg + `"}}]`))
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	s := &sink{}
	tr := New(s, nil, nil)
	tr.SetManagedInstances()
	for _, id := range []string{"r1", "r2"} {
		tr.ObserveInvocationSpans([]otlpwire.InvocationSpan{{InvocationID: id, TraceID: first, SpanID: mustHex(t, "2222222222222222")}})
	}
	if !tr.DeferReport("r1") {
		t.Fatal("DeferReport refused r1")
	}
	tr.HandleTelemetry(line("r1", "charging card"))
	tr.HandleTelemetry(line("r2", "not waiting"))
	if len(s.logs) != 1 || !bytes.Equal(s.logs[0].GetTraceId(), first) {
		t.Fatalf("lines shipped while r1 waits: %v; want r2's alone, in its trace", s.logs)
	}
	tr.ObserveInvocationSpans([]otlpwire.InvocationSpan{{InvocationID: "r1", TraceID: final, SpanID: mustHex(t, "b7ad6b7169203331"), Server: true}})
	tr.ReleaseReport("r1")
	if len(s.logs) != 2 || !bytes.Equal(s.logs[1].GetTraceId(), final) {
		t.Fatalf("after release: %v; want r1's line in the function's trace", s.logs)
	}
	// At shutdown the lines still waiting go out.
	if !tr.DeferReport("r3") {
		t.Fatal("DeferReport refused r3")
	}
	tr.HandleTelemetry(line("r3", "late"))
	tr.FinishIncomplete()
	if len(s.logs) != 3 {
		t.Errorf("%d lines after FinishIncomplete, want 3", len(s.logs))
	}
}
