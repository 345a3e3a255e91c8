package dbmodel

import (
	"fmt"
	"slices"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// SpanColumns holds the spans of one or more Ingest API batches column by
// column, the shape of a native-protocol insert block: a writer appends each
// column in one call instead of boxing every value of every row, and Reset
// keeps the buffers for the next write. FromExport reads spans through it,
// so rows and columns never disagree.
//
// Every column is copied out of the requests as they are read, and holds
// no pointers (see Strings and StringArrays): the requests need not be kept
// for the columns.
type SpanColumns struct {
	StartUnixNano []uint64
	DurationNs    []uint64
	// TraceIDs holds 16 bytes per span, SpanIDs and ParentSpanIDs 8 (zeros
	// for a root span), back to back.
	TraceIDs      []byte
	SpanIDs       []byte
	ParentSpanIDs []byte
	// The String columns, in the Native format (see Strings): copied as
	// they are read, nothing for the garbage collector to mark.
	TraceState    Strings
	Name          Strings
	Kind          []uint8
	StatusCode    []uint8
	StatusMessage Strings

	ServiceName     Strings
	FunctionName    Strings
	FunctionVersion Strings
	AccountID       Strings
	Region          Strings
	RequestID       Strings
	ScopeName       Strings
	ScopeVersion    Strings

	// The span's own attributes, in the Native format (see StringArrays):
	// the most strings of a span, copied as they are read.
	AttributeKeys, AttributeValues StringArrays
	// A resource's attributes, held once for the run of rows that share
	// them (all the spans of a ResourceSpans, and of the same resource in
	// the requests after), repeated for each row when the block is
	// encoded (see StringArrayRuns).
	ResourceAttrKeys, ResourceAttrValues StringArrayRuns
	// The other array columns, in the Native format too: the events and
	// links (mostly empty rows, an offset each). LinkTraceIDs holds 16
	// bytes an element, LinkSpanIDs 8.
	EventTimes                Uint64Arrays
	EventNames, EventAttrs    StringArrays
	LinkTraceIDs, LinkSpanIDs FixedArrays
	LinkAttrs                 StringArrays

	// Rejected counts spans refused one by one; Problems says why, for the
	// first few.
	Rejected int
	Problems []string

	// strs holds the keys of the span being read (and events' and links'
	// pairs), vals its values, until they are copied into the columns.
	strs []string
	// wire holds the values AppendWire renders (numbers, bytes).
	wire wireArena
	vals []string
}

// emptyStrings is shared by every row without attributes (an empty
// array, not nil: the driver writes nil as NULL).
var emptyStrings = []string{}

// Len is the number of spans.
func (c *SpanColumns) Len() int { return len(c.StartUnixNano) }

// strings is the String columns.
func (c *SpanColumns) strings() [11]*Strings {
	return [...]*Strings{
		&c.TraceState, &c.Name, &c.StatusMessage, &c.ServiceName, &c.FunctionName, &c.FunctionVersion,
		&c.AccountID, &c.Region, &c.RequestID, &c.ScopeName, &c.ScopeVersion,
	}
}

// arrays is the Array(String) columns but the resource's (runs).
func (c *SpanColumns) arrays() [5]*StringArrays {
	return [...]*StringArrays{
		&c.AttributeKeys, &c.AttributeValues, &c.EventNames, &c.EventAttrs, &c.LinkAttrs,
	}
}

// runs is the Array(String) columns held in runs of rows.
func (c *SpanColumns) runs() [2]*StringArrayRuns {
	return [...]*StringArrayRuns{&c.ResourceAttrKeys, &c.ResourceAttrValues}
}

// Reset empties the columns, keeping their capacity, and drops the
// references into the requests they were filled from.
func (c *SpanColumns) Reset() {
	c.StartUnixNano, c.DurationNs = c.StartUnixNano[:0], c.DurationNs[:0]
	c.TraceIDs, c.SpanIDs, c.ParentSpanIDs = c.TraceIDs[:0], c.SpanIDs[:0], c.ParentSpanIDs[:0]
	c.Kind, c.StatusCode = c.Kind[:0], c.StatusCode[:0]
	for _, s := range c.strings() {
		s.Reset()
	}
	clear(c.Problems)
	c.Problems = c.Problems[:0]
	for _, a := range c.arrays() {
		a.Reset()
	}
	for _, r := range c.runs() {
		r.Reset()
	}
	c.EventTimes.Reset()
	c.LinkTraceIDs.Reset()
	c.LinkSpanIDs.Reset()
	c.Rejected = 0
	c.wire = wireArena{}
	// The scratch of one span's pairs, emptied after each span: what is
	// left past its length still points into the last request.
	clear(c.strs[:cap(c.strs)])
	clear(c.vals[:cap(c.vals)])
	c.strs, c.vals = c.strs[:0], c.vals[:0]
}

// Grow makes room for n more spans, so that filling the columns from
// several batches grows each buffer once.
func (c *SpanColumns) Grow(n int) {
	c.StartUnixNano, c.DurationNs = slices.Grow(c.StartUnixNano, n), slices.Grow(c.DurationNs, n)
	c.TraceIDs, c.SpanIDs, c.ParentSpanIDs = slices.Grow(c.TraceIDs, 16*n), slices.Grow(c.SpanIDs, 8*n), slices.Grow(c.ParentSpanIDs, 8*n)
	c.Kind, c.StatusCode = slices.Grow(c.Kind, n), slices.Grow(c.StatusCode, n)
	for _, s := range c.strings() {
		s.Grow(n, 0)
	}
	for _, a := range c.arrays() {
		a.Grow(n, 0)
	}
	c.EventTimes.Grow(n)
	c.LinkTraceIDs.Grow(n)
	c.LinkSpanIDs.Grow(n)
}

// AppendExport adds the spans of one Ingest API batch. A span whose trace
// ID is not 16 non-zero bytes, whose span ID is not 8 non-zero bytes, whose
// parent span ID is neither empty nor 8 bytes or whose start is after
// MaxDateTimeUnixNano is counted in Rejected and skipped; the rest is kept.
func (c *SpanColumns) AppendExport(req *ingestv1.ExportRequest) {
	fn := req.GetFunction()
	for _, rs := range req.GetResourceSpans() {
		id := identityFor(fn, rs.GetResource())
		resKeys, resValues := emptyStrings, emptyStrings
		if attrs := rs.GetResource().GetAttributes(); len(attrs) > 0 {
			kv := keyValues(attrs)
			resKeys, resValues = kv.Keys, kv.Values
		}
		for _, ss := range rs.GetScopeSpans() {
			scopeName, scopeVersion := ss.GetScope().GetName(), ss.GetScope().GetVersion()
			for _, sp := range ss.GetSpans() {
				if !c.appendSpan(sp) {
					continue
				}
				c.ServiceName.Append(id.service)
				c.FunctionName.Append(id.function)
				c.FunctionVersion.Append(id.version)
				c.AccountID.Append(id.account)
				c.Region.Append(id.region)
				c.ScopeName.Append(scopeName)
				c.ScopeVersion.Append(scopeVersion)
				c.ResourceAttrKeys.AppendRow(resKeys)
				c.ResourceAttrValues.AppendRow(resValues)
			}
		}
	}
}

// appendSpan adds the span's own columns, or counts it as rejected.
func (c *SpanColumns) appendSpan(sp *tracepb.Span) bool {
	tid, sid, pid := sp.GetTraceId(), sp.GetSpanId(), sp.GetParentSpanId()
	if err := checkID(tid, 16, "trace_id"); err != nil {
		c.reject(sp, err)
		return false
	}
	if err := checkID(sid, 8, "span_id"); err != nil {
		c.reject(sp, err)
		return false
	}
	if len(pid) != 0 && len(pid) != 8 {
		c.reject(sp, fmt.Errorf("parent_span_id has %d bytes, want 8 or none", len(pid)))
		return false
	}
	if err := checkTime(sp.GetStartTimeUnixNano(), "start_time_unix_nano"); err != nil {
		c.reject(sp, err)
		return false
	}
	c.TraceIDs = append(c.TraceIDs, tid...)
	c.SpanIDs = append(c.SpanIDs, sid...)
	if len(pid) == 0 {
		c.ParentSpanIDs = append(c.ParentSpanIDs, 0, 0, 0, 0, 0, 0, 0, 0)
	} else {
		c.ParentSpanIDs = append(c.ParentSpanIDs, pid...)
	}
	start := sp.GetStartTimeUnixNano()
	var dur uint64
	if end := sp.GetEndTimeUnixNano(); end > start {
		dur = end - start
	}
	c.StartUnixNano = append(c.StartUnixNano, start)
	c.DurationNs = append(c.DurationNs, dur)
	c.TraceState.Append(sp.GetTraceState())
	c.Name.Append(sp.GetName())
	c.Kind = append(c.Kind, clampUint8(int64(sp.GetKind())))
	c.StatusCode = append(c.StatusCode, clampUint8(int64(sp.GetStatus().GetCode())))
	c.StatusMessage.Append(sp.GetStatus().GetMessage())

	keys, values, requestID := c.spanAttributes(sp.GetAttributes())
	c.RequestID.Append(requestID)
	c.AttributeKeys.AppendRow(keys)
	c.AttributeValues.AppendRow(values)
	clear(c.strs)
	c.strs = c.strs[:0]

	if evs := sp.GetEvents(); len(evs) > 0 {
		times := make([]uint64, 0, len(evs))
		names := make([]string, 0, len(evs))
		attrs := make([]string, 0, len(evs))
		for _, ev := range evs {
			times = append(times, ev.GetTimeUnixNano())
			names = append(names, ev.GetName())
			attrs = append(attrs, attributesJSON(ev.GetAttributes()))
		}
		c.EventTimes.AppendRow(times)
		c.EventNames.AppendRow(names)
		c.EventAttrs.AppendRow(attrs)
	} else {
		c.EventTimes.AppendEmpty(1)
		c.EventNames.AppendEmpty(1)
		c.EventAttrs.AppendEmpty(1)
	}
	if links := sp.GetLinks(); len(links) > 0 {
		tids := make([]string, 0, len(links))
		sids := make([]string, 0, len(links))
		attrs := make([]string, 0, len(links))
		for _, l := range links {
			// A malformed link loses its IDs, not the span.
			tids = append(tids, optionalID(l.GetTraceId(), 16))
			sids = append(sids, optionalID(l.GetSpanId(), 8))
			attrs = append(attrs, attributesJSON(l.GetAttributes()))
		}
		c.LinkTraceIDs.AppendRow(tids, 16)
		c.LinkSpanIDs.AppendRow(sids, 8)
		c.LinkAttrs.AppendRow(attrs)
	} else {
		c.LinkTraceIDs.AppendEmpty(1)
		c.LinkSpanIDs.AppendEmpty(1)
		c.LinkAttrs.AppendEmpty(1)
	}
	return true
}

// spanAttributes renders a span's attributes into the columns' scratch
// (strs, emptied once they are copied into the columns) and finds its
// request ID (faas.invocation_id, else faas.execution). The request ID is
// left out of the attributes when withoutPromotedRequestID would drop it.
func (c *SpanColumns) spanAttributes(attrs []*commonpb.KeyValue) (keys, values []string, requestID string) {
	if len(attrs) == 0 {
		return emptyStrings, emptyStrings, ""
	}
	c.strs = c.strs[:0]
	start := 0
	for _, a := range attrs {
		c.strs = append(c.strs, a.GetKey())
	}
	mid := len(c.strs)
	for _, a := range attrs {
		c.strs = append(c.strs, AttributeValue(a.GetValue()))
	}
	kv := KeyValues{Keys: c.strs[start:mid:mid], Values: c.strs[mid:len(c.strs):len(c.strs)]}
	for _, k := range []string{AttrInvocationID, attrFaaSExecution} {
		if v, ok := kv.Get(k); ok && v != "" {
			requestID = v
			break
		}
	}
	kv = kv.withoutPromotedRequestID(requestID)
	return kv.Keys, kv.Values, requestID
}

func (c *SpanColumns) reject(sp *tracepb.Span, err error) {
	c.Rejected++
	if len(c.Problems) < maxProblems {
		c.Problems = append(c.Problems, fmt.Sprintf("span %q: %v", sp.GetName(), err))
	}
}

// Row returns span i as a row, with its own copies of the arrays.
func (c *SpanColumns) Row(i int) Span {
	r := Span{
		TraceState: c.TraceState.Row(i), StartUnixNano: c.StartUnixNano[i], DurationNs: c.DurationNs[i],
		Name: c.Name.Row(i), Kind: c.Kind[i], StatusCode: c.StatusCode[i], StatusMessage: c.StatusMessage.Row(i),
		ServiceName: c.ServiceName.Row(i), FunctionName: c.FunctionName.Row(i), FunctionVersion: c.FunctionVersion.Row(i),
		AccountID: c.AccountID.Row(i), Region: c.Region.Row(i), RequestID: c.RequestID.Row(i),
		ScopeName: c.ScopeName.Row(i), ScopeVersion: c.ScopeVersion.Row(i),
		Attributes:         KeyValues{Keys: c.AttributeKeys.Row(i), Values: c.AttributeValues.Row(i)},
		ResourceAttributes: KeyValues{Keys: c.ResourceAttrKeys.Row(i), Values: c.ResourceAttrValues.Row(i)},
	}
	copy(r.TraceID[:], c.TraceIDs[16*i:])
	copy(r.SpanID[:], c.SpanIDs[8*i:])
	copy(r.ParentSpanID[:], c.ParentSpanIDs[8*i:])
	if times := c.EventTimes.Row(i); len(times) > 0 {
		r.EventTimes = times
		r.EventNames = c.EventNames.Row(i)
		r.EventAttributes = c.EventAttrs.Row(i)
	}
	if attrs := c.LinkAttrs.Row(i); len(attrs) > 0 {
		r.LinkAttributes = attrs
		for _, s := range c.LinkTraceIDs.Row(i, 16) {
			var id [16]byte
			copy(id[:], s)
			r.LinkTraceIDs = append(r.LinkTraceIDs, id)
		}
		for _, s := range c.LinkSpanIDs.Row(i, 8) {
			var id [8]byte
			copy(id[:], s)
			r.LinkSpanIDs = append(r.LinkSpanIDs, id)
		}
	}
	return r
}

// optionalID is an ID of n bytes as a FixedString value; one of another
// length becomes zeros.
func optionalID(b []byte, n int) string {
	if len(b) != n {
		return string(make([]byte, n))
	}
	return string(b)
}

// AppendColumns adds the spans of o, with its rejected count and problems.
func (c *SpanColumns) AppendColumns(o *SpanColumns) {
	c.StartUnixNano, c.DurationNs = append(c.StartUnixNano, o.StartUnixNano...), append(c.DurationNs, o.DurationNs...)
	c.TraceIDs, c.SpanIDs, c.ParentSpanIDs = append(c.TraceIDs, o.TraceIDs...), append(c.SpanIDs, o.SpanIDs...), append(c.ParentSpanIDs, o.ParentSpanIDs...)
	c.Kind, c.StatusCode = append(c.Kind, o.Kind...), append(c.StatusCode, o.StatusCode...)
	for i, s := range c.strings() {
		s.AppendColumn(o.strings()[i])
	}
	for i, a := range c.arrays() {
		a.Append(o.arrays()[i])
	}
	for i, r := range c.runs() {
		r.Append(o.runs()[i])
	}
	c.EventTimes.Append(&o.EventTimes)
	c.LinkTraceIDs.Append(&o.LinkTraceIDs)
	c.LinkSpanIDs.Append(&o.LinkSpanIDs)
	c.Rejected += o.Rejected
	for _, p := range o.Problems {
		if len(c.Problems) >= maxProblems {
			break
		}
		c.Problems = append(c.Problems, p)
	}
}
