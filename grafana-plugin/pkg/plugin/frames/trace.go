package frames

import (
	"encoding/hex"
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
	// The span IDs in hex, the span's then its parent's (zeros for none),
	// in one string that the rows' IDs are cut from.
	ids := make([]byte, 0, 32*n)
	hasParent := make([]bool, 0, n)
	t.Walk(func(node *query.Node) bool {
		sp := &node.Span
		if lastTraceString == "" || sp.TraceID != lastTrace {
			lastTrace, lastTraceString = sp.TraceID, sp.TraceID.String()
		}
		traceIDs = append(traceIDs, lastTraceString)
		ids = hex.AppendEncode(ids, sp.SpanID[:])
		var parent query.SpanID
		if node.Parent != nil {
			parent = node.Parent.Span.SpanID
		}
		ids = hex.AppendEncode(ids, parent[:])
		hasParent = append(hasParent, node.Parent != nil)
		operations = append(operations, sp.Name)
		services = append(services, serviceName(sp))
		serviceTags = append(serviceTags, resources.tags(sp))
		starts = append(starts, millis(node.Start()))
		durations = append(durations, float64(sp.Duration)/float64(time.Millisecond))
		if len(sp.Events) == 0 {
			logs = append(logs, emptyList)
		} else {
			logs = append(logs, mustJSON(spanLogs(sp.Events)))
		}
		if len(sp.Links) == 0 {
			references = append(references, emptyList)
		} else {
			references = append(references, mustJSON(spanReferences(sp.Links)))
		}
		tags = append(tags, enc.spanTags(node))
		kinds = append(kinds, kindName(sp.Kind))
		statusCodes = append(statusCodes, int64(sp.StatusCode))
		statusMessage = append(statusMessage, sp.StatusMessage)
		if node.Orphan || node.CycleBroken || node.DuplicateID || node.Skew != 0 {
			warnings = append(warnings, mustJSON(spanWarnings(node)))
		} else {
			warnings = append(warnings, emptyList)
		}
		request := sp.RequestID
		if node.Invocation != nil {
			request = node.Invocation.RequestID
		}
		requestIDs = append(requestIDs, request)
		functions = append(functions, sp.FunctionName)
		return true
	})
	idText := string(ids)
	for i, has := range hasParent {
		spanIDs = append(spanIDs, idText[32*i:32*i+16])
		parent := ""
		if has {
			parent = idText[32*i+16 : 32*i+32]
		}
		parentIDs = append(parentIDs, parent)
	}
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

// spanTags are the span's attributes, sorted by key, then what the
// platform reported about the invocation the span opened.
func (e *tagEncoder) spanTags(node *query.Node) json.RawMessage {
	sp := &node.Span
	attrs := e.attrs[:0]
	for k, v := range sp.Attributes {
		attrs = append(attrs, [2]string{k, v})
	}
	slices.SortFunc(attrs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	e.attrs = attrs
	b := append(e.buf[:0], '[')
	for i, kv := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.stringTag(b, kv[0], kv[1])
	}
	if sp.RequestID != "" && sp.Attributes["faas.invocation_id"] == "" {
		if b[len(b)-1] != '[' {
			b = append(b, ',')
		}
		b = e.stringTag(b, "faas.invocation_id", sp.RequestID)
	}
	if extra := invocationTags(node); len(extra) > 0 {
		if b[len(b)-1] != '[' {
			b = append(b, ',')
		}
		b = e.appendTags(b, extra)
	}
	b = append(b, ']')
	e.buf = b
	return e.keep(b)
}

// invocationTags are what the platform reported about the invocation the
// node's span opened, none for a span that opened none.
func invocationTags(node *query.Node) []keyValue {
	inv := node.Invocation
	if inv == nil || !node.InvocationEntry {
		return nil
	}
	tags := []keyValue{
		{Key: "faas.coldstart", Value: inv.ColdStart},
		{Key: "aws.lambda.status", Value: inv.Status},
	}
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

// tagEncoder writes a span's tags as encoding/json does, byte for byte,
// without reflection: each distinct string is encoded once per frame (the
// spans of a trace repeat their keys and most values), and values other
// than strings go through encoding/json. The encoded tags of many spans
// share one chunk of memory.
type tagEncoder struct {
	strs  map[string][]byte
	buf   []byte
	attrs [][2]string // a span's attributes, key and value
	chunk []byte
}

// tagChunk is the size of the chunks the encoded tags are kept in.
const tagChunk = 64 << 10

func (e *tagEncoder) str(b []byte, s string) []byte {
	enc, ok := e.strs[s]
	if !ok {
		enc = mustJSON(s)
		e.strs[s] = enc
	}
	return append(b, enc...)
}

func (e *tagEncoder) stringTag(b []byte, key, value string) []byte {
	b = append(b, `{"key":`...)
	b = e.str(b, key)
	b = append(b, `,"value":`...)
	b = e.str(b, value)
	return append(b, '}')
}

func (e *tagEncoder) appendTags(b []byte, tags []keyValue) []byte {
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
	return b
}

// keep copies b into the current chunk (a new one when it is full) and
// returns the copy, its capacity cut to its length.
func (e *tagEncoder) keep(b []byte) json.RawMessage {
	if len(b) > cap(e.chunk)-len(e.chunk) {
		e.chunk = make([]byte, 0, max(tagChunk, len(b)))
	}
	start := len(e.chunk)
	e.chunk = append(e.chunk, b...)
	return json.RawMessage(e.chunk[start:len(e.chunk):len(e.chunk)])
}
