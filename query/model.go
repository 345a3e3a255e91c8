package query

import (
	"fmt"
	"time"
)

// Status codes of a span, as in OTLP.
const (
	StatusUnset int32 = 0
	StatusOK    int32 = 1
	StatusError int32 = 2
)

// Span is one stored span.
type Span struct {
	TraceID         TraceID           `json:"traceId"`
	SpanID          SpanID            `json:"spanId"`
	ParentSpanID    SpanID            `json:"parentSpanId,omitzero"`
	TraceState      string            `json:"traceState,omitempty"`
	Start           time.Time         `json:"start"`
	Duration        time.Duration     `json:"durationNs"`
	Name            string            `json:"name"`
	Kind            int32             `json:"kind"`
	StatusCode      int32             `json:"statusCode"`
	StatusMessage   string            `json:"statusMessage,omitempty"`
	ServiceName     string            `json:"serviceName,omitempty"`
	FunctionName    string            `json:"functionName,omitempty"`
	FunctionVersion string            `json:"functionVersion,omitempty"`
	AccountID       string            `json:"accountId,omitempty"`
	Region          string            `json:"region,omitempty"`
	RequestID       string            `json:"requestId,omitempty"`
	Attributes      map[string]string `json:"attributes,omitempty"`
	// ResourceAttributes describe what emitted the span.
	ResourceAttributes map[string]string `json:"resourceAttributes,omitempty"`
	Events             []SpanEvent       `json:"events,omitempty"`
	Links              []SpanLink        `json:"links,omitempty"`
}

