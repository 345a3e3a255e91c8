package invocation

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func parseEvents(t *testing.T, body string) []telemetry.Event {
	t.Helper()
	evs, err := telemetry.Parse([]byte(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return evs
}

// A figure platform.report leaves out is sent as unknown, not as 0.
func TestReportFiguresLeftOutAreUnknown(t *testing.T) {
	const (
		billed = uint32(ingestv1.Figure_FIGURE_BILLED_DURATION)
		memory = uint32(ingestv1.Figure_FIGURE_MEMORY_SIZE)
		used   = uint32(ingestv1.Figure_FIGURE_MAX_MEMORY_USED)
		dur    = uint32(ingestv1.Figure_FIGURE_DURATION)
	)
	tests := []struct {
		name        string
		runtimeDone string
		metrics     string
		wantUnknown uint32
		wantMs      float64
	}{
		{"every figure", ``, `{"durationMs": 12.5, "billedDurationMs": 13, "memorySizeMB": 256, "maxMemoryUsedMB": 0}`, 0, 12.5},
		{"duration only (Managed Instances)", ``, `{"durationMs": 12.5}`, billed | memory | used, 12.5},
		{"figures given as null", ``, `{"durationMs": 12.5, "billedDurationMs": null, "maxMemoryUsedMB": null, "memorySizeMB": 256}`, billed | used, 12.5},
		{"no metrics", ``, `{}`, dur | billed | memory | used, 0},
		{"duration from runtimeDone", `{"durationMs": 9.5}`, `{}`, billed | memory | used, 9.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{}
			tr := New(s, nil, nil)
			body := `[{"time": "2025-03-01T10:00:02.000Z", "type": "platform.start", "record": {"requestId": "r1"}},`
			if tt.runtimeDone != "" {
				body += `{"time": "2025-03-01T10:00:02.010Z", "type": "platform.runtimeDone", "record": {"requestId": "r1", "status": "success", "metrics": ` + tt.runtimeDone + `}},`
			}
			body += `{"time": "2025-03-01T10:00:02.020Z", "type": "platform.report", "record": {"requestId": "r1", "status": "success", "metrics": ` + tt.metrics + `}}]`
			tr.HandleTelemetry(parseEvents(t, body))
			if len(s.invocations) != 1 {
				t.Fatalf("got %d invocations, want 1", len(s.invocations))
			}
			inv := s.invocations[0]
			if inv.GetUnknownFigures() != tt.wantUnknown {
				t.Errorf("unknown figures = %04b, want %04b", inv.GetUnknownFigures(), tt.wantUnknown)
			}
			if inv.GetDurationMs() != tt.wantMs {
				t.Errorf("duration = %v, want %v", inv.GetDurationMs(), tt.wantMs)
			}
		})
	}
}

// An invocation whose runtime finished but whose report never came gets a
// record at shutdown, marked incomplete; one that never finished does not.
func TestFinishIncomplete(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.HandleTelemetry(loadEvents(t, "error-timeout.json"))
	tr.HandleTelemetry(parseEvents(t, `[{"time": "2024-05-01T10:00:05.000Z", "type": "platform.start", "record": {"requestId": "a3"}}]`))
	if len(s.invocations) != 1 {
		t.Fatalf("before shutdown: %d records, want 1", len(s.invocations))
	}
	if n := tr.FinishIncomplete(); n != 1 {
		t.Fatalf("FinishIncomplete wrote %d records, want 1", n)
	}
	if len(s.invocations) != 2 {
		t.Fatalf("after shutdown: %d records, want 2", len(s.invocations))
	}
	inv := s.invocations[1]
	const unknown = uint32(ingestv1.Figure_FIGURE_BILLED_DURATION | ingestv1.Figure_FIGURE_MEMORY_SIZE | ingestv1.Figure_FIGURE_MAX_MEMORY_USED)
	if inv.GetRequestId() != "a2" || !inv.GetIncomplete() || inv.GetStatus() != "error" || inv.GetErrorType() != "Runtime.UnhandledPromiseRejection" ||
		inv.GetDurationMs() != 100 || inv.GetUnknownFigures() != unknown || inv.GetColdStart() {
		t.Errorf("incomplete record = %v", inv)
	}
	// platform.start at 10:00:04.000.
	if want := uint64(1714557604000000000); inv.GetStartTimeUnixNano() != want {
		t.Errorf("start = %d, want %d", inv.GetStartTimeUnixNano(), want)
	}
	if s.invocations[0].GetIncomplete() {
		t.Errorf("the reported invocation is marked incomplete")
	}
	if n := tr.FinishIncomplete(); n != 0 || tr.Stats().Incomplete != 1 {
		t.Errorf("second FinishIncomplete wrote %d, stats %+v; want 0 and Incomplete 1", n, tr.Stats())
	}
}

// After a SnapStart restore the first invocation is the cold start, with
// the restore's duration; the init of snapshot time is not counted.
func TestSnapStartRestoreIsTheColdStart(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.HandleTelemetry(loadEvents(t, "snapstart-restore.json"))
	if len(s.invocations) != 2 {
		t.Fatalf("%d records, want 2", len(s.invocations))
	}
	first, warm := s.invocations[0], s.invocations[1]
	if !first.GetColdStart() || first.GetRestoreDurationMs() != 15.19 || first.GetInitDurationMs() != 0 {
		t.Errorf("first after restore: cold %v, restore %v ms, init %v ms; want cold, 15.19, 0 (the init was at snapshot time)",
			first.GetColdStart(), first.GetRestoreDurationMs(), first.GetInitDurationMs())
	}
	if warm.GetColdStart() || warm.GetRestoreDurationMs() != 0 {
		t.Errorf("second: cold %v, restore %v; want warm", warm.GetColdStart(), warm.GetRestoreDurationMs())
	}
	// Init events of snapshot time arriving after the restore are left out.
	tr.HandleTelemetry(parseEvents(t, `[{"time": "2022-10-11T08:00:02.500Z", "type": "platform.initReport", "record": {"phase": "init", "metrics": {"durationMs": 2500}}}]`))
	if st := tr.Stats(); st.StaleInitEvents != 1 {
		t.Errorf("stale init events = %d, want 1", st.StaleInitEvents)
	}
}

// AWS's documented Managed Instances payload: no runtimeDone, a report
// with the duration and the response spans only.
func TestManagedInstancesReport(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.HandleTelemetry(loadEvents(t, "aws-2025-01-29-json.json"))
	if len(s.invocations) != 1 {
		t.Fatalf("%d records, want 1", len(s.invocations))
	}
	inv := s.invocations[0]
	const unknown = uint32(ingestv1.Figure_FIGURE_BILLED_DURATION | ingestv1.Figure_FIGURE_MEMORY_SIZE | ingestv1.Figure_FIGURE_MAX_MEMORY_USED)
	if inv.GetDurationMs() != 200 || inv.GetUnknownFigures() != unknown || inv.GetResponseLatencyMs() != 23.02 || inv.GetResponseDurationMs() != 1.5 ||
		!inv.GetColdStart() || inv.GetInitDurationMs() != 125.33 {
		t.Errorf("record = %v", inv)
	}
}

// The tenant the platform names on an invocation's events (tenant
// isolation mode) goes with its record.
func TestTenantGoesWithTheRecord(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2025-10-13T19:48:00.000Z", "type": "platform.start", "record": {"requestId": "r1", "version": "$LATEST", "tenantId": "BlueTenant"}},
		{"time": "2025-10-13T19:48:00.100Z", "type": "platform.report", "record": {"requestId": "r1", "status": "success",
			"metrics": {"durationMs": 100, "billedDurationMs": 100, "memorySizeMB": 128, "maxMemoryUsedMB": 60}}},
		{"time": "2025-10-13T19:48:01.000Z", "type": "platform.start", "record": {"requestId": "r2"}},
		{"time": "2025-10-13T19:48:01.100Z", "type": "platform.report", "record": {"requestId": "r2", "tenantId": "GreenTenant", "status": "success",
			"metrics": {"durationMs": 100, "billedDurationMs": 100, "memorySizeMB": 128, "maxMemoryUsedMB": 60}}}
	]`))
	if len(s.invocations) != 2 || s.invocations[0].GetTenantId() != "BlueTenant" || s.invocations[1].GetTenantId() != "GreenTenant" {
		t.Errorf("records = %v, want tenants BlueTenant and GreenTenant", s.invocations)
	}
}

// What the Runtime API proxy saw of the event and the answer goes on the
// record of that invocation only; an invocation it did not see keeps
// none.
func TestResponseGoesWithTheRecord(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2025-10-13T19:48:00.000Z", "type": "platform.start", "record": {"requestId": "r1", "version": "$LATEST"}}
	]`))
	tr.ObserveResponse("r1", Response{Trigger: "apigateway-http", TriggerSource: "POST /orders", TraceContextSource: "w3c",
		HTTPStatus: 503, Size: 42, ErrorMessage: "boom", FunctionErrorType: "errorString"})
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2025-10-13T19:48:00.100Z", "type": "platform.report", "record": {"requestId": "r1", "status": "success",
			"metrics": {"durationMs": 100, "billedDurationMs": 100, "memorySizeMB": 128, "maxMemoryUsedMB": 60}}},
		{"time": "2025-10-13T19:48:01.000Z", "type": "platform.start", "record": {"requestId": "r2"}},
		{"time": "2025-10-13T19:48:01.100Z", "type": "platform.report", "record": {"requestId": "r2", "status": "success",
			"metrics": {"durationMs": 100, "billedDurationMs": 100, "memorySizeMB": 128, "maxMemoryUsedMB": 60}}}
	]`))
	if len(s.invocations) != 2 {
		t.Fatalf("records = %v, want 2", s.invocations)
	}
	if r := s.invocations[0]; r.GetTrigger() != "apigateway-http" || r.GetHttpStatusCode() != 503 || r.GetResponseSize() != 42 || r.GetStatus() != "success" ||
		r.GetTriggerSource() != "POST /orders" || r.GetTraceContextSource() != "w3c" || r.GetErrorMessage() != "boom" ||
		r.GetFunctionErrorType() != "errorString" {
		t.Errorf("r1 = %v, want trigger apigateway-http from POST /orders, context w3c, status code 503, 42 bytes, status success, message boom, type errorString", r)
	}
	if r := s.invocations[1]; r.GetTrigger() != "" || r.GetHttpStatusCode() != 0 || r.GetResponseSize() != 0 ||
		r.GetTriggerSource() != "" || r.GetTraceContextSource() != "" || r.GetErrorMessage() != "" || r.GetFunctionErrorType() != "" {
		t.Errorf("r2 = %v, want no trigger, source, context source, status code, size, message or type", r)
	}
}

// An answer reported after its invocation's record was built is counted
// and left out, not kept for a record that will not come.
func TestLateResponseCounted(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2025-10-13T19:48:00.000Z", "type": "platform.start", "record": {"requestId": "r1"}},
		{"time": "2025-10-13T19:48:00.100Z", "type": "platform.report", "record": {"requestId": "r1", "status": "success",
			"metrics": {"durationMs": 100, "billedDurationMs": 100, "memorySizeMB": 128, "maxMemoryUsedMB": 60}}}
	]`))
	tr.ObserveResponse("r1", Response{Trigger: "apigateway-http", HTTPStatus: 503, Size: 42})
	if got := tr.Stats().ResponsesLate; got != 1 {
		t.Errorf("ResponsesLate = %d, want 1", got)
	}
	tr.mu.Lock()
	_, kept := tr.requests["r1"]
	tr.mu.Unlock()
	if kept {
		t.Error("the late answer is kept for a record that will not come")
	}
}

