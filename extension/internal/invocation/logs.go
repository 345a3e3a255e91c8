package invocation

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
)

// Attribute keys set on log records.
const (
	AttrInvocationID = "faas.invocation_id"
	// AttrLogType says where a line came from: function, extension or
	// platform; the collector stores it as the log type.
	AttrLogType       = "lambdascope.log.type"
	AttrTelemetryType = "lambdascope.telemetry.type"
)

var severities = map[string]logspb.SeverityNumber{
	"TRACE":    logspb.SeverityNumber_SEVERITY_NUMBER_TRACE,
	"DEBUG":    logspb.SeverityNumber_SEVERITY_NUMBER_DEBUG,
	"INFO":     logspb.SeverityNumber_SEVERITY_NUMBER_INFO,
	"NOTICE":   logspb.SeverityNumber_SEVERITY_NUMBER_INFO2,
	"WARN":     logspb.SeverityNumber_SEVERITY_NUMBER_WARN,
	"WARNING":  logspb.SeverityNumber_SEVERITY_NUMBER_WARN,
	"ERROR":    logspb.SeverityNumber_SEVERITY_NUMBER_ERROR,
	"CRITICAL": logspb.SeverityNumber_SEVERITY_NUMBER_FATAL,
	"FATAL":    logspb.SeverityNumber_SEVERITY_NUMBER_FATAL,
}

// parseSeverity maps a level word ("INFO", "[warn]", "Error") to OTLP.
func parseSeverity(word string) (string, logspb.SeverityNumber, bool) {
	w := strings.ToUpper(strings.Trim(strings.TrimSpace(word), "[]:"))
	n, ok := severities[w]
	return w, n, ok
}

// textLog builds a record from a text-format line. Runtimes write
// "time\trequestId\tLEVEL\tmessage" (Node.js) or
// "[LEVEL]\ttime\trequestId\tmessage" (Python); the level and request ID are
// taken from the first fields when they are there. A line that is itself a
// JSON object (what runtimes print with AWS_LAMBDA_LOG_FORMAT=json when the
// Telemetry API hands it over as text, as AWS's emulator does) gives its
// request ID.
func textLog(line string, activeRequest string) (*logspb.LogRecord, string) {
	rec := &logspb.LogRecord{Body: stringValue(line)}
	requestID := activeRequest
	if id := jsonLineRequestID(line); id != "" {
		requestID = id
	}
	fields := strings.SplitN(line, "\t", 4)
	if len(fields) == 1 {
		// "[INFO] message" with a space.
		fields = strings.SplitN(line, " ", 2)
		fields = fields[:1]
	}
	levelFound := false
	for i, f := range fields {
		if i == len(fields)-1 && len(fields) == 4 {
			break // the message itself
		}
		if !levelFound {
			if text, num, ok := parseSeverity(f); ok {
				rec.SeverityText, rec.SeverityNumber, levelFound = text, num, true
				continue
			}
		}
		if looksLikeRequestID(f) {
			requestID = f
		}
	}
	return rec, requestID
}

// jsonLineRequestID returns the request ID of a text line that is a JSON
// object naming one, "" otherwise.
func jsonLineRequestID(line string) string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
		return ""
	}
	var ids struct {
		RequestID         string `json:"requestId"`
		RequestIDSnake    string `json:"request_id"`
		AWSRequestID      string `json:"AWSRequestId"`
		AWSRequestIDSnake string `json:"aws_request_id"`
		FunctionRequestID string `json:"function_request_id"`
	}
	// A field of another type fails the decoding of that field alone; a
	// line that is not JSON fills none.
	_ = json.Unmarshal([]byte(line), &ids)
	return cmp.Or(ids.RequestID, ids.RequestIDSnake, ids.AWSRequestID, ids.AWSRequestIDSnake, ids.FunctionRequestID)
}