// SpanLink points from a span to a span of another (or the same) trace.
type SpanLink struct {
	TraceID    TraceID           `json:"traceId"`
	SpanID     SpanID            `json:"spanId"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// End is when the span ended by its own clock.
func (s *Span) End() time.Time { return s.Start.Add(s.Duration) }

// IsError reports whether the span's status is ERROR.
func (s *Span) IsError() bool { return s.StatusCode == StatusError }

// Source names what emitted the span: the function name, else the service
// name.
func (s *Span) Source() string {
	if s.FunctionName != "" {
		return s.FunctionName
	}
	return s.ServiceName
}

// SpanEvent is a timed annotation on a span.
type SpanEvent struct {
	Time       time.Time         `json:"time"`
	Name       string            `json:"name"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Invocation is what the Lambda platform reported about one invocation.
type Invocation struct {
	AccountID          string    `json:"accountId"`
	Region             string    `json:"region"`
	FunctionName       string    `json:"functionName"`
	FunctionVersion    string    `json:"functionVersion"`
	ServiceName        string    `json:"serviceName,omitempty"`
	Architecture       string    `json:"architecture,omitempty"`
	Runtime            string    `json:"runtime,omitempty"`
	InitializationType string    `json:"initializationType,omitempty"`
	LogStream          string    `json:"logStream,omitempty"`
	RequestID          string    `json:"requestId"`
	Start              time.Time `json:"start"`
	MemorySizeMB       uint32    `json:"memorySizeMB"`
	MaxMemoryUsedMB    uint32    `json:"maxMemoryUsedMB"`
	EphemeralStorageMB uint32    `json:"ephemeralStorageMB,omitempty"`
	DurationMs         float64   `json:"durationMs"`
	BilledDurationMs   uint64    `json:"billedDurationMs"`
	// BilledInitDurationMs is the part of BilledDurationMs spent in INIT.
	BilledInitDurationMs float64 `json:"billedInitDurationMs,omitempty"`
	InitDurationMs       float64 `json:"initDurationMs,omitempty"`
	RestoreDurationMs    float64 `json:"restoreDurationMs,omitempty"`
	ColdStart            bool    `json:"coldStart"`
	// Status is "success", "error", "timeout" or "failure".
	Status    string  `json:"status"`
	ErrorType string  `json:"errorType,omitempty"`
	TraceID   TraceID `json:"traceId,omitzero"`
	SpanID    SpanID  `json:"spanId,omitzero"`
	// XRayTraceHeader is the X-Ray trace header Lambda passed, verbatim.
	XRayTraceHeader string `json:"xrayTraceHeader,omitempty"`
	// The figures the platform did not report: DurationMs and
	// MaxMemoryUsedMB then read 0 and mean unknown; BilledDurationMs holds
	// an estimate, the duration rounded up to 1 ms, as AWS bills.
	DurationUnknown      bool `json:"durationUnknown,omitempty"`
	BilledEstimated      bool `json:"billedDurationEstimated,omitempty"`
	MaxMemoryUsedUnknown bool `json:"maxMemoryUsedUnknown,omitempty"`
	MemorySizeUnknown    bool `json:"memorySizeUnknown,omitempty"`
	// Incomplete says the platform sent no report for the invocation
	// before its environment shut down; the record holds what was known.
	Incomplete bool `json:"incomplete,omitempty"`
	// TenantID is the tenant of a function in tenant isolation mode.
	TenantID string `json:"tenantId,omitempty"`
	// Trigger is what invoked the function, as the extension read it from
	// the event ("apigateway-rest", "sqs", "direct"); empty when unknown.
	Trigger string `json:"trigger,omitempty"`
	// HTTPStatusCode is the status a proxy integration (API Gateway, ALB,
	// function URL) answered with; 0 for none.
	HTTPStatusCode uint16 `json:"httpStatusCode,omitempty"`
	// ResponseSize is the size of the runtime's answer in bytes, 0 when
	// not seen.
	ResponseSize uint64 `json:"responseSize,omitempty"`
	// TriggerSource names where the event came from: the queue, topic,
	// bucket, table or stream, the route of an HTTP request ("POST
	// /orders/{id}"), the ALB's target group, the schedule's rule; empty
	// when unknown or the event names none.
	TriggerSource string `json:"triggerSource,omitempty"`
	// ErrorMessage is the message of the error the runtime reported
	// (redacted by the extension, at most 1 KiB); empty for none.
	ErrorMessage string `json:"errorMessage,omitempty"`
	// TraceContextSource is where the invocation's trace context came
	// from: "w3c" (the event's HTTP headers or message attributes),
	// "xray" (an X-Ray header in the event), "lambda" (the runtime's
	// trace ID), "durable", "function" (the function's SDK), "none";
	// empty when unknown.
	TraceContextSource string `json:"traceContextSource,omitempty"`
	// FunctionErrorType is the type the function's runtime gave the error
	// it reported through /error ("errorString" or the error's Go type for
	// aws-lambda-go, "TypeError" for Node.js, "ValueError" for Python),
	// redacted by the extension, at most 256 bytes; empty for none.
	// ErrorType is the platform's ("Runtime.Unknown" when the runtime
	// named none to it).
	FunctionErrorType string `json:"functionErrorType,omitempty"`
}

// Failed reports whether the invocation counts as an error: the platform
// reported anything but success, or a proxy integration answered with an
// HTTP status of 500 or more (the caller got a server error although the
// function returned).
func (inv *Invocation) Failed() bool {
	return inv.Status != "" && inv.Status != "success" || inv.HTTPStatusCode >= 500
}

// Limits of InvocationFilter.Limit.
const (
	DefaultInvocationLimit = 100
	MaxInvocationLimit     = 10000
)

// InvocationFilter selects invocation records. Zero fields select anything.
type InvocationFilter struct {
	FunctionName string
	// Since and Until bound the invocation's start; zero means unbounded.
	Since, Until time.Time
	RequestIDs   []string
	// TraceID, when not zero, keeps the invocations of one trace.
	TraceID TraceID
	// TenantID, when set, keeps the invocations of one tenant (tenant
	// isolation mode).
	TenantID string
	// Trigger, when set, keeps the invocations of one kind of trigger
	// ("sqs", "apigateway-http"); TriggerSource those whose event came
	// from one source (a queue's name, a route "POST /orders/{id}").
	Trigger, TriggerSource string
	// Failed keeps the invocations that count as errors (Invocation.Failed):
	// a status other than success, or an HTTP status of 500 or more.
	Failed bool
	// ErrorType, when set, keeps the invocations whose error has this
	// type, the platform's (ErrorType) or the function's
	// (FunctionErrorType).
	ErrorType string
	// Limit caps the number of records, newest first: 0 means
	// DefaultInvocationLimit, at most MaxInvocationLimit.
	Limit int
}

// Validate reports what makes the filter unusable, naming the field.
func (f *InvocationFilter) Validate() error {
	if f.Limit < 0 || f.Limit > MaxInvocationLimit {
		return fmt.Errorf("%w: limit must be between 1 and %d, got %d", ErrInvalidFilter, MaxInvocationLimit, f.Limit)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return fmt.Errorf("%w: since (%s) must be before until (%s)", ErrInvalidFilter,
			f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	for i, id := range f.RequestIDs {
		if id == "" {
			return fmt.Errorf("%w: request_ids[%d] is empty", ErrInvalidFilter, i)
		}
	}
	return nil
}
