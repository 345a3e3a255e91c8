package frames

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// keyValue is one tag of Grafana's trace view.
type keyValue struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// spanLog is one span event in Grafana's trace view.
type spanLog struct {
	Timestamp float64    `json:"timestamp"`
	Name      string     `json:"name,omitempty"`
	Fields    []keyValue `json:"fields"`
}

// spanReference is a span link in Grafana's trace view.
type spanReference struct {
	TraceID string     `json:"traceID"`
	SpanID  string     `json:"spanID"`
	Tags    []keyValue `json:"tags,omitempty"`
}

// Trace is the frame of Grafana's trace view for one trace: one row per
// span, parents before children, each under the parent it is shown under
// in the tree (see query.BuildTrace: an invocation's lambda.invoke holds
// the function's span it was stored under). Spans moved to fit within
// their parent despite clock skew start at their displayed time and carry
// a warning.
//
// Each span links, from its requestId field, to the record and the logs of
// the invocation it ran in and to what the trace's invocations cost, and
// from its function field to the function's dashboard; Grafana's trace
// view offers every link of a span in its links menu.
func Trace(t *query.Trace, link TraceLink) *data.Frame {
	n := t.SpanCount
	var (
		traceIDs      = make([]string, 0, n)
		spanIDs       = make([]string, 0, n)
		parentIDs     = make([]string, 0, n)
		operations    = make([]string, 0, n)
		services      = make([]string, 0, n)
		serviceTags   = make([]json.RawMessage, 0, n)
		starts        = make([]float64, 0, n)
		durations     = make([]float64, 0, n)
		logs          = make([]json.RawMessage, 0, n)
		references    = make([]json.RawMessage, 0, n)
		tags          = make([]json.RawMessage, 0, n)
		kinds         = make([]string, 0, n)
		statusCodes   = make([]int64, 0, n)
		statusMessage = make([]string, 0, n)
		warnings      = make([]json.RawMessage, 0, n)
		requestIDs    = make([]string, 0, n)
		functions     = make([]string, 0, n)
	)
	resources := resourceTagCache{}
	enc := tagEncoder{strs: map[string][]byte{}}
	var lastTrace query.TraceID
	lastTraceString := ""
	t.Walk(func(node *query.Node) bool {
		sp := &node.Span
		if lastTraceString == "" || sp.TraceID != lastTrace {
			lastTrace, lastTraceString = sp.TraceID, sp.TraceID.String()
		}
		traceIDs = append(traceIDs, lastTraceString)
		spanIDs = append(spanIDs, sp.SpanID.String())
		parent := ""
		if node.Parent != nil {
			parent = node.Parent.Span.SpanID.String()
		}
		parentIDs = append(parentIDs, parent)
		operations = append(operations, sp.Name)
		services = append(services, serviceName(sp))
		serviceTags = append(serviceTags, resources.tags(sp))
		starts = append(starts, millis(node.Start()))
		durations = append(durations, float64(sp.Duration)/float64(time.Millisecond))
		logs = append(logs, emptyOr(len(sp.Events), func() any { return spanLogs(sp.Events) }))
		references = append(references, emptyOr(len(sp.Links), func() any { return spanReferences(sp.Links) }))
		tags = append(tags, enc.tags(spanTags(node)))
		kinds = append(kinds, kindName(sp.Kind))
		statusCodes = append(statusCodes, int64(sp.StatusCode))
		statusMessage = append(statusMessage, sp.StatusMessage)
		w := spanWarnings(node)
		warnings = append(warnings, emptyOr(len(w), func() any { return w }))
		request := sp.RequestID
		if node.Invocation != nil {
			request = node.Invocation.RequestID
		}
		requestIDs = append(requestIDs, request)
		functions = append(functions, sp.FunctionName)
		return true
	})
	f := data.NewFrame("Trace "+t.TraceID.String(),
		data.NewField("traceID", nil, traceIDs),
		data.NewField("spanID", nil, spanIDs),
		data.NewField("parentSpanID", nil, parentIDs),
		data.NewField("operationName", nil, operations),
		data.NewField("serviceName", nil, services),
		data.NewField("serviceTags", nil, serviceTags),
		data.NewField("startTime", nil, starts),
		data.NewField("duration", nil, durations),
		data.NewField("logs", nil, logs),
		data.NewField("references", nil, references),
		data.NewField("tags", nil, tags),
		data.NewField("kind", nil, kinds),
		data.NewField("statusCode", nil, statusCodes),
		data.NewField("statusMessage", nil, statusMessage),
		data.NewField("warnings", nil, warnings),
		withLinks(data.NewField("requestId", nil, nullable(requestIDs)), append(link.invocationLinks(),
			link.internal("Cost of this trace", linkedQuery{QueryType: "traceCost", TraceID: "${__data.fields.traceID}"}))...),
		withLinks(data.NewField("function", nil, nullable(functions)), functionDashboardLink(link)),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTrace}
	return f
}