// A record carries the runtime's duration from platform.runtimeDone (the
// report's duration beyond it is the extensions' billed time), and the
// environment's first record the extension's own start.
func TestRecordsCarryRuntimeDurationAndExtensionInit(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.SetExtensionInit(7500 * time.Microsecond)
	for i, id := range []string{"r1", "r2"} {
		sec := fmt.Sprintf("%02d", i)
		tr.HandleTelemetry(parseEvents(t, `[
{"time": "2025-03-01T10:00:`+sec+`.000Z", "type": "platform.start", "record": {"requestId": "`+id+`"}},
{"time": "2025-03-01T10:00:`+sec+`.040Z", "type": "platform.runtimeDone", "record": {"requestId": "`+id+`", "status": "success", "metrics": {"durationMs": 40.5}}},
{"time": "2025-03-01T10:00:`+sec+`.050Z", "type": "platform.report", "record": {"requestId": "`+id+`", "status": "success", "metrics": {"durationMs": 49.2, "billedDurationMs": 50, "memorySizeMB": 128, "maxMemoryUsedMB": 60}}}]`))
	}
	if len(s.invocations) != 2 {
		t.Fatalf("got %d records, want 2", len(s.invocations))
	}
	first, second := s.invocations[0], s.invocations[1]
	if first.GetRuntimeDurationMs() != 40.5 || second.GetRuntimeDurationMs() != 40.5 {
		t.Errorf("runtime durations = %v, %v; want 40.5 each", first.GetRuntimeDurationMs(), second.GetRuntimeDurationMs())
	}
	if first.GetExtensionInitMs() != 7.5 || second.GetExtensionInitMs() != 0 {
		t.Errorf("extension init = %v, %v; want 7.5 on the cold start only", first.GetExtensionInitMs(), second.GetExtensionInitMs())
	}
}

