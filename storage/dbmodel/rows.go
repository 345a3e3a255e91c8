package dbmodel

import (
	"math"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Span is one row of the spans table.
type Span struct {
	TraceID       [16]byte
	SpanID        [8]byte
	ParentSpanID  [8]byte // zeros for a root span
	TraceState    string
	StartUnixNano uint64
	DurationNs    uint64
	Name          string
	Kind          uint8 // OTLP SpanKind
	StatusCode    uint8 // OTLP status code: 0 unset, 1 ok, 2 error
	StatusMessage string

	ServiceName     string
	FunctionName    string
	FunctionVersion string
	AccountID       string
	Region          string
	RequestID       string
	ScopeName       string
	ScopeVersion    string

	Attributes         KeyValues
	ResourceAttributes KeyValues

	EventTimes      []uint64
	EventNames      []string
	EventAttributes []string // JSON objects of rendered values

	LinkTraceIDs   [][16]byte
	LinkSpanIDs    [][8]byte
	LinkAttributes []string // JSON objects of rendered values
}

// Log is one row of the logs table.
type Log struct {
	TimeUnixNano         uint64 // event time, observed time when the source gave none
	ObservedTimeUnixNano uint64
	TraceID              [16]byte
	SpanID               [8]byte
	SeverityNumber       uint8
	SeverityText         string
	Body                 string

	ServiceName     string
	FunctionName    string
	FunctionVersion string
	AccountID       string
	Region          string
	RequestID       string
	LogType         string // one of the LogType* constants

	Attributes         KeyValues
	ResourceAttributes KeyValues
}

// Invocation is one row of the invocations table.
type Invocation struct {
	StartUnixNano uint64

	AccountID          string
	Region             string
	FunctionName       string
	FunctionVersion    string
	ServiceName        string
	Architecture       string
	Runtime            string
	InitializationType string
	LogStream          string
	RequestID          string

	MemorySizeMB         uint32
	MaxMemoryUsedMB      uint32
	EphemeralStorageMB   uint32
	DurationMs           float64
	BilledDurationMs     uint64
	BilledInitDurationMs float64
	InitDurationMs       float64
	RestoreDurationMs    float64
	ColdStart            bool
	Status               string
	ErrorType            string
	TraceID              [16]byte
	SpanID               [8]byte
	XRayTraceHeader      string
	ResponseLatencyMs    float64
	ResponseDurationMs   float64
	RuntimeOverheadMs    float64
	ProducedBytes        uint64
	// UnknownFigures are the figures the platform did not report, an OR of
	// the Figure* bits. An unknown figure reads 0, except BilledDurationMs,
	// which then holds an estimate (BilledEstimate).
	UnknownFigures uint8
	// Incomplete says the platform sent no report for the invocation; the
	// record holds what was known without it.
	Incomplete bool
	// TenantID is the tenant of a function in tenant isolation mode.
	TenantID string
	// Trigger is what invoked the function, as the extension read it from
	// the event ("apigateway-rest", "sqs", "direct"); empty when unknown.
	Trigger string
	// HTTPStatusCode is the status a proxy integration answered with, 0
	// for none; 500 and above count as an error.
	HTTPStatusCode uint16
	// ResponseSize is the size of the runtime's answer in bytes.
	ResponseSize uint64
	// Telemetry is what the extension received and what became of it
	// since its previous record; Telemetry.Counted is false when the
	// record carries no counts.
	Telemetry TelemetryCounts
	// RuntimeDurationMs is the runtime's part of the invocation
	// (platform.runtimeDone); 0 when unknown.
	RuntimeDurationMs float64
	// ExtensionInitMs is, on an environment's first record, the
	// extension's start to its first /event/next; 0 otherwise.
	ExtensionInitMs float64
	// TriggerSource names where the event came from (the queue, topic,
	// bucket, table or stream, the route "POST /orders/{id}", the
	// schedule's rule); empty when unknown.
	TriggerSource string
	// ErrorMessage is the message of the error the runtime reported
	// through /error, redacted by the extension; empty for none.
	ErrorMessage string
	// TraceContextSource is where the invocation's trace context came
	// from ("w3c", "xray", "lambda", "none"); empty when unknown.
	TraceContextSource string
	// FunctionErrorType is the type the function's runtime gave the error
	// it reported through /error (the body's errorType, else its
	// Lambda-Runtime-Function-Error-Type header), redacted by the
	// extension; empty for none. ErrorType is the platform's.
	FunctionErrorType string
}

// TelemetryCounts are an invocation record's counts of the extension's
// telemetry (the Ingest API's TelemetryCounts), in the invocations table's
// tel_* columns.
type TelemetryCounts struct {
	Counted              bool
	SpansReceived        uint32
	LogLinesReceived     uint32
	BytesReceived        uint64
	BytesShipped         uint64
	SpansSampledOut      uint32
	SpansDropped         uint32
	LogLinesDropped      uint32
	SpansSpooled         uint32
	LogLinesSpooled      uint32
	SpansSpoolDropped    uint32
	LogLinesSpoolDropped uint32
	PlatformLogsDropped  uint32
	SpansRefused         uint32
	LogLinesRefused      uint32
}

// Bits of Invocation.UnknownFigures; the values of the Ingest API's Figure
// enum.
const (
	FigureDuration       = uint8(ingestv1.Figure_FIGURE_DURATION)
	FigureBilledDuration = uint8(ingestv1.Figure_FIGURE_BILLED_DURATION)
	FigureMemorySize     = uint8(ingestv1.Figure_FIGURE_MEMORY_SIZE)
	FigureMaxMemoryUsed  = uint8(ingestv1.Figure_FIGURE_MAX_MEMORY_USED)

	knownFigures = FigureDuration | FigureBilledDuration | FigureMemorySize | FigureMaxMemoryUsed
)

// BilledEstimate is what AWS would bill for an invocation of durationMs
// milliseconds: the duration rounded up to the next millisecond.
func BilledEstimate(durationMs float64) uint64 {
	if !(durationMs > 0) || math.IsInf(durationMs, 1) {
		return 0
	}
	return uint64(math.Ceil(durationMs))
}

// KeyValues is an attribute list as two parallel arrays, the shape of a
// Nested(key String, value String) column.
type KeyValues struct {
	Keys   []string
	Values []string
}

// Map turns the arrays into a map; a repeated key keeps its last value.
func (kv KeyValues) Map() map[string]string {
	m := make(map[string]string, len(kv.Keys))
	for i, k := range kv.Keys {
		if i < len(kv.Values) {
			m[k] = kv.Values[i]
		}
	}
	return m
}

// Get returns the value of the first attribute named key.
func (kv KeyValues) Get(key string) (string, bool) {
	for i, k := range kv.Keys {
		if k == key && i < len(kv.Values) {
			return kv.Values[i], true
		}
	}
	return "", false
}

// Batch is the rows of one ingest batch.
type Batch struct {
	Spans       []Span
	Logs        []Log
	Invocations []Invocation
	Metrics     []MetricPoint
	// Rejected counts items refused one by one (the rest of the batch is
	// kept); Problems says why, for the first few.
	Rejected int
	Problems []string
}

// withoutPromotedRequestID drops the faas.invocation_id attribute once its
// value is in the request_id column, so that it is not stored twice; the
// span keeps it when faas.execution is also present or the values differ.
// RestoreRequestID puts it back on read.
func (kv KeyValues) withoutPromotedRequestID(requestID string) KeyValues {
	idx := promotedRequestID(kv, requestID)
	if idx < 0 {
		return kv
	}
	out := KeyValues{Keys: make([]string, 0, len(kv.Keys)-1), Values: make([]string, 0, len(kv.Values)-1)}
	out.Keys = append(append(out.Keys, kv.Keys[:idx]...), kv.Keys[idx+1:]...)
	out.Values = append(append(out.Values, kv.Values[:idx]...), kv.Values[idx+1:]...)
	return out
}

// RestoreRequestID adds back to a stored span's attributes the
// faas.invocation_id that withoutPromotedRequestID moved into the
// request_id column.
func RestoreRequestID(attrs map[string]string, requestID string) {
	if requestID == "" {
		return
	}
	if _, ok := attrs[AttrInvocationID]; ok {
		return
	}
	if _, ok := attrs[attrFaaSExecution]; ok {
		return
	}
	attrs[AttrInvocationID] = requestID
}

// promotedRequestID is the index of the faas.invocation_id attribute that
// withoutPromotedRequestID drops, or -1.
func promotedRequestID(kv KeyValues, requestID string) int {
	if requestID == "" {
		return -1
	}
	if _, ok := kv.Get(attrFaaSExecution); ok {
		return -1
	}
	idx := -1
	for i, k := range kv.Keys {
		if k == AttrInvocationID {
			if idx >= 0 || i >= len(kv.Values) || kv.Values[i] != requestID {
				return -1 // repeated or different: keep as sent
			}
			idx = i
		}
	}
	return idx
}
