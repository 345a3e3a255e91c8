package storage

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// seedInvocations stores n invocations of each function, one second apart,
// and returns the time of the first.
func seedInvocations(t *testing.T, s *Store, functions []string, n int) time.Time {
	t.Helper()
	base := time.Date(2026, 5, 1, 12, 0, 0, 250, time.UTC)
	for _, fn := range functions {
		req := &ingestv1.ExportRequest{Function: &ingestv1.FunctionIdentity{Name: fn, Region: "us-east-1"}}
		for i := range n {
			req.Invocations = append(req.Invocations, &ingestv1.Invocation{
				RequestId:         fn + "-" + string(rune('a'+i)),
				StartTimeUnixNano: uint64(base.Add(time.Duration(i) * time.Second).UnixNano()),
				TraceId:           []byte{byte(i + 1), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(fn))},
				Status:            "success",
			})
		}
		if _, err := s.WriteExport(t.Context(), req); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	return base
}

func TestInvocationsFilter(t *testing.T) {
	s := openStore(t)
	base := seedInvocations(t, s, []string{"alpha", "beta"}, 5)
	traceOf := func(i int, fn string) [16]byte {
		return [16]byte{byte(i + 1), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(fn))}
	}

	tests := []struct {
		name   string
		filter InvocationFilter
		want   []string // request IDs, in order
	}{
		{"by function, newest first", InvocationFilter{FunctionName: "alpha"},
			[]string{"alpha-e", "alpha-d", "alpha-c", "alpha-b", "alpha-a"}},
		{"limit", InvocationFilter{FunctionName: "beta", Limit: 2}, []string{"beta-e", "beta-d"}},
		{"since inclusive, until exclusive", InvocationFilter{FunctionName: "alpha", Since: base.Add(time.Second), Until: base.Add(3 * time.Second)},
			[]string{"alpha-c", "alpha-b"}},
		{"sub-second bounds", InvocationFilter{FunctionName: "alpha", Since: base.Add(time.Nanosecond), Until: base.Add(time.Second + time.Nanosecond)},
			[]string{"alpha-b"}},
		{"whole-second until", InvocationFilter{FunctionName: "alpha", Until: base.Truncate(time.Second).Add(time.Second)},
			[]string{"alpha-a"}},
		{"trace ids", InvocationFilter{TraceIDs: [][16]byte{traceOf(0, "alpha"), traceOf(4, "beta")}}, []string{"beta-e", "alpha-a"}},
		{"request ids across functions", InvocationFilter{RequestIDs: []string{"alpha-a", "beta-c", "missing"}},
			[]string{"beta-c", "alpha-a"}},
		{"trace id", InvocationFilter{TraceID: traceOf(3, "beta")}, []string{"beta-d"}},
		{"request ids within functions", InvocationFilter{RequestIDs: []string{"alpha-a", "beta-c"}, FunctionNames: []string{"beta", "gamma"}},
			[]string{"beta-c"}},
		{"hostile function names", InvocationFilter{FunctionNames: []string{"') OR 1=1 --"}}, nil},
		{"unknown function", InvocationFilter{FunctionName: "gamma"}, nil},
		{"hostile function name", InvocationFilter{FunctionName: "x' OR 1=1 --"}, nil},
		{"hostile function name with backslash", InvocationFilter{FunctionName: `alpha\' OR 1=1 --`}, nil},
		{"hostile request id", InvocationFilter{RequestIDs: []string{"') OR 1=1 --"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.Invocations(t.Context(), tt.filter)
			if err != nil {
				t.Fatalf("Invocations: %v", err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.RequestID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("request ids = %q, want %q", got, tt.want)
			}
		})
	}
}

// The trigger's source, the error message and the trace context's source
// an extension sent (migration 56) are stored and read back; the trigger
// and its source select invocations.
func TestInvocationsTriggerSource(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 5, 2, 12, 0, 0, 0, time.UTC)
	req := &ingestv1.ExportRequest{Function: &ingestv1.FunctionIdentity{Name: "orders", Region: "us-east-1"}}
	for i, inv := range []*ingestv1.Invocation{
		{RequestId: "q1", Trigger: "sqs", TriggerSource: "orders-queue", TraceContextSource: "w3c", Status: "success"},
		{RequestId: "q2", Trigger: "sqs", TriggerSource: "refunds-queue", TraceContextSource: "xray", Status: "error",
			ErrorType: "Runtime.Boom", ErrorMessage: "card [REDACTED] déclinée"},
		{RequestId: "h1", Trigger: "apigateway-http", TriggerSource: "POST /orders/{id}", TraceContextSource: "lambda", HttpStatusCode: 201},
		{RequestId: "d1", Trigger: "direct", TraceContextSource: "none"},
		{RequestId: "old", Status: "success"}, // an extension that does not send them
		// Succeeded, but its caller got a server error: it counts as failed.
		{RequestId: "h5", Trigger: "apigateway-http", TriggerSource: "GET /health", Status: "success", HttpStatusCode: 503},
	} {
		inv.StartTimeUnixNano = uint64(base.Add(time.Duration(i) * time.Second).UnixNano())
		req.Invocations = append(req.Invocations, inv)
	}
	if _, err := s.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	recs, err := s.Invocations(t.Context(), InvocationFilter{FunctionName: "orders"})
	if err != nil {
		t.Fatalf("Invocations: %v", err)
	}
	got := map[string][3]string{}
	for _, r := range recs {
		got[r.RequestID] = [3]string{r.TriggerSource, r.ErrorMessage, r.TraceContextSource}
	}
	want := map[string][3]string{
		"q1": {"orders-queue", "", "w3c"}, "q2": {"refunds-queue", "card [REDACTED] déclinée", "xray"},
		"h1": {"POST /orders/{id}", "", "lambda"}, "d1": {"", "", "none"}, "old": {"", "", ""},
		"h5": {"GET /health", "", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %q, want %q", got, want)
	}
	for _, tt := range []struct {
		name   string
		filter InvocationFilter
		want   []string
	}{
		{"by trigger source", InvocationFilter{FunctionName: "orders", TriggerSource: "refunds-queue"}, []string{"q2"}},
		{"by route", InvocationFilter{TriggerSource: "POST /orders/{id}"}, []string{"h1"}},
		{"by trigger", InvocationFilter{FunctionName: "orders", Trigger: "sqs"}, []string{"q2", "q1"}},
		{"by both", InvocationFilter{Trigger: "sqs", TriggerSource: "orders-queue"}, []string{"q1"}},
		{"hostile source", InvocationFilter{TriggerSource: "x' OR 1=1 --"}, nil},
		{"failed", InvocationFilter{FunctionName: "orders", Failed: true}, []string{"h5", "q2"}},
		{"failed sqs", InvocationFilter{Trigger: "sqs", Failed: true}, []string{"q2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.Invocations(t.Context(), tt.filter)
			if err != nil {
				t.Fatalf("Invocations: %v", err)
			}
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.RequestID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("request ids = %q, want %q", ids, tt.want)
			}
		})
	}
}