// What the proxy saw goes on the record within its bounds: texts cut at a
// character boundary, numbers in range.
func TestResponseBounded(t *testing.T) {
	s := &sink{}
	tr := New(s, nil, nil)
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2025-10-13T19:48:00.000Z", "type": "platform.start", "record": {"requestId": "r1"}}
	]`))
	long := "x" + strings.Repeat("é", 4<<10) // odd: the bounds fall inside a character
	tr.ObserveResponse("r1", Response{Trigger: "sqs", TriggerSource: long, TraceContextSource: long, ErrorMessage: long,
		FunctionErrorType: long, HTTPStatus: 70000, Size: -5})
	tr.HandleTelemetry(parseEvents(t, `[
		{"time": "2025-10-13T19:48:00.100Z", "type": "platform.report", "record": {"requestId": "r1", "status": "error", "errorType": "Runtime.Boom",
			"metrics": {"durationMs": 100, "billedDurationMs": 100, "memorySizeMB": 128, "maxMemoryUsedMB": 60}}}
	]`))
	if len(s.invocations) != 1 {
		t.Fatalf("records = %v, want 1", s.invocations)
	}
	r := s.invocations[0]
	for _, f := range []struct {
		name, got string
		max       int
	}{
		{"trigger source", r.GetTriggerSource(), MaxTriggerSource},
		{"trace context source", r.GetTraceContextSource(), MaxTraceContextSource},
		{"error message", r.GetErrorMessage(), MaxErrorMessage},
		{"function error type", r.GetFunctionErrorType(), MaxFunctionErrorType},
	} {
		if len(f.got) > f.max || len(f.got) < f.max-1 || !utf8.ValidString(f.got) || !strings.HasPrefix(long, f.got) {
			t.Errorf("%s is %d bytes (bound %d), valid UTF-8 %v", f.name, len(f.got), f.max, utf8.ValidString(f.got))
		}
	}
	if r.GetHttpStatusCode() != 999 || r.GetResponseSize() != 0 || r.GetErrorType() != "Runtime.Boom" {
		t.Errorf("status code %d, size %d, error type %q; want 999, 0, Runtime.Boom", r.GetHttpStatusCode(), r.GetResponseSize(), r.GetErrorType())
	}
}
