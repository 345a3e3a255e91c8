package frames

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// A figure the platform did not report is null in the invocations table,
// not 0.
func TestInvocationsUnknownFiguresAreNull(t *testing.T) {
	f := Invocations([]query.Invocation{
		{RequestID: "whole", DurationMs: 20.5, BilledDurationMs: 21, MemorySizeMB: 256, MaxMemoryUsedMB: 80},
		{RequestID: "mi", DurationMs: 12.3, BilledDurationMs: 13, BilledEstimated: true, MemorySizeMB: 256, MaxMemoryUsedUnknown: true, Incomplete: true},
	}, TraceLink{})
	for _, tt := range []struct {
		field string
		want  []any // nil for null
	}{
		{"duration", []any{20.5, 12.3}},
		{"billedDuration", []any{21.0, nil}},
		{"memorySize", []any{256.0, 256.0}},
		{"maxMemoryUsed", []any{80.0, nil}},
		{"incomplete", []any{false, true}},
	} {
		field, _ := f.FieldByName(tt.field)
		if field == nil {
			t.Fatalf("no field %s", tt.field)
		}
		for i, want := range tt.want {
			got, ok := field.ConcreteAt(i)
			if want == nil {
				if ok {
					t.Errorf("%s[%d] = %v, want null", tt.field, i, got)
				}
				continue
			}
			if !ok || got != want {
				t.Errorf("%s[%d] = %v, want %v", tt.field, i, got, want)
			}
		}
	}
}

// A trace's cost says when it rests on estimated billed durations.
func TestTraceCostNoticesEstimates(t *testing.T) {
	f := TraceCostInvocations(&query.TraceCost{Currency: "USD", Invocations: []query.InvocationCost{
		{FunctionName: "a", BilledDurationMs: 13, BilledEstimated: true}, {FunctionName: "b", BilledDurationMs: 20},
	}})
	found := false
	for _, n := range f.Meta.Notices {
		found = found || (n.Severity == data.NoticeSeverityWarning && strings.Contains(n.Text, "1 of them"))
	}
	if !found {
		t.Errorf("notices = %+v, want a warning about 1 estimated billed duration", f.Meta.Notices)
	}
}

// A cost report that rests on estimated billed durations says so.
func TestCostNoticesEstimates(t *testing.T) {
	rep := &query.CostReport{Currency: "USD", Total: query.Cost{Invocations: 3, EstimatedInvocations: 2}}
	f := CostTable(rep, nil, false)
	found := false
	for _, n := range f.Meta.Notices {
		found = found || (n.Severity == data.NoticeSeverityWarning && strings.Contains(n.Text, "of 2 invocations"))
	}
	if !found {
		t.Errorf("notices = %+v, want a warning about 2 estimated billed durations", f.Meta.Notices)
	}
}

// warned says whether f carries a warning containing text.
func warned(f *data.Frame, text string) bool {
	if f.Meta == nil {
		return false
	}
	for _, n := range f.Meta.Notices {
		if n.Severity == data.NoticeSeverityWarning && strings.Contains(n.Text, text) {
			return true
		}
	}
	return false
}

// A cost report priced with a Managed Instances price no AWS source
// confirms, or with none at all, says which, as the CLI does.
func TestCostNoticesUnconfirmedInstancePrices(t *testing.T) {
	rep := &query.CostReport{Currency: "USD",
		ManagedInstances: []query.ManagedInstanceLine{
			{InstanceType: "c7g.large", PriceUnconfirmed: true},
			{InstanceType: "c7g.large", PriceUnconfirmed: true},
			{InstanceType: "m7g.2xlarge"},
		},
		UnpricedManagedInstances: []string{"eu-west-1/orders"},
	}
	f := CostTable(rep, nil, false)
	if !warned(f, "default hourly price of c7g.large:") {
		t.Errorf("notices = %+v, want c7g.large named once as unconfirmed", f.Meta.Notices)
	}
	if warned(f, "m7g.2xlarge") {
		t.Errorf("notices = %+v name m7g.2xlarge, whose price is confirmed", f.Meta.Notices)
	}
	if !warned(f, "eu-west-1/orders") {
		t.Errorf("notices = %+v, want the unpriced function named", f.Meta.Notices)
	}
	if f := CostTable(&query.CostReport{Currency: "USD"}, nil, false); warned(f, "price") {
		t.Errorf("a report without Managed Instances warns: %+v", f.Meta.Notices)
	}
}

