// Package telemetry receives the Lambda Telemetry API's pushes (schema
// versions 2022-12-13 and 2025-01-29, which share the event shapes read
// here) on a local HTTP listener and parses them into events.
package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event types of the Telemetry API.
const (
	TypeInitStart             = "platform.initStart"
	TypeInitRuntimeDone       = "platform.initRuntimeDone"
	TypeInitReport            = "platform.initReport"
	TypeStart                 = "platform.start"
	TypeRuntimeDone           = "platform.runtimeDone"
	TypeReport                = "platform.report"
	TypeRestoreStart          = "platform.restoreStart"
	TypeRestoreRuntimeDone    = "platform.restoreRuntimeDone"
	TypeRestoreReport         = "platform.restoreReport"
	TypeExtension             = "platform.extension"
	TypeTelemetrySubscription = "platform.telemetrySubscription"
	TypeLogsDropped           = "platform.logsDropped"
	TypeFunction              = "function"
	TypeExtensionLog          = "extension"
)

// Kind groups event types by how they are handled.
type Kind uint8

const (
	// KindUnknown is an event type this version does not know, or a known
	// type whose record has an unexpected shape; Raw keeps it.
	KindUnknown Kind = iota
	// KindPlatform is a platform.* event; Platform is set.
	KindPlatform
	// KindLog is a function or extension log line; Log is set.
	KindLog
)

// Event is one telemetry event.
type Event struct {
	// Time is the event's time; zero when it was missing or unparsable.
	Time time.Time
	Type string
	Kind Kind
	// Platform is the record of a platform event.
	Platform *PlatformRecord
	// Log is the record of a function or extension event.
	Log *LogRecord
	// Raw is the whole event as received.
	Raw json.RawMessage
}

// PlatformRecord holds the fields of every platform event record; each type
// fills the ones the schema gives it.
type PlatformRecord struct {
	RequestID          string        `json:"requestId"`
	Version            string        `json:"version"`
	InitializationType string        `json:"initializationType"`
	Phase              string        `json:"phase"`
	RuntimeVersion     string        `json:"runtimeVersion"`
	RuntimeVersionArn  string        `json:"runtimeVersionArn"`
	Status             string        `json:"status"`
	ErrorType          string        `json:"errorType"`
	Metrics            Metrics       `json:"metrics"`
	Spans              []Span        `json:"spans"`
	Tracing            *TraceContext `json:"tracing"`
	// platform.initStart and platform.restoreStart.
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	InstanceID      string `json:"instanceId"`
	// TenantID is the tenant of a function in tenant isolation mode, on
	// the invocation's events.
	TenantID string `json:"tenantId"`
	// platform.logsDropped.
	DroppedBytes   float64 `json:"droppedBytes"`
	DroppedRecords float64 `json:"droppedRecords"`
	Reason         string  `json:"reason"`
	// platform.extension and platform.telemetrySubscription.
	Name   string   `json:"name"`
	State  string   `json:"state"`
	Types  []string `json:"types"`
	Events []string `json:"events"`
}

// Metrics is the union of ReportMetrics, InitReportMetrics and
// RuntimeDoneMetrics. Numbers are float64 so an integer written as 694.0
// still parses. A figure the record did not carry (or carried as null)
// reads 0 and is missing from Given.
type Metrics struct {
	DurationMs        float64
	BilledDurationMs  float64
	MemorySizeMB      float64
	MaxMemoryUsedMB   float64
	InitDurationMs    float64
	RestoreDurationMs float64
	ProducedBytes     float64
	// Given says which figures the record carried.
	Given Figures
}

// Figures is a set of the figures of Metrics.
type Figures uint8

// The figures of Metrics.
const (
	FigureDuration Figures = 1 << iota
	FigureBilledDuration
	FigureMemorySize
	FigureMaxMemoryUsed
	FigureInitDuration
	FigureRestoreDuration
	FigureProducedBytes
)

// Has says whether every figure of f is in the set.
func (s Figures) Has(f Figures) bool { return s&f == f }

