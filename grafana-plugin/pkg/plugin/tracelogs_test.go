package plugin

import (
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/plugintest"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// The logs of a trace include a line of one of its invocations that
// carries no trace ID of its own.
func TestLogsOfATraceIncludeUntracedLinesOfItsInvocations(t *testing.T) {
	db := plugintest.NewDatabase(t)
	line := &logspb.LogRecord{
		TimeUnixNano: uint64(plugintest.Start.UnixNano()) + 50e6,
		Body:         &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "printed before the span arrived"}},
		Attributes:   []*commonpb.KeyValue{{Key: "faas.invocation_id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "req-orders"}}}},
	}
	if _, err := db.Store.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:      []byte("untraced-line-01"),
		Function:     &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "orders", Version: "$LATEST"},
		ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{line}}}}},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	ds := newTestDatasource(t, map[string]any{"address": db.Addr, "database": db.Name}, "")
	resp := runQuery(t, ds, "logs", map[string]any{"traceId": plugintest.TraceID}, fixtureRange)
	if resp.Error != nil {
		t.Fatalf("logs: %v", resp.Error)
	}
	var bodies []string
	for _, f := range resp.Frames {
		if body, _ := f.FieldByName("body"); body != nil {
			for i := range body.Len() {
				if v, ok := body.ConcreteAt(i); ok {
					bodies = append(bodies, v.(string))
				}
			}
		}
	}
	found := false
	for _, b := range bodies {
		found = found || b == "printed before the span arrived"
	}
	// The fixture's trace has three lines of its own.
	if !found || len(bodies) != 4 {
		t.Errorf("logs of the trace = %q, want the fixture's 3 and the untraced line of req-orders", bodies)
	}
}

// The invocations query keeps one tenant's invocations when the model
// names a tenant.
func TestInvocationsOfATenant(t *testing.T) {
	db := plugintest.NewDatabase(t)
	if _, err := db.Store.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:  []byte("tenant-batch-001"),
		Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "orders", Version: "$LATEST"},
		Invocations: []*ingestv1.Invocation{{RequestId: "req-blue", StartTimeUnixNano: uint64(plugintest.Start.UnixNano()) + 1e9,
			DurationMs: 10, BilledDurationMs: 10, Status: "success", TenantId: "BlueTenant"}},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	ds := newTestDatasource(t, map[string]any{"address": db.Addr, "database": db.Name}, "")
	for _, tt := range []struct {
		tenant string
		want   int
	}{{"BlueTenant", 1}, {"GreenTenant", 0}, {"", 4}} {
		resp := runQuery(t, ds, "invocations", map[string]any{"tenantId": tt.tenant}, fixtureRange)
		if resp.Error != nil {
			t.Fatalf("invocations of %q: %v", tt.tenant, resp.Error)
		}
		if n, _ := resp.Frames[0].RowLen(); n != tt.want {
			t.Errorf("invocations of tenant %q: %d rows, want %d", tt.tenant, n, tt.want)
		}
	}
}

// An invocation that succeeded but whose proxy integration answered 503
// shows, read back from ClickHouse, its trigger, status code and response
// size, and counts as failed although its status is success.
func TestInvocationsShowA5xxAnswerOfASuccess(t *testing.T) {
	db := plugintest.NewDatabase(t)
	if _, err := db.Store.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:  []byte("http-5xx-batch-1"),
		Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "orders", Version: "$LATEST"},
		Invocations: []*ingestv1.Invocation{{RequestId: "req-503", StartTimeUnixNano: uint64(plugintest.Start.UnixNano()) + 1e9,
			DurationMs: 10, BilledDurationMs: 10, Status: "success", Trigger: "apigateway-rest", HttpStatusCode: 503, ResponseSize: 41}},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	ds := newTestDatasource(t, map[string]any{"address": db.Addr, "database": db.Name}, "")
	resp := runQuery(t, ds, "invocations", map[string]any{"requestId": "req-503"}, fixtureRange)
	if resp.Error != nil {
		t.Fatalf("invocations: %v", resp.Error)
	}
	f := resp.Frames[0]
	if n, _ := f.RowLen(); n != 1 {
		t.Fatalf("invocations of req-503: %d rows, want 1", n)
	}
	for name, want := range map[string]any{"status": "success", "failed": true, "trigger": "apigateway-rest",
		"httpStatusCode": uint16(503), "responseSize": uint64(41)} {
		field, _ := f.FieldByName(name)
		if field == nil {
			t.Errorf("no field %s", name)
			continue
		}
		if got, ok := field.ConcreteAt(0); !ok || got != want {
			t.Errorf("%s = %v (%T), want %v (%T)", name, got, got, want, want)
		}
	}
}