// functionDashboardLink opens the function dashboard for the field's
// function, in the time range shown.
func functionDashboardLink(link TraceLink) *data.DataLink {
	if link.DatasourceUID == "" {
		return nil
	}
	return &data.DataLink{Title: "Function dashboard", URL: FunctionDashboardPath + "?var-function=${__value.raw}&${__url_time_range}"}
}

func serviceName(sp *query.Span) string {
	if sp.ServiceName != "" {
		return sp.ServiceName
	}
	if sp.FunctionName != "" {
		return sp.FunctionName
	}
	return "unknown"
}

// resourceTags are the resource attributes plus the function's identity
// under OpenTelemetry's semantic convention names, sorted by key.
// resourceTagCache keeps the serviceTags of each resource a trace's spans
// share: storage hands the spans of one resource the same attribute map,
// and a trace of many spans has few resources.
type resourceTagCache map[resourceKey]json.RawMessage

// resourceKey is what resourceTags reads of a span: its resource
// attributes (by the map's identity) and the function's identity.
type resourceKey struct {
	attrs                              unsafe.Pointer
	function, version, account, region string
}

func (c resourceTagCache) tags(sp *query.Span) json.RawMessage {
	k := resourceKey{reflect.ValueOf(sp.ResourceAttributes).UnsafePointer(), sp.FunctionName, sp.FunctionVersion, sp.AccountID, sp.Region}
	if tags, ok := c[k]; ok {
		return tags
	}
	tags := mustJSON(resourceTags(sp))
	c[k] = tags
	return tags
}