// The function's own error type an extension sent (migration 57) is
// stored and read back beside the platform's; ErrorType selects the
// invocations whose error has that type, the platform's or the
// function's, the value bound, never in the SQL.
func TestInvocationsFunctionErrorType(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	req := &ingestv1.ExportRequest{Function: &ingestv1.FunctionIdentity{Name: "inventory", Region: "us-east-1"}}
	for i, inv := range []*ingestv1.Invocation{
		{RequestId: "go", Status: "error", ErrorType: "Runtime.Unknown", FunctionErrorType: "errorString", ErrorMessage: "sku SKU-404 not found"},
		{RequestId: "node", Status: "error", ErrorType: "Runtime.Unknown", FunctionErrorType: "TypeError"},
		{RequestId: "python", Status: "error", ErrorType: "Runtime.HandlerError", FunctionErrorType: "ValueError"},
		{RequestId: "timeout", Status: "timeout", ErrorType: "Sandbox.Timedout"},
		{RequestId: "hostile", Status: "error", ErrorType: "Runtime.Unknown", FunctionErrorType: "x' OR 1=1 --\\\x1b[2Jé"},
		{RequestId: "ok", Status: "success"},
	} {
		inv.StartTimeUnixNano = uint64(base.Add(time.Duration(i) * time.Second).UnixNano())
		req.Invocations = append(req.Invocations, inv)
	}
	if _, err := s.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	recs, err := s.Invocations(t.Context(), InvocationFilter{FunctionName: "inventory"})
	if err != nil {
		t.Fatalf("Invocations: %v", err)
	}
	got := map[string][2]string{}
	for _, r := range recs {
		got[r.RequestID] = [2]string{r.ErrorType, r.FunctionErrorType}
	}
	want := map[string][2]string{
		"go": {"Runtime.Unknown", "errorString"}, "node": {"Runtime.Unknown", "TypeError"},
		"python": {"Runtime.HandlerError", "ValueError"}, "timeout": {"Sandbox.Timedout", ""},
		"hostile": {"Runtime.Unknown", "x' OR 1=1 --\\\x1b[2Jé"}, "ok": {"", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %q, want %q", got, want)
	}
	for _, tt := range []struct {
		name   string
		filter InvocationFilter
		want   []string
	}{
		{"by the function's type", InvocationFilter{FunctionName: "inventory", ErrorType: "errorString"}, []string{"go"}},
		{"by the platform's type", InvocationFilter{FunctionName: "inventory", ErrorType: "Runtime.Unknown"}, []string{"hostile", "node", "go"}},
		{"by either", InvocationFilter{ErrorType: "Runtime.HandlerError"}, []string{"python"}},
		{"with the failed", InvocationFilter{ErrorType: "Sandbox.Timedout", Failed: true}, []string{"timeout"}},
		{"hostile value", InvocationFilter{ErrorType: "x' OR 1=1 --\\\x1b[2Jé"}, []string{"hostile"}},
		{"injection", InvocationFilter{ErrorType: "' OR 1=1 --"}, nil},
		{"none", InvocationFilter{FunctionName: "inventory", ErrorType: "KeyError"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.Invocations(t.Context(), tt.filter)
			if err != nil {
				t.Fatalf("Invocations: %v", err)
			}
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.RequestID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("request ids = %q, want %q", ids, tt.want)
			}
		})
	}
}

