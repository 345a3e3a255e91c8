package agent

import (
	"strings"

	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/redact"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// NoContext is the trace context source of an invocation record whose
// event carried no context the precedence takes: its inferred span starts
// a trace of its own.
const NoContext = "none"

// triggerSource is the one short name of where an event came from, for
// the invocation's record: the queue, topic, bucket, table or stream of a
// batch, the route of an HTTP request ("POST /orders/{id}"), the ALB's
// target group, the schedule's rule, the EventBridge source and detail
// type, the state machine, the durable execution; empty when the event
// names none (a direct invocation, a CloudWatch Logs subscription, an
// event only sniffed). It passes the redaction rules like the attributes
// it is taken from, and is cut to invocation.MaxTriggerSource bytes.
func triggerSource(t trigger.Trigger, red *redact.Redactor) string {
	attr := func(key string) string {
		for _, a := range t.Attrs {
			if a.Key == key && !a.IsInt && !a.IsBool {
				return a.Str
			}
		}
		return ""
	}
	var s string
	switch t.Kind {
	case trigger.ALB:
		// arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID
		s = attr("aws.elb.target_group_arn")
		if _, rest, ok := strings.Cut(s, ":targetgroup/"); ok {
			s, _, _ = strings.Cut(rest, "/")
		}
	case trigger.APIGatewayREST, trigger.APIGatewayHTTP, trigger.APIGatewayWebSocket, trigger.FunctionURL,
		trigger.EventBridge:
		// The method and route, the WebSocket route, the source and
		// detail type: the inferred span's name. An event only sniffed
		// is named after its kind and names no source.
		if t.Name != string(t.Kind) {
			s = t.Name
		}
	case trigger.SQS, trigger.SNS, trigger.S3, trigger.DynamoDB, trigger.Kinesis:
		s = attr("messaging.destination.name")
	case trigger.Schedule:
		// arn:aws:events:REGION:ACCOUNT:rule/NAME
		s = lastPart(attr("aws.eventbridge.rule"), "/")
	case trigger.StepFunctions:
		// arn:aws:states:REGION:ACCOUNT:stateMachine:NAME, or the
		// execution's arn:aws:states:REGION:ACCOUNT:execution:NAME:EXECUTION
		if sm := attr("aws.stepfunctions.state_machine.arn"); sm != "" {
			s = lastPart(sm, ":")
		} else if parts := strings.Split(attr("aws.stepfunctions.execution.arn"), ":"); len(parts) >= 7 {
			s = parts[6]
		}
	case trigger.DurableExecution:
		s = attr("aws.lambda.durable.execution.name")
	}
	return invocation.CutText(red.String(strings.TrimSpace(s)), invocation.MaxTriggerSource)
}

// contextSource is the trace context source of an invocation record: the
// inferred span's lambdascope.trace_context.source, NoContext when the
// event carried none.
func contextSource(sc trigger.SpanContext) string {
	if sc.Source == "" {
		return NoContext
	}
	return string(sc.Source)
}

func lastPart(s, sep string) string {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[i+len(sep):]
	}
	return s
}