// The observability cost says which of its prices no AWS page confirms.
func TestObservabilityNoticesUnconfirmedPrices(t *testing.T) {
	rep := &query.ObservabilityReport{Currency: "USD", Prices: query.DefaultObservabilityPrices()}
	if len(rep.Prices.Unconfirmed) == 0 {
		t.Fatal("the default observability prices name nothing unconfirmed; this test needs a price that is")
	}
	if f := ObservabilityTable(rep); !warned(f, rep.Prices.Unconfirmed[0]) {
		t.Errorf("notices = %+v, want %q", f.Meta, rep.Prices.Unconfirmed[0])
	}
	rep.Prices.Unconfirmed = nil
	if f := ObservabilityTable(rep); warned(f, "confirmed") || warned(f, "Infrequent Access") {
		t.Errorf("notices = %+v with every price confirmed, Standard class", f.Meta.Notices)
	}
	rep.Prices.LogClass = query.LogClassInfrequentAccess
	f := ObservabilityTable(rep)
	if f.Meta == nil || len(f.Meta.Notices) != 1 || f.Meta.Notices[0].Severity != data.NoticeSeverityInfo ||
		!strings.Contains(f.Meta.Notices[0].Text, "Infrequent Access log class") {
		t.Errorf("notices = %+v, want the Infrequent Access class said, as information", f.Meta)
	}
}

// A cost report whose range retention emptied in part says so.
func TestCostNoticesRetention(t *testing.T) {
	cut := time.Date(2026, 5, 6, 0, 0, 0, 0, time.UTC)
	rep := &query.CostReport{Currency: "USD", Retained: []query.RetainedTable{{Table: "cost_hours", DroppedBefore: cut}}}
	if f := CostTable(rep, nil, false); !warned(f, "Retention dropped cost_hours before 2026-05-06 00:00 UTC") {
		t.Errorf("notices = %+v, want the retention cutoff named", f.Meta)
	}
	if f := CostTable(&query.CostReport{Currency: "USD"}, nil, false); warned(f, "etention") {
		t.Errorf("a report retention did not touch warns: %+v", f.Meta.Notices)
	}
}

// The invocations table shows how each environment started, a SnapStart
// restore's duration (null for every other start) and the tenant.
func TestInvocationsShowSnapStartAndTenant(t *testing.T) {
	f := Invocations([]query.Invocation{
		{RequestID: "restored", ColdStart: true, InitializationType: "snap-start", RestoreDurationMs: 312.5, TenantID: "acme"},
		{RequestID: "warm", InitializationType: "on-demand"},
		{RequestID: "provisioned", InitializationType: "provisioned-concurrency", TenantID: "globex"},
	}, TraceLink{})
	for _, tt := range []struct {
		field string
		want  []any // nil for null
	}{
		{"initializationType", []any{"snap-start", "on-demand", "provisioned-concurrency"}},
		{"restoreDuration", []any{312.5, nil, nil}},
		{"tenantId", []any{"acme", "", "globex"}},
	} {
		field, _ := f.FieldByName(tt.field)
		if field == nil {
			t.Fatalf("no field %s", tt.field)
		}
		for i, want := range tt.want {
			got, ok := field.ConcreteAt(i)
			if want == nil {
				if ok {
					t.Errorf("%s[%d] = %v, want null", tt.field, i, got)
				}
				continue
			}
			if !ok || got != want {
				t.Errorf("%s[%d] = %v, want %v", tt.field, i, got, want)
			}
		}
	}
	if field, _ := f.FieldByName("restoreDuration"); field.Config == nil || field.Config.Unit != "ms" {
		t.Errorf("restoreDuration config = %+v, want unit ms", field.Config)
	}
}

