package agent

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/redact"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// A trigger's source passes the redaction rules, as the attribute it is
// taken from does, and is cut to its bound at a character boundary; an
// event only sniffed names none.
func TestTriggerSourceRedactedAndBounded(t *testing.T) {
	red, err := redact.New(nil, []string{`acct-\d+`})
	if err != nil {
		t.Fatal(err)
	}
	long := "/" + strings.Repeat("é", invocation.MaxTriggerSource)
	for _, tt := range []struct {
		name string
		trig trigger.Trigger
		want string
	}{
		{"queue named after an account", trigger.Trigger{Kind: trigger.SQS,
			Attrs: []trigger.Attr{{Key: "messaging.destination.name", Str: "orders-acct-1234"}}}, "orders-[REDACTED]"},
		{"long route", trigger.Trigger{Kind: trigger.APIGatewayREST, Name: "GET " + long},
			invocation.CutText("GET "+long, invocation.MaxTriggerSource)},
		{"sniffed", trigger.Sniff([]byte(`{"Records":[{"eventSource":"aws:sqs"`)), ""},
		{"step functions execution only", trigger.Trigger{Kind: trigger.StepFunctions,
			Attrs: []trigger.Attr{{Key: "aws.stepfunctions.execution.arn", Str: "arn:aws:states:us-east-1:123456789012:execution:checkout:run-7"}}},
			"checkout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := triggerSource(tt.trig, red)
			if got != tt.want || len(got) > invocation.MaxTriggerSource || !utf8.ValidString(got) {
				t.Errorf("triggerSource = %q (%d bytes), want %q", got, len(got), tt.want)
			}
		})
	}
}

// BenchmarkTriggerSource is what naming the source adds to each
// invocation's record, for the 10-record SQS batch trigger's
// BenchmarkDetect reads, with a redaction rule.
func BenchmarkTriggerSource(b *testing.B) {
	red, err := redact.New(nil, []string{`acct-\d+`})
	if err != nil {
		b.Fatal(err)
	}
	trig := trigger.Detect([]byte(sample(b, "bench/sqs-batch-10.json")))
	if trig.Kind != trigger.SQS || trig.Records != 10 || triggerSource(trig, red) == "" {
		b.Fatalf("trigger %s of %d records from %q", trig.Kind, trig.Records, triggerSource(trig, red))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = triggerSource(trig, red)
	}
}
