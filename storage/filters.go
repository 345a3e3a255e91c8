package storage

import (
	"fmt"
	"time"
)

// What the reads select: their filters and limits. A time range is
// [since, until) in every read (sql_where.go).

// UsageFilter selects invocations for the aggregates over them. Since and
// Until are required; the other fields are optional.
type UsageFilter struct {
	Since, Until    time.Time
	FunctionName    string
	FunctionVersion string
	AccountID       string
	Region          string
}

func (f UsageFilter) check(action string) error {
	return requireRange(action, f.Since, f.Until)
}

// Invocation search limits.
const (
	DefaultInvocationLimit = 100
	MaxInvocationLimit     = 100_000
)

// InvocationFilter selects invocations. Zero fields match everything.
type InvocationFilter struct {
	FunctionName string
	Since, Until time.Time // Since inclusive, Until exclusive
	RequestIDs   []string
	TraceID      [16]byte // zero = any
	TenantID     string   // empty = any
	Limit        int      // 0 = 100; capped at MaxInvocationLimit
	// Trigger, when set, keeps the invocations of one kind of trigger
	// ("sqs", "apigateway-http"); TriggerSource those whose event came
	// from one source (a queue's name, a route; migration 56).
	Trigger, TriggerSource string
	// ErrorType, when set, keeps the invocations whose error has this
	// type, the platform's (error_type) or the function's
	// (function_error_type, migration 57).
	ErrorType string
	// Failed keeps the invocations that count as errors, as
	// query.Invocation.Failed does: a status other than success, or an
	// HTTP status of 500 or more that a proxy integration answered with.
	Failed bool
	// FunctionNames, when not empty, keeps the invocations of these
	// functions; the function leads the table's key, so naming the few
	// functions of a trace reads only their rows of the time range.
	FunctionNames []string
	// TraceIDs, when not empty, keeps the invocations of these traces.
	TraceIDs [][16]byte
	// TraceView reads only the columns a trace view shows of an
	// invocation (invocationTraceViewColumns): the response figures, the
	// runtime's and extension's durations and the telemetry counters are
	// left zero.
	TraceView bool
}

// TraceSearchMargin is how far before and after the search range a found
// trace's other spans are looked for when it is summarised.
const TraceSearchMargin = 15 * time.Minute

// Limits of TraceSearchFilter.Limit.
const (
	DefaultTraceSearchLimit = 20
	MaxTraceSearchLimit     = 1000
)

// TraceSearchFilter selects traces by their spans: a trace matches when one
// of its spans meets every condition. Since and Until are required.
type TraceSearchFilter struct {
	Since, Until time.Time
	FunctionName string
	ServiceName  string
	SpanName     string
	// StatusCode keeps spans with this OTLP status code; -1 means any.
	StatusCode int32
	// MinDuration and MaxDuration bound the span's duration; 0 = unbounded.
	MinDuration, MaxDuration time.Duration
	// Attributes must all be present on the span with these values.
	Attributes map[string]string
	// ColdStartOnly keeps spans of invocations that were cold starts.
	ColdStartOnly bool
	// Offset skips that many traces (paging), newest first.
	Offset int
	Limit  int
}

// Limits of DurableFilter.Limit.
const (
	DefaultDurableLimit = 100
	MaxDurableLimit     = 1000
)

// DurableFilter selects the durable executions whose invocations started
// in [Since, Until).
type DurableFilter struct {
	Since, Until time.Time
	FunctionName string
	// Limit bounds the executions returned, the latest first.
	Limit int
}

// SpanEdgeFilter selects the spans edges are derived from.
type SpanEdgeFilter struct {
	Since, Until time.Time
}

// Limits of PickerFilter.Limit.
const (
	DefaultPickerLimit = 200
	MaxPickerLimit     = 1000
)

// PickerFilter selects the spans the query editor's pickers list values
// from. Since and Until are required.
type PickerFilter struct {
	Since, Until time.Time
	// FunctionName, when set, keeps spans of that function.
	FunctionName string
	// Key is the attribute whose values AttributeValues lists.
	Key   string
	Limit int
}

// Limits of the link reads.
const (
	// DefaultLinkLimit is how many linking spans SpansLinkingTo returns
	// when the caller names no limit.
	DefaultLinkLimit = 1000
	// MaxLinkLimit bounds SpansLinkingTo's limit.
	MaxLinkLimit = 100_000
	// MaxSpanRefs bounds the spans SpansByRef looks up in one call.
	MaxSpanRefs = 1000
)

// SpanRef names one span.
type SpanRef struct {
	TraceID [16]byte
	SpanID  [8]byte
}

// Limits of LogFilter.Limit.
const (
	DefaultLogLimit = 100
	MaxLogLimit     = 100_000
)

// LogFilter selects log records. Zero fields match everything.
type LogFilter struct {
	FunctionName string
	Since, Until time.Time // Since inclusive, Until exclusive
	RequestID    string
	TraceID      [16]byte // zero = any
	// TraceRequestIDs, with TraceID, also keeps the records that carry no
	// trace ID of their own but belong to one of these requests (the
	// invocations of the trace).
	TraceRequestIDs []string
	// Contains keeps records whose body contains it, ignoring case.
	Contains    string
	MinSeverity uint8 // OTLP severity number; 0 = any
	Limit       int   // 0 = DefaultLogLimit; capped at MaxLogLimit
}

// LogsDroppedMetric is the counter the extension keeps of the log records
// Lambda reported dropped (platform.logsDropped): a cumulative sum per
// execution environment, whose start time identifies the environment.
const LogsDroppedMetric = "lambdascope.extension.lambda.logs_dropped"

// checkRange refuses a range whose until is not after its since; either
// end may be zero (open).
func checkRange(action string, since, until time.Time) error {
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return fmt.Errorf("%s: until must be after since", action)
	}
	return nil
}

// requireRange refuses a range without both ends, or whose until is not
// after its since.
func requireRange(action string, since, until time.Time) error {
	if since.IsZero() || until.IsZero() || !until.After(since) {
		return fmt.Errorf("%s: since and until are required and until must be after since", action)
	}
	return nil
}