func resourceTags(sp *query.Span) []keyValue {
	attrs := maps.Clone(sp.ResourceAttributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	setIf := func(k, v string) {
		if _, ok := attrs[k]; !ok && v != "" {
			attrs[k] = v
		}
	}
	setIf("faas.name", sp.FunctionName)
	setIf("faas.version", sp.FunctionVersion)
	setIf("cloud.account.id", sp.AccountID)
	setIf("cloud.region", sp.Region)
	return sortedTags(attrs)
}

func sortedTags(attrs map[string]string) []keyValue {
	out := make([]keyValue, 0, len(attrs))
	for k, v := range attrs {
		out = append(out, keyValue{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b keyValue) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// spanTags are the span's attributes, then what the platform reported
// about the invocation the span opened.
func spanTags(node *query.Node) []keyValue {
	sp := &node.Span
	tags := sortedTags(sp.Attributes)
	if sp.RequestID != "" && sp.Attributes["faas.invocation_id"] == "" {
		tags = append(tags, keyValue{Key: "faas.invocation_id", Value: sp.RequestID})
	}
	inv := node.Invocation
	if inv == nil || !node.InvocationEntry {
		return tags
	}
	tags = append(tags,
		keyValue{Key: "faas.coldstart", Value: inv.ColdStart},
		keyValue{Key: "aws.lambda.status", Value: inv.Status},
	)
	// A figure the platform did not report is left out, not shown as 0;
	// an estimated billed duration says so.
	if !inv.DurationUnknown {
		tags = append(tags, keyValue{Key: "aws.lambda.duration_ms", Value: inv.DurationMs})
	}
	tags = append(tags, keyValue{Key: "aws.lambda.billed_duration_ms", Value: inv.BilledDurationMs})
	if inv.BilledEstimated {
		tags = append(tags, keyValue{Key: "aws.lambda.billed_duration_estimated", Value: true})
	}
	if !inv.MemorySizeUnknown {
		tags = append(tags, keyValue{Key: "aws.lambda.memory_size_mb", Value: inv.MemorySizeMB})
	}
	if !inv.MaxMemoryUsedUnknown {
		tags = append(tags, keyValue{Key: "aws.lambda.max_memory_used_mb", Value: inv.MaxMemoryUsedMB})
	}
	if inv.Incomplete {
		tags = append(tags, keyValue{Key: "aws.lambda.incomplete", Value: true})
	}
	if inv.InitDurationMs > 0 {
		tags = append(tags, keyValue{Key: "aws.lambda.init_duration_ms", Value: inv.InitDurationMs})
	}
	if inv.ErrorType != "" {
		tags = append(tags, keyValue{Key: "aws.lambda.error_type", Value: inv.ErrorType})
	}
	return tags
}

func spanLogs(events []query.SpanEvent) []spanLog {
	out := make([]spanLog, 0, len(events))
	for _, e := range events {
		fields := sortedTags(e.Attributes)
		if e.Name != "" {
			fields = append([]keyValue{{Key: "event", Value: e.Name}}, fields...)
		}
		out = append(out, spanLog{Timestamp: millis(e.Time), Name: e.Name, Fields: fields})
	}
	return out
}

func spanReferences(links []query.SpanLink) []spanReference {
	out := make([]spanReference, 0, len(links))
	for _, l := range links {
		out = append(out, spanReference{TraceID: l.TraceID.String(), SpanID: l.SpanID.String(), Tags: sortedTags(l.Attributes)})
	}
	return out
}

func spanWarnings(node *query.Node) []string {
	w := []string{}
	if node.Orphan {
		w = append(w, "The parent span "+node.Span.ParentSpanID.String()+" is not stored.")
	}
	if node.CycleBroken {
		w = append(w, "The parent link formed a cycle and was ignored.")
	}
	if node.DuplicateID {
		w = append(w, "Another span of this trace has the same span ID.")
	}
	if node.Skew != 0 {
		w = append(w, "Shifted by "+strconv.FormatFloat(float64(node.Skew)/float64(time.Millisecond), 'f', -1, 64)+
			" ms to lie within its parent: the clocks disagree.")
	}
	return w
}

// kindName is the span kind as Grafana's trace view names it.
func kindName(k int32) string {
	switch k {
	case query.SpanKindInternal:
		return "internal"
	case query.SpanKindServer:
		return "server"
	case query.SpanKindClient:
		return "client"
	case query.SpanKindProducer:
		return "producer"
	case query.SpanKindConsumer:
		return "consumer"
	default:
		return "unspecified"
	}
}

func millis(t time.Time) float64 {
	return float64(t.UnixNano()) / float64(time.Millisecond)
}

// mustJSON encodes values built here from strings, numbers and booleans,
// which cannot fail to encode; should one fail, the field holds the error
// as a JSON string.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(fmt.Sprintf("%q", err.Error()))
	}
	return b
}

// emptyList is the JSON of an empty list, shared by every span without
// events, links or warnings.
var emptyList = json.RawMessage("[]")

// emptyOr is emptyList when n is 0, else the JSON of what list gives.
func emptyOr(n int, list func() any) json.RawMessage {
	if n == 0 {
		return emptyList
	}
	return mustJSON(list())
}

// tagEncoder writes a span's tags as encoding/json does, byte for byte,
// without reflection: each distinct string is encoded once per frame (the
// spans of a trace repeat their keys and most values), and values other
// than strings go through encoding/json.
type tagEncoder struct {
	strs map[string][]byte
	buf  []byte
}

func (e *tagEncoder) str(b []byte, s string) []byte {
	enc, ok := e.strs[s]
	if !ok {
		enc = mustJSON(s)
		e.strs[s] = enc
	}
	return append(b, enc...)
}

func (e *tagEncoder) tags(tags []keyValue) json.RawMessage {
	b := append(e.buf[:0], '[')
	for i, kv := range tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = e.str(b, kv.Key)
		b = append(b, `,"value":`...)
		if v, ok := kv.Value.(string); ok {
			b = e.str(b, v)
		} else {
			b = append(b, mustJSON(kv.Value)...)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	e.buf = b
	return json.RawMessage(slices.Clone(b))
}
