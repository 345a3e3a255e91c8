package redact

import (
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
)

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func TestString(t *testing.T) {
	r, err := New([]string{"password", "Authorization", "card.number"}, []string{`\b\d{4}-\d{4}-\d{4}-\d{4}\b`, `(?i)bearer\s+[A-Za-z0-9._-]+`})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want string
		n        uint64
	}{
		{"nothing to hide", "nothing to hide", 0},
		{`login {"user":"ann","password":"hunter\"2","PASSWORD" : 1234}`, `login {"user":"ann","password":"[REDACTED]","PASSWORD" : "[REDACTED]"}`, 2},
		{`{"authorization":"Bearer abc.def"}`, `{"authorization":"[REDACTED]"}`, 1},
		{"paid with 4111-1111-1111-1111 today", "paid with [REDACTED] today", 1},
		{"header Bearer eyJhbGciOi.x-y", "header [REDACTED]", 1},
		{`{"card.number":true,"cardxnumber":"keep"}`, `{"card.number":"[REDACTED]","cardxnumber":"keep"}`, 1},
		{`{"password":"[REDACTED]"}`, `{"password":"[REDACTED]"}`, 0},
	}
	for _, tt := range tests {
		before := r.Count()
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if n := r.Count() - before; n != tt.n {
			t.Errorf("String(%q) counted %d, want %d", tt.in, n, tt.n)
		}
	}
}

func TestNoRulesIsNil(t *testing.T) {
	r, err := New([]string{" ", ""}, nil)
	if err != nil || r != nil {
		t.Fatalf("New without rules = %v, %v; want nil", r, err)
	}
	if got := r.String(`{"password":"x"}`); got != `{"password":"x"}` || r.Count() != 0 || r.Key("password") {
		t.Errorf("a nil Redactor changed %q", got)
	}
	r.Logs(&logspb.ResourceLogs{})
}

func TestBadPattern(t *testing.T) {
	for _, p := range []string{`(unclosed`, `a*`} {
		if _, err := New(nil, []string{`ok`, p}); err == nil || !strings.Contains(err.Error(), "pattern 2") {
			t.Errorf("New(%q) = %v, want an error naming pattern 2", p, err)
		}
	}
}

// TestLogs: structured bodies lose the values of named keys whole, at
// any depth; text bodies and attributes are searched.
func TestLogs(t *testing.T) {
	r, err := New([]string{"token"}, []string{`secret-\w+`})
	if err != nil {
		t.Fatal(err)
	}
	kv := func(k string, v *commonpb.AnyValue) *commonpb.KeyValue { return &commonpb.KeyValue{Key: k, Value: v} }
	nested := &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
		kv("user", str("ann")),
		kv("auth", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
			kv("Token", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 42}})}}}}),
		kv("list", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{str("a secret-xyz")}}}}),
	}}}}
	text := &logspb.LogRecord{Body: str(`sent {"token":"t0k"} with secret-abc`), Attributes: []*commonpb.KeyValue{kv("token", str("t1")), kv("note", str("secret-q"))}}
	rl := &logspb.ResourceLogs{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{Body: nested}, text}}}}
	r.Logs(rl)
	got := rl.String()
	for _, leak := range []string{"t0k", "t1", "42", "secret-"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q left in %s", leak, got)
		}
	}
	if !strings.Contains(got, "ann") {
		t.Errorf("a value not named was hidden: %s", got)
	}
	if n := r.Count(); n != 6 {
		t.Errorf("counted %d, want 6", n)
	}
}

// BenchmarkLogs measures the rules on a function's text line and on a
// JSON-format line, as the buffer runs them on each record.
func BenchmarkLogs(b *testing.B) {
	r, err := New([]string{"password", "authorization"}, []string{`\b\d{4}-\d{4}-\d{4}-\d{4}\b`, `(?i)bearer\s+[A-Za-z0-9._-]+`})
	if err != nil {
		b.Fatal(err)
	}
	line := "2026-12-06T05:00:00.000Z\t8476a536-e9f4-11e8-9739-2dfe598c3fcd\tINFO\tcharged order ord-001234 for customer cus-0042 " +
		`{"amount":42.5,"currency":"EUR","card":"4111-1111-1111-1111","note":"leave at the door"}`
	kv := func(k, v string) *commonpb.KeyValue { return &commonpb.KeyValue{Key: k, Value: str(v)} }
	b.ReportAllocs()
	for b.Loop() {
		rl := &logspb.ResourceLogs{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
			{Body: str(line)},
			{Body: str("login"), Attributes: []*commonpb.KeyValue{kv("user", "ann"), kv("password", "hunter2"), kv("requestId", "8476a536")}},
		}}}}
		r.Logs(rl)
	}
}