// The cost table shows provisioned concurrency, Managed Instances and
// SnapStart in columns of their own (the total holds them), and a notice
// per capacity provider names its instance type.
func TestCostTableShowsEveryCharge(t *testing.T) {
	line := query.CostLine{FunctionName: "orders", Cost: query.Cost{Invocations: 10, Provisioned: 0.5, ManagedInstances: 1.25,
		SnapStart: 0.125, Restores: 3, Total: 2}}
	rep := &query.CostReport{Currency: "USD", ManagedInstances: []query.ManagedInstanceLine{
		{Name: "fleet", Region: "us-east-1", InstanceType: "m7g.large", Instances: 2, InstanceHours: 48, HourlyPrice: 0.1, Cost: 4.8, Idle: 1.2},
		{Name: "other", Region: "eu-west-1", InstanceType: "x9.huge", Instances: 1, InstanceHours: 24, Unpriced: true},
	}}
	f := CostTable(rep, []query.CostLine{line}, false)
	for name, want := range map[string]any{"provisionedConcurrency": 0.5, "managedInstances": 1.25, "snapStart": 0.125, "snapStartRestores": int64(3)} {
		field, _ := f.FieldByName(name)
		if field == nil {
			t.Errorf("no field %s", name)
			continue
		}
		if got := field.At(0); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	var texts []string
	for _, n := range f.Meta.Notices {
		texts = append(texts, n.Text)
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{
		"Capacity provider fleet (us-east-1, 2 × m7g.large): 48.00 instance-hours at 0.1000 USD/h cost 4.80 USD, of it idle 1.20.",
		"Capacity provider other (eu-west-1, 1 × x9.huge): 24.00 instance-hours, unpriced.",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("notices:\n%s\nwant %q", all, want)
		}
	}
}

// The invocations table shows what the extension read from the event and
// the response: the trigger and its source, where the trace context came
// from, the error's message; an invocation that succeeded but answered 5xx
// shows its status code and counts as failed, and what was not seen is
// null.
func TestInvocationsShowTriggerAndResponse(t *testing.T) {
	f := Invocations([]query.Invocation{
		{RequestID: "5xx", Status: "success", Trigger: "apigateway-rest", HTTPStatusCode: 503, ResponseSize: 27,
			TriggerSource: "GET /orders", TraceContextSource: "xray"},
		{RequestID: "ok", Status: "success", Trigger: "apigateway-http", HTTPStatusCode: 201, ResponseSize: 2,
			TriggerSource: "POST /orders/{id}", TraceContextSource: "none"},
		{RequestID: "queue", Status: "success", Trigger: "sqs", ResponseSize: 4, TriggerSource: "orders-queue", TraceContextSource: "w3c"},
		{RequestID: "crash", Status: "error", ErrorType: "Runtime.ExitError", ErrorMessage: "exit status 2"},
	}, TraceLink{})
	for _, tt := range []struct {
		field string
		want  []any // nil for null
	}{
		{"status", []any{"success", "success", "success", "error"}},
		{"failed", []any{true, false, false, true}},
		{"trigger", []any{"apigateway-rest", "apigateway-http", "sqs", nil}},
		{"httpStatusCode", []any{uint16(503), uint16(201), nil, nil}},
		{"responseSize", []any{uint64(27), uint64(2), uint64(4), nil}},
		{"triggerSource", []any{"GET /orders", "POST /orders/{id}", "orders-queue", nil}},
		{"errorMessage", []any{nil, nil, nil, "exit status 2"}},
		{"traceContextSource", []any{"xray", "none", "w3c", nil}},
	} {
		field, _ := f.FieldByName(tt.field)
		if field == nil {
			t.Fatalf("no field %s", tt.field)
		}
		if field.Len() != len(tt.want) {
			t.Fatalf("%s has %d rows, want %d", tt.field, field.Len(), len(tt.want))
		}
		for i, want := range tt.want {
			got, ok := field.ConcreteAt(i)
			if want == nil {
				if ok {
					t.Errorf("%s[%d] = %v, want null", tt.field, i, got)
				}
				continue
			}
			if !ok || got != want {
				t.Errorf("%s[%d] = %v (%T), want %v (%T)", tt.field, i, got, got, want, want)
			}
		}
	}
	if field, _ := f.FieldByName("responseSize"); field.Config == nil || field.Config.Unit != "decbytes" {
		t.Errorf("responseSize config = %+v, want unit decbytes", field.Config)
	}
}