// An invocation's trigger source, error message and trace context source,
// read back from ClickHouse, are fields of the invocations frame, and the
// model's triggerSource keeps the invocations of one source.
func TestInvocationsShowWhereTheEventCameFrom(t *testing.T) {
	db := plugintest.NewDatabase(t)
	at := uint64(plugintest.Start.UnixNano()) + 1e9
	if _, err := db.Store.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:  []byte("sources-batch-01"),
		Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "orders", Version: "$LATEST"},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "req-queue", StartTimeUnixNano: at, DurationMs: 10, BilledDurationMs: 10, Status: "error", ErrorType: "Runtime.Boom",
				Trigger: "sqs", TriggerSource: "orders-queue", ErrorMessage: "card [REDACTED] declined", TraceContextSource: "w3c"},
			{RequestId: "req-route", StartTimeUnixNano: at + 1e6, DurationMs: 10, BilledDurationMs: 10, Status: "success",
				Trigger: "apigateway-http", TriggerSource: "POST /orders/{id}", TraceContextSource: "none", HttpStatusCode: 201},
		},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	ds := newTestDatasource(t, map[string]any{"address": db.Addr, "database": db.Name}, "")
	for _, tt := range []struct {
		source string
		want   map[string]any
	}{
		{"orders-queue", map[string]any{"requestId": "req-queue", "triggerSource": "orders-queue", "errorMessage": "card [REDACTED] declined",
			"traceContextSource": "w3c", "failed": true}},
		{"POST /orders/{id}", map[string]any{"requestId": "req-route", "triggerSource": "POST /orders/{id}", "errorMessage": nil,
			"traceContextSource": "none", "failed": false}},
	} {
		resp := runQuery(t, ds, "invocations", map[string]any{"triggerSource": tt.source}, fixtureRange)
		if resp.Error != nil {
			t.Fatalf("invocations of %q: %v", tt.source, resp.Error)
		}
		// failedOnly keeps the one that counts as an error.
		failed := runQuery(t, ds, "invocations", map[string]any{"triggerSource": tt.source, "failedOnly": true}, fixtureRange)
		if failed.Error != nil {
			t.Fatalf("failed invocations of %q: %v", tt.source, failed.Error)
		}
		if n, _ := failed.Frames[0].RowLen(); n != map[bool]int{false: 0, true: 1}[tt.want["failed"].(bool)] {
			t.Errorf("failed invocations of %q: %d rows, want %v", tt.source, n, tt.want["failed"])
		}
		if resp.Error != nil {
			t.Fatalf("invocations of %q: %v", tt.source, resp.Error)
		}
		f := resp.Frames[0]
		if n, _ := f.RowLen(); n != 1 {
			t.Fatalf("invocations of %q: %d rows, want 1", tt.source, n)
		}
		for name, want := range tt.want {
			field, _ := f.FieldByName(name)
			if field == nil {
				t.Errorf("no field %s", name)
				continue
			}
			got, ok := field.ConcreteAt(0)
			if want == nil {
				if ok {
					t.Errorf("%s of %q = %v, want null", name, tt.source, got)
				}
				continue
			}
			if !ok || got != want {
				t.Errorf("%s of %q = %v (%T), want %v (%T)", name, tt.source, got, got, want, want)
			}
		}
	}
}

// The function's own error type, read back from ClickHouse, is a field of
// the invocations frame beside the platform's errorType, and the model's
// errorType keeps the invocations whose error has that type, either one.
func TestInvocationsShowTheFunctionsErrorType(t *testing.T) {
	db := plugintest.NewDatabase(t)
	at := uint64(plugintest.Start.UnixNano()) + 1e9
	if _, err := db.Store.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId:  []byte("errtype-batch-01"),
		Function: &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "inventory", Version: "$LATEST"},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "req-go", StartTimeUnixNano: at, DurationMs: 10, BilledDurationMs: 10, Status: "error", ErrorType: "Runtime.Unknown",
				FunctionErrorType: "errorString", ErrorMessage: "sku SKU-404 not found"},
			{RequestId: "req-exit", StartTimeUnixNano: at + 1e6, DurationMs: 10, BilledDurationMs: 10, Status: "error", ErrorType: "Runtime.ExitError"},
		},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	ds := newTestDatasource(t, map[string]any{"address": db.Addr, "database": db.Name}, "")
	for _, tt := range []struct {
		errType   string
		requestID string
		funcType  any
	}{
		{"errorString", "req-go", "errorString"},
		{"Runtime.Unknown", "req-go", "errorString"},
		{" Runtime.ExitError ", "req-exit", nil},
	} {
		resp := runQuery(t, ds, "invocations", map[string]any{"functionName": "inventory", "errorType": tt.errType}, fixtureRange)
		if resp.Error != nil {
			t.Fatalf("invocations of type %q: %v", tt.errType, resp.Error)
		}
		f := resp.Frames[0]
		if n, _ := f.RowLen(); n != 1 {
			t.Fatalf("invocations of type %q: %d rows, want 1", tt.errType, n)
		}
		if id, _ := f.FieldByName("requestId"); id == nil || id.At(0) != tt.requestID {
			t.Errorf("invocations of type %q: request %v, want %s", tt.errType, id.At(0), tt.requestID)
		}
		field, _ := f.FieldByName("functionErrorType")
		if field == nil {
			t.Fatal("no field functionErrorType")
		}
		got, ok := field.ConcreteAt(0)
		if tt.funcType == nil && ok || tt.funcType != nil && (!ok || got != tt.funcType) {
			t.Errorf("functionErrorType of %q = %v, %v; want %v", tt.requestID, got, ok, tt.funcType)
		}
	}
	if resp := runQuery(t, ds, "invocations", map[string]any{"functionName": "inventory", "errorType": "KeyError"}, fixtureRange); resp.Error != nil {
		t.Fatalf("invocations of type KeyError: %v", resp.Error)
	} else if n, _ := resp.Frames[0].RowLen(); n != 0 {
		t.Errorf("invocations of type KeyError: %d rows, want none", n)
	}
}
