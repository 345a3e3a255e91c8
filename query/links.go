package query

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// AttrMessageID is the link attribute naming the message a batch record
// was (OpenTelemetry's messaging.message.id).
const AttrMessageID = "messaging.message.id"

// Bounds of the links a trace view reads.
const (
	// MaxTraceLinksIn is how many spans of other traces linking to a trace
	// TraceByID reads; Trace.LinksInTruncated says when there were more.
	MaxTraceLinksIn = 500
	// maxResolvedLinks is how many of a trace's links out TraceByID looks
	// the far end of up; the rest are listed unresolved.
	maxResolvedLinks = 2 * storage.MaxSpanRefs
)

// TraceLink is a span link between a span of this trace and a span of
// another: out, the link a span here holds (a batch consumer's link to the
// record's producer); in, a span there holding a link to a span here (a
// consumer of what this trace produced).
type TraceLink struct {
	// SpanID is the span of this trace: the one holding the link (out) or
	// the one linked to (in).
	SpanID SpanID `json:"spanId"`
	// Other is the span of the other trace.
	Other LinkedSpan `json:"other"`
	// MessageID is the link's messaging.message.id: the record of a batch.
	MessageID string `json:"messageId,omitempty"`
	// Attributes are the link's own.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// LinkedSpan is the span at the other end of a link, described when it is
// stored.
type LinkedSpan struct {
	TraceID TraceID `json:"traceId"`
	SpanID  SpanID  `json:"spanId"`
	// Stored says the span was found; the fields below are empty
	// otherwise (not sent, not kept, or out of retention).
	Stored       bool          `json:"stored"`
	Start        time.Time     `json:"start,omitzero"`
	Duration     time.Duration `json:"durationNs,omitempty"`
	Name         string        `json:"name,omitempty"`
	Kind         int32         `json:"kind,omitempty"`
	StatusCode   int32         `json:"statusCode,omitempty"`
	ServiceName  string        `json:"serviceName,omitempty"`
	FunctionName string        `json:"functionName,omitempty"`
	RequestID    string        `json:"requestId,omitempty"`
}

// Source names what emitted the linked span: the function name, else the
// service name.
func (l *LinkedSpan) Source() string {
	if l.FunctionName != "" {
		return l.FunctionName
	}
	return l.ServiceName
}

// LinksIn lists the spans of other traces that link to a span of trace
// id, oldest first, at most limit (0 means storage's default): which
// invocations consumed what the trace produced.
func (s *Service) LinksIn(ctx context.Context, id TraceID, limit int) ([]TraceLink, error) {
	if id.IsZero() {
		return nil, fmt.Errorf("%w: all zeros", ErrInvalidTraceID)
	}
	recs, err := s.store.SpansLinkingTo(ctx, id, limit)
	if err != nil {
		return nil, fmt.Errorf("read links to trace %s: %w", id, err)
	}
	out := make([]TraceLink, len(recs))
	for i, r := range recs {
		out[i] = TraceLink{
			SpanID:     r.LinkedSpanID,
			Other:      linkedSpan(r.Span),
			MessageID:  r.Attributes[AttrMessageID],
			Attributes: r.Attributes,
		}
	}
	return out, nil
}

// LinksOut lists the links the spans of trace id hold to spans of other
// traces, in the order of the spans, with the far end described where it
// is stored: what a consumer's batch came from.
func (s *Service) LinksOut(ctx context.Context, id TraceID) ([]TraceLink, error) {
	if id.IsZero() {
		return nil, fmt.Errorf("%w: all zeros", ErrInvalidTraceID)
	}
	records, err := s.store.SpansByTraceID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read spans of trace %s: %w", id, err)
	}
	return s.linksOut(ctx, id, func(yield func(*Span) bool) {
		for i := range records {
			sp := spanFromRecord(&records[i])
			if !yield(&sp) {
				return
			}
		}
	})
}