// UnmarshalJSON reads the metrics object and notes which figures it gave.
func (m *Metrics) UnmarshalJSON(data []byte) error {
	var raw struct {
		DurationMs        *float64 `json:"durationMs"`
		BilledDurationMs  *float64 `json:"billedDurationMs"`
		MemorySizeMB      *float64 `json:"memorySizeMB"`
		MaxMemoryUsedMB   *float64 `json:"maxMemoryUsedMB"`
		InitDurationMs    *float64 `json:"initDurationMs"`
		RestoreDurationMs *float64 `json:"restoreDurationMs"`
		ProducedBytes     *float64 `json:"producedBytes"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*m = Metrics{}
	for _, f := range []struct {
		src *float64
		dst *float64
		fig Figures
	}{
		{raw.DurationMs, &m.DurationMs, FigureDuration},
		{raw.BilledDurationMs, &m.BilledDurationMs, FigureBilledDuration},
		{raw.MemorySizeMB, &m.MemorySizeMB, FigureMemorySize},
		{raw.MaxMemoryUsedMB, &m.MaxMemoryUsedMB, FigureMaxMemoryUsed},
		{raw.InitDurationMs, &m.InitDurationMs, FigureInitDuration},
		{raw.RestoreDurationMs, &m.RestoreDurationMs, FigureRestoreDuration},
		{raw.ProducedBytes, &m.ProducedBytes, FigureProducedBytes},
	} {
		if f.src != nil {
			*f.dst = *f.src
			m.Given |= f.fig
		}
	}
	return nil
}

// Span is a platform span such as responseLatency or responseDuration.
type Span struct {
	Name       string  `json:"name"`
	Start      string  `json:"start"`
	DurationMs float64 `json:"durationMs"`
}

// TraceContext is the tracing context of an invocation.
type TraceContext struct {
	SpanID string `json:"spanId"`
	Type   string `json:"type"`
	Value  string `json:"value"`
}

// SpanDuration returns the duration of the span with the given name.
func (r *PlatformRecord) SpanDuration(name string) (float64, bool) {
	for _, s := range r.Spans {
		if s.Name == name {
			return s.DurationMs, true
		}
	}
	return 0, false
}

// LogRecord is one function or extension log line: Text for the text log
// format, Fields for the JSON log format.
type LogRecord struct {
	Text   string
	Fields map[string]any
}

// IsJSON says whether the line came in the JSON log format.
func (l *LogRecord) IsJSON() bool { return l.Fields != nil }

// ErrMalformed marks a body that is not a JSON array of events.
var ErrMalformed = errors.New("malformed telemetry batch")

// Parse parses one push of the Telemetry API: a JSON array of events. It
// fails only when the body is not such an array; events it cannot make sense
// of are returned with KindUnknown.
func Parse(data []byte) ([]Event, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	events := make([]Event, 0, len(raws))
	for _, raw := range raws {
		events = append(events, parseEvent(raw))
	}
	return events, nil
}

// CheckBatch says whether Parse would take data: a JSON array (or null),
// well formed. It reads data once and keeps nothing, so a push can be
// answered before its events are read.
func CheckBatch(data []byte) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !json.Valid(data) {
		return fmt.Errorf("%w: not valid JSON", ErrMalformed)
	}
	if len(trimmed) == 0 || (trimmed[0] != '[' && !bytes.Equal(bytes.TrimSpace(trimmed), []byte("null"))) {
		return fmt.Errorf("%w: not a JSON array", ErrMalformed)
	}
	return nil
}

func parseEvent(raw json.RawMessage) Event {
	ev := Event{Raw: raw}
	var env struct {
		Time   string          `json:"time"`
		Type   string          `json:"type"`
		Record json.RawMessage `json:"record"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return ev
	}
	ev.Type = env.Type
	if t, err := time.Parse(time.RFC3339Nano, env.Time); err == nil {
		ev.Time = t
	}
	switch env.Type {
	case TypeInitStart, TypeInitRuntimeDone, TypeInitReport, TypeStart, TypeRuntimeDone, TypeReport,
		TypeRestoreStart, TypeRestoreRuntimeDone, TypeRestoreReport, TypeExtension,
		TypeTelemetrySubscription, TypeLogsDropped:
		var rec PlatformRecord
		if len(env.Record) > 0 && !bytes.Equal(env.Record, []byte("null")) {
			if err := json.Unmarshal(env.Record, &rec); err != nil {
				return ev
			}
		}
		ev.Kind, ev.Platform = KindPlatform, &rec
	case TypeFunction, TypeExtensionLog:
		rec, ok := parseLog(env.Record)
		if !ok {
			return ev
		}
		ev.Kind, ev.Log = KindLog, rec
	}
	return ev
}

func parseLog(record json.RawMessage) (*LogRecord, bool) {
	trimmed := bytes.TrimSpace(record)
	if len(trimmed) == 0 {
		return nil, false
	}
	switch trimmed[0] {
	case '"':
		var s string
		if err := json.Unmarshal(trimmed, &s); err != nil {
			return nil, false
		}
		return &LogRecord{Text: s}, true
	case '{':
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		fields := map[string]any{}
		if err := dec.Decode(&fields); err != nil {
			return nil, false
		}
		return &LogRecord{Fields: fields}, true
	}
	return nil, false
}