func TestInvocationsRejectsEmptyRange(t *testing.T) {
	s := openStore(t)
	now := time.Now()
	if _, err := s.Invocations(t.Context(), InvocationFilter{Since: now, Until: now}); err == nil {
		t.Error("Invocations with until == since succeeded, want an error")
	}
}

func TestSpansByTraceIDUnknownAndDuplicate(t *testing.T) {
	s := openStore(t)
	f := newFixture(t, "dup")
	for range 2 { // a retried batch stores its spans twice
		if _, err := s.WriteExport(t.Context(), f.req); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	tests := []struct {
		name    string
		traceID [16]byte
		want    int
	}{
		{"stored twice, returned once", f.traceID, 2},
		{"unknown trace", [16]byte{9, 9, 9}, 0},
		{"zero trace", [16]byte{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans, err := s.SpansByTraceID(t.Context(), tt.traceID)
			if err != nil {
				t.Fatalf("SpansByTraceID: %v", err)
			}
			if len(spans) != tt.want {
				t.Errorf("got %d spans, want %d", len(spans), tt.want)
			}
		})
	}
}

// TestInvocationsTraceView checks that a trace view's read of an
// invocation holds every column the full read holds but the ones it leaves
// out, each column in its own field: every field of the stored record has
// a value of its own.
func TestInvocationsTraceView(t *testing.T) {
	s := openStore(t)
	var stored dbmodel.Invocation
	fillDistinct(t, reflect.ValueOf(&stored).Elem(), new(int))
	start := time.Date(2026, 5, 1, 12, 0, 0, 250, time.UTC)
	stored.StartUnixNano = uint64(start.UnixNano())
	batch, err := s.conn.PrepareBatch(t.Context(), insertSQL(s.database, "invocations", invocationInsertColumns))
	if err != nil {
		t.Fatalf("prepare insert: %v", err)
	}
	if err := batch.Append(invocationValues(&stored)...); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("insert: %v", err)
	}
	read := func(traceView bool) dbmodel.Invocation {
		t.Helper()
		recs, err := s.Invocations(t.Context(), InvocationFilter{RequestIDs: []string{stored.RequestID},
			Since: start.Add(-time.Minute), Until: start.Add(time.Minute), TraceView: traceView})
		if err != nil {
			t.Fatalf("Invocations(TraceView: %v): %v", traceView, err)
		}
		if len(recs) != 1 {
			t.Fatalf("Invocations(TraceView: %v) = %d records, want 1", traceView, len(recs))
		}
		return recs[0].Invocation
	}
	if full := read(false); full != stored {
		t.Fatalf("full read = %+v, want the stored %+v", full, stored)
	}
	want := stored
	want.ResponseLatencyMs, want.ResponseDurationMs, want.RuntimeOverheadMs, want.ProducedBytes = 0, 0, 0, 0
	want.RuntimeDurationMs, want.ExtensionInitMs, want.Telemetry = 0, 0, dbmodel.TelemetryCounts{}
	// The inferred span shows them in a trace (migration 56).
	want.TriggerSource, want.ErrorMessage, want.TraceContextSource = "", "", ""
	// And the function's error type, as its error.type (migration 57).
	want.FunctionErrorType = ""
	if got := read(true); got != want {
		t.Errorf("trace view read = %+v, want %+v", got, want)
	}
}

// fillDistinct gives every field of v a value no other field has: numbers
// counting up from 1, strings naming their number, true booleans, bytes of
// arrays their number.
func fillDistinct(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fillDistinct(t, v.Field(i), n)
		}
		return
	case reflect.Array:
		*n++
		for i := range v.Len() {
			v.Index(i).SetUint(uint64(*n))
		}
		return
	}
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("value %d", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	default:
		t.Fatalf("fillDistinct: no value for a field of kind %s", v.Kind())
	}
}