// linksOut collects the links of spans to other traces, once each, and
// looks up the spans they point to.
func (s *Service) linksOut(ctx context.Context, id TraceID, spans iter.Seq[*Span]) ([]TraceLink, error) {
	type key struct {
		from SpanID
		to   storage.SpanRef
	}
	var out []TraceLink
	seen := map[key]bool{}
	for sp := range spans {
		for _, l := range sp.Links {
			if l.TraceID == id || l.TraceID.IsZero() {
				continue
			}
			k := key{sp.SpanID, storage.SpanRef{TraceID: l.TraceID, SpanID: l.SpanID}}
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, TraceLink{SpanID: sp.SpanID, Other: LinkedSpan{TraceID: l.TraceID, SpanID: l.SpanID},
				MessageID: l.Attributes[AttrMessageID], Attributes: l.Attributes})
		}
	}
	var refs []storage.SpanRef
	asked := map[storage.SpanRef]bool{}
	for _, l := range out {
		ref := storage.SpanRef{TraceID: l.Other.TraceID, SpanID: l.Other.SpanID}
		if !asked[ref] && len(refs) < maxResolvedLinks {
			asked[ref] = true
			refs = append(refs, ref)
		}
	}
	found := map[storage.SpanRef]storage.SpanHead{}
	for chunk := range slices.Chunk(refs, storage.MaxSpanRefs) {
		heads, err := s.store.SpansByRef(ctx, chunk)
		if err != nil {
			return nil, fmt.Errorf("read the spans trace %s links to: %w", id, err)
		}
		for _, h := range heads {
			found[storage.SpanRef{TraceID: h.TraceID, SpanID: h.SpanID}] = h
		}
	}
	for i := range out {
		if h, ok := found[storage.SpanRef{TraceID: out[i].Other.TraceID, SpanID: out[i].Other.SpanID}]; ok {
			out[i].Other = linkedSpan(h)
		}
	}
	return out, nil
}

func linkedSpan(h storage.SpanHead) LinkedSpan {
	return LinkedSpan{
		TraceID: h.TraceID, SpanID: h.SpanID, Stored: true,
		Start: h.Start, Duration: h.Duration, Name: h.Name, Kind: h.Kind, StatusCode: h.StatusCode,
		ServiceName: h.ServiceName, FunctionName: h.FunctionName, RequestID: h.RequestID,
	}
}

// triggerNames are the display names of the lambdascope.trigger values of
// inferred spans.
var triggerNames = map[string]string{
	"apigateway-rest":      "API Gateway",
	"apigateway-http":      "API Gateway (HTTP API)",
	"apigateway-websocket": "API Gateway WebSocket",
	"alb":                  "ALB",
	"function-url":         "Function URL",
	"sqs":                  "SQS",
	"sns":                  "SNS",
	"eventbridge":          "EventBridge",
	"schedule":             "EventBridge Scheduler",
	"s3":                   "S3",
	"dynamodb":             "DynamoDB Streams",
	"kinesis":              "Kinesis",
	"cloudwatch-logs":      "CloudWatch Logs",
	"stepfunctions":        "Step Functions",
	"direct":               "direct invoke",
}

// Attributes of the spans the extension infers from invocation events.
const (
	AttrTrigger        = "lambdascope.trigger"
	AttrHTTPStatusCode = "http.response.status_code"
	AttrMessageCount   = "messaging.batch.message_count"
)

// TriggerName is the display name of a lambdascope.trigger value ("API
// Gateway" for apigateway-rest); an unknown value is returned as it is.
func TriggerName(trigger string) string {
	if n, ok := triggerNames[trigger]; ok {
		return n
	}
	return trigger
}

// Trigger describes the upstream hop an inferred span stands for, as
// "API Gateway GET /orders 200" or "SQS orders-queue process, 3 messages";
// empty for a span the extension did not infer from an event.
func (s *Span) Trigger() string {
	kind := s.Attributes[AttrTrigger]
	if kind == "" {
		return ""
	}
	out := TriggerName(kind) + " " + s.Name
	if code := s.Attributes[AttrHTTPStatusCode]; code != "" {
		out += " " + code
	}
	if n := s.Attributes[AttrMessageCount]; n != "" {
		if n == "1" {
			out += ", 1 message"
		} else {
			out += ", " + n + " messages"
		}
	}
	return out
}