// jsonLog builds a record from a JSON-format line. The message becomes the
// body, the level the severity, trace and span IDs are taken when present,
// and the remaining fields become attributes.
func jsonLog(fields map[string]any, activeRequest string) (*logspb.LogRecord, string) {
	rec := &logspb.LogRecord{}
	requestID := activeRequest
	used := map[string]bool{}
	take := func(keys ...string) (string, bool) {
		for _, k := range keys {
			if v, ok := fields[k].(string); ok && v != "" {
				used[k] = true
				return v, true
			}
		}
		return "", false
	}
	if lvl, ok := take("level", "severity", "levelname", "log.level"); ok {
		if text, num, ok := parseSeverity(lvl); ok {
			rec.SeverityText, rec.SeverityNumber = text, num
		} else {
			rec.SeverityText = lvl
		}
	}
	if ts, ok := take("timestamp", "time", "@timestamp"); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			rec.TimeUnixNano = uint64(t.UnixNano())
		} else {
			used["timestamp"], used["time"], used["@timestamp"] = false, false, false
		}
	}
	if id, ok := take("requestId", "request_id", "AWSRequestId", "aws_request_id", "function_request_id"); ok {
		requestID = id
	}
	if tid, ok := take("traceId", "trace_id", "traceID"); ok {
		rec.TraceId = decodeHexID(tid, 16)
	}
	if rec.TraceId == nil {
		if x, ok := take("xray_trace_id", "xrayTraceId", "AWSTraceHeader"); ok {
			rec.TraceId = XRayTraceID(x)
		}
	}
	if sid, ok := take("spanId", "span_id", "spanID"); ok {
		rec.SpanId = decodeHexID(sid, 8)
	}
	if msg, ok := fields["message"]; ok {
		used["message"] = true
		rec.Body = anyValue(msg)
	} else if msg, ok := fields["msg"]; ok {
		used["msg"] = true
		rec.Body = anyValue(msg)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if !used[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if rec.Body == nil {
		// No message field: the whole object is the body.
		rec.Body = anyValue(fields)
		return rec, requestID
	}
	for _, k := range keys {
		rec.Attributes = append(rec.Attributes, &commonpb.KeyValue{Key: k, Value: anyValue(fields[k])})
	}
	return rec, requestID
}

// logFromEvent converts a function or extension log event.
func logFromEvent(ev *telemetry.Event, activeRequest string, observed time.Time) (*logspb.LogRecord, string) {
	var rec *logspb.LogRecord
	var requestID string
	if ev.Log.IsJSON() {
		rec, requestID = jsonLog(ev.Log.Fields, activeRequest)
	} else {
		rec, requestID = textLog(trimLineEnd(ev.Log.Text), activeRequest)
	}
	if rec.TimeUnixNano == 0 && !ev.Time.IsZero() {
		rec.TimeUnixNano = uint64(ev.Time.UnixNano())
	}
	rec.ObservedTimeUnixNano = uint64(observed.UnixNano())
	source := "function"
	if ev.Type == telemetry.TypeExtensionLog {
		source = "extension"
	}
	rec.Attributes = append(rec.Attributes, &commonpb.KeyValue{Key: AttrLogType, Value: stringValue(source)})
	if requestID != "" {
		rec.Attributes = append(rec.Attributes, &commonpb.KeyValue{Key: AttrInvocationID, Value: stringValue(requestID)})
	}
	return rec, requestID
}

// trimLineEnd removes the one line ending Lambda leaves on a text-format
// line ("\n" or "\r\n"); what the function wrote before it, blank lines
// included, stays.
func trimLineEnd(line string) string {
	if s, ok := strings.CutSuffix(line, "\n"); ok {
		return strings.TrimSuffix(s, "\r")
	}
	return line
}

// rawLog keeps an event the extension does not interpret as a log record
// whose body is the event's JSON.
func rawLog(ev *telemetry.Event, activeRequest string, observed time.Time, sev logspb.SeverityNumber) *logspb.LogRecord {
	rec := &logspb.LogRecord{
		Body:                 stringValue(string(ev.Raw)),
		ObservedTimeUnixNano: uint64(observed.UnixNano()),
		SeverityNumber:       sev,
		Attributes: []*commonpb.KeyValue{
			{Key: AttrLogType, Value: stringValue("platform")},
			{Key: AttrTelemetryType, Value: stringValue(ev.Type)},
		},
	}
	if !ev.Time.IsZero() {
		rec.TimeUnixNano = uint64(ev.Time.UnixNano())
	}
	if activeRequest != "" {
		rec.Attributes = append(rec.Attributes, &commonpb.KeyValue{Key: AttrInvocationID, Value: stringValue(activeRequest)})
	}
	return rec
}

func stringValue(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

// anyValue converts a decoded JSON value (numbers as json.Number) to OTLP.
func anyValue(v any) *commonpb.AnyValue {
	switch x := v.(type) {
	case nil:
		return &commonpb.AnyValue{}
	case string:
		return stringValue(x)
	case bool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: x}}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
		}
		if f, err := x.Float64(); err == nil {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
		}
		return stringValue(x.String())
	case float64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: x}}
	case []any:
		arr := &commonpb.ArrayValue{Values: make([]*commonpb.AnyValue, 0, len(x))}
		for _, e := range x {
			arr.Values = append(arr.Values, anyValue(e))
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		kv := &commonpb.KeyValueList{Values: make([]*commonpb.KeyValue, 0, len(x))}
		for _, k := range keys {
			kv.Values = append(kv.Values, &commonpb.KeyValue{Key: k, Value: anyValue(x[k])})
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: kv}}
	default:
		return stringValue("")
	}
}
