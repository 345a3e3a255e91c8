package dbmodel

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// WireLimits are the caps of the collector's field and attribute limits.
// AppendWire takes only spans and log records within all of them: a value
// over a cap is cut and counted by the message path.
type WireLimits struct {
	MaxAttributeKeyBytes, MaxAttributeValueBytes int
	NameBytes, StatusMessageBytes, OtherBytes    int
	LogBodyBytes                                 int // each string of a log body
}

// Descriptors of the messages AppendWire reads: a field they define that
// it does not read sends the message to the message path.
var (
	resourceSpansDesc = (&tracepb.ResourceSpans{}).ProtoReflect().Descriptor()
	resourceDesc      = (&resourcepb.Resource{}).ProtoReflect().Descriptor()
	scopeSpansDesc    = (&tracepb.ScopeSpans{}).ProtoReflect().Descriptor()
	scopeDesc         = (&commonpb.InstrumentationScope{}).ProtoReflect().Descriptor()
	spanDesc          = (&tracepb.Span{}).ProtoReflect().Descriptor()
	eventDesc         = (&tracepb.Span_Event{}).ProtoReflect().Descriptor()
	linkDesc          = (&tracepb.Span_Link{}).ProtoReflect().Descriptor()
	statusDesc        = (&tracepb.Status{}).ProtoReflect().Descriptor()
	keyValueDesc      = (&commonpb.KeyValue{}).ProtoReflect().Descriptor()
	anyValueDesc      = (&commonpb.AnyValue{}).ProtoReflect().Descriptor()
)

// wireMark is the columns' length before a resource's spans, to take them
// back out.
type wireMark struct{ spans int }

func (c *SpanColumns) mark() wireMark {
	return wireMark{spans: c.Len()}
}

// rollback drops the spans appended since m.
func (c *SpanColumns) rollback(m wireMark) {
	n := m.spans
	c.StartUnixNano, c.DurationNs = c.StartUnixNano[:n], c.DurationNs[:n]
	c.TraceIDs, c.SpanIDs, c.ParentSpanIDs = c.TraceIDs[:16*n], c.SpanIDs[:8*n], c.ParentSpanIDs[:8*n]
	c.Kind, c.StatusCode = c.Kind[:n], c.StatusCode[:n]
	for _, s := range c.strings() {
		s.Truncate(n)
	}
	for _, a := range c.arrays() {
		a.Truncate(n)
	}
	for _, r := range c.runs() {
		r.Truncate(n)
	}
	c.EventTimes.Truncate(n)
	c.LinkTraceIDs.Truncate(n, 16)
	c.LinkSpanIDs.Truncate(n, 8)
	// A span refused half-way leaves its pairs in the scratch.
	clear(c.strs)
	c.strs = c.strs[:0]
	clear(c.vals)
	c.vals = c.vals[:0]
}

// AppendWire adds the spans of one ResourceSpans message, given in its
// protobuf wire form, without decoding it into messages: the rows are
// those AppendExport makes of the decoded message. The strings are copied
// into the columns as each span is read: b need not be kept after.
//
// It takes only plain, clean input: it returns false, and leaves the
// columns as they were, when the message is malformed, holds a string that
// is not UTF-8, a span the writer would refuse (bad IDs, a start after
// MaxDateTimeUnixNano), a value over one of lim's caps, a field it does not
// read (scope attributes, entity references, array and key-value list
// values), or a singular message repeated (which protobuf merges). The
// caller then decodes the message and takes the message path, which cuts,
// drops and counts.
func (c *SpanColumns) AppendWire(fn *ingestv1.FunctionIdentity, b []byte, lim WireLimits) bool {
	m := c.mark()
	if !c.appendResourceSpans(fn, b, &lim) {
		c.rollback(m)
		return false
	}
	return true
}

// wireField is one field read by nextField.
type wireField struct {
	num protowire.Number
	typ protowire.Type
	val []byte // the value of a bytes field
	u   uint64 // the value of a varint, fixed32 or fixed64 field
}

// shortBytes is the length of the bytes field at the start of b when its
// tag and its length are one byte each (fields 1 to 15, under 128 bytes:
// most fields of spans, their IDs, names, attributes and status), small
// enough to be inlined into the loops that read every span; -1 for any
// other field, for nextField.
func shortBytes(b []byte) int {
	if len(b) < 2 || b[0]&0x87 != byte(protowire.BytesType) || b[0] < 1<<3 || b[1] >= 0x80 || int(b[1]) > len(b)-2 {
		return -1
	}
	return int(b[1])
}

// nextField reads the field at the start of b and returns the rest, or
// false when b is malformed.
func nextField(b []byte, f *wireField) ([]byte, bool) {
	// Most fields of spans have a one-byte tag (fields 1 to 15) and, when
	// they hold bytes, a length under 128: read those without the general
	// varint decoding.
	if len(b) >= 2 && b[0] < 0x80 && b[0] >= 1<<3 {
		switch typ := protowire.Type(b[0] & 7); typ {
		case protowire.BytesType:
			if n := int(b[1]); b[1] < 0x80 && n <= len(b)-2 {
				f.num, f.typ, f.val = protowire.Number(b[0]>>3), typ, b[2:2+n]
				return b[2+n:], true
			}
			// A length of two bytes (128 to 16,383: a span, a scope's
			// spans are longer).
			if len(b) >= 3 && b[2] < 0x80 && b[2] != 0 {
				if n := int(b[1]&0x7f) | int(b[2])<<7; n <= len(b)-3 {
					f.num, f.typ, f.val = protowire.Number(b[0]>>3), typ, b[3:3+n]
					return b[3+n:], true
				}
			}
		case protowire.VarintType:
			if b[1] < 0x80 {
				f.num, f.typ, f.val, f.u = protowire.Number(b[0]>>3), typ, nil, uint64(b[1])
				return b[2:], true
			}
		case protowire.Fixed64Type:
			if len(b) >= 9 {
				f.num, f.typ, f.val, f.u = protowire.Number(b[0]>>3), typ, nil, binary.LittleEndian.Uint64(b[1:9])
				return b[9:], true
			}
		}
	}
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num > protowire.MaxValidNumber {
		return nil, false // protobuf refuses field numbers above the maximum too
	}
	b = b[n:]
	f.num, f.typ, f.val = num, typ, nil
	switch typ {
	case protowire.VarintType:
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, false
		}
		f.u = v
		return b[n:], true
	case protowire.Fixed64Type:
		v, n := protowire.ConsumeFixed64(b)
		if n < 0 {
			return nil, false
		}
		f.u = v
		return b[n:], true
	case protowire.Fixed32Type:
		v, n := protowire.ConsumeFixed32(b)
		if n < 0 {
			return nil, false
		}
		f.u = uint64(v)
		return b[n:], true
	case protowire.BytesType:
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, false
		}
		f.val = v
		return b[n:], true
	default:
		n := protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, false
		}
		return b[n:], true
	}
}

// unread says whether a field AppendWire does not read can be skipped: it
// can when md does not define it (protobuf keeps it as an unknown field,
// as it does a defined field of the wrong wire type). A defined field of
// its own wire type needs the message path.
func unread(md protoreflect.MessageDescriptor, f *wireField) bool {
	fd := md.Fields().ByNumber(f.num)
	return fd == nil || !wireTypeOf(fd, f.typ)
}

// wireGroup checks a message shaped as ResourceSpans, ScopeSpans and their
// log counterparts are (1: one message, 2: the repeated items, 3: a schema
// URL; md names the fields it does not read) and returns field 1's bytes
// and whether it was there. It is not ok when the message is malformed,
// field 1 is repeated (protobuf would merge the copies), the schema URL is
// not UTF-8, or a field it cannot leave unread is set.
func wireGroup(md protoreflect.MessageDescriptor, b []byte) (first []byte, seen, ok bool) {
	var f wireField
	for rest := b; len(rest) > 0; {
		if n := shortBytes(rest); n >= 0 {
			f.num, f.typ, f.val = protowire.Number(rest[0]>>3), protowire.BytesType, rest[2:2+n]
			rest = rest[2+n:]
		} else if rest, ok = nextField(rest, &f); !ok {
			return nil, false, false
		}
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			if seen {
				return nil, false, false // merged by protobuf
			}
			first, seen = f.val, true
		case f.num == 2 && f.typ == protowire.BytesType:
		case f.num == 3 && f.typ == protowire.BytesType:
			if _, ok := wireString(f.val, math.MaxInt); !ok {
				return nil, false, false
			}
		case !unread(md, &f):
			return nil, false, false
		}
	}
	return first, seen, true
}

// wireTypeOf says whether typ is a wire type protobuf decodes fd from.
func wireTypeOf(fd protoreflect.FieldDescriptor, typ protowire.Type) bool {
	if fd.IsList() && typ == protowire.BytesType {
		switch fd.Kind() {
		case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind, protoreflect.GroupKind:
		default:
			return true // packed
		}
	}
	switch fd.Kind() {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return typ == protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return typ == protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return typ == protowire.Fixed64Type
	case protoreflect.GroupKind:
		return typ == protowire.StartGroupType
	default:
		return typ == protowire.BytesType
	}
}

// view is b as a string, without a copy.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// wireString reads a string field's value: false when it is not UTF-8 or
// longer than max.
func wireString(b []byte, max int) (string, bool) {
	// Most strings are ASCII, which ascii tells faster than utf8.Valid.
	if len(b) > max || !(ascii(b) || utf8.Valid(b)) {
		return "", false
	}
	return view(b), true
}

func (c *SpanColumns) appendResourceSpans(fn *ingestv1.FunctionIdentity, b []byte, lim *WireLimits) bool {
	// First the resource, wherever it is, then the scopes' spans.
	resource, _, ok := wireGroup(resourceSpansDesc, b)
	if !ok {
		return false
	}
	res, ok := c.wire.resource(fn, resource, lim)
	if !ok {
		return false
	}
	var f wireField
	for rest := b; len(rest) > 0; {
		if n := shortBytes(rest); n >= 0 {
			f.num, f.typ, f.val = protowire.Number(rest[0]>>3), protowire.BytesType, rest[2:2+n]
			rest = rest[2+n:]
		} else {
			rest, _ = nextField(rest, &f)
		}
		if f.num == 2 && f.typ == protowire.BytesType {
			if !c.appendScopeSpans(&res, f.val, lim) {
				return false
			}
		}
	}
	return true
}

// wireResource is what every span of a resource shares.
type wireResource struct {
	id                identity
	attrKeys, attrVal []string
}

func (a *wireArena) resource(fn *ingestv1.FunctionIdentity, b []byte, lim *WireLimits) (wireResource, bool) {
	var (
		f  wireField
		ok bool
		kv KeyValues
	)
	for rest := b; len(rest) > 0; {
		if rest, ok = nextField(rest, &f); !ok {
			return wireResource{}, false
		}
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			k, v, ok := a.keyValue(f.val, lim)
			if !ok {
				return wireResource{}, false
			}
			kv.Keys, kv.Values = append(kv.Keys, k), append(kv.Values, v)
		case f.num == 2 && f.typ == protowire.VarintType:
		case !unread(resourceDesc, &f):
			return wireResource{}, false
		}
	}
	attr := func(key string) string {
		v, _ := kv.Get(key)
		return v
	}
	res := wireResource{attrKeys: emptyStrings, attrVal: emptyStrings}
	res.id = identity{
		function: firstNonEmpty(fn.GetName(), attr(attrFaaSName)),
		version:  firstNonEmpty(fn.GetVersion(), attr(attrFaaSVersion)),
		account:  firstNonEmpty(fn.GetAccountId(), attr(attrCloudAccount)),
		region:   firstNonEmpty(fn.GetRegion(), attr(attrCloudRegion)),
	}
	res.id.service = firstNonEmpty(attr(AttrServiceName), fn.GetServiceName(), res.id.function)
	if len(kv.Keys) > 0 {
		res.attrKeys, res.attrVal = kv.Keys, kv.Values
	}
	return res, true
}

func (c *SpanColumns) appendScopeSpans(res *wireResource, b []byte, lim *WireLimits) bool {
	sc, seen, ok := wireGroup(scopeSpansDesc, b)
	if !ok {
		return false
	}
	var scopeName, scopeVersion string
	if seen {
		if scopeName, scopeVersion, ok = scope(sc, lim); !ok {
			return false
		}
	}
	var f wireField
	for rest := b; len(rest) > 0; {
		if n := shortBytes(rest); n >= 0 {
			f.num, f.typ, f.val = protowire.Number(rest[0]>>3), protowire.BytesType, rest[2:2+n]
			rest = rest[2+n:]
		} else {
			rest, _ = nextField(rest, &f)
		}
		if f.num != 2 || f.typ != protowire.BytesType {
			continue
		}
		if !c.appendWireSpan(f.val, lim) {
			return false
		}
	}
	// The resource's and the scope's columns, the same for each of the
	// scope's spans, filled once they are read, and the empty events and
	// links of the spans without. A span refused half-way leaves them
	// shorter than the rest, which rollback cuts back to the mark anyway.
	c.padEventsAndLinks(c.Len())
	n := c.Len() - c.ServiceName.Len()
	c.ServiceName.AppendRepeat(res.id.service, n)
	c.FunctionName.AppendRepeat(res.id.function, n)
	c.FunctionVersion.AppendRepeat(res.id.version, n)
	c.AccountID.AppendRepeat(res.id.account, n)
	c.Region.AppendRepeat(res.id.region, n)
	c.ScopeName.AppendRepeat(scopeName, n)
	c.ScopeVersion.AppendRepeat(scopeVersion, n)
	c.ResourceAttrKeys.AppendRowRepeat(res.attrKeys, n)
	c.ResourceAttrValues.AppendRowRepeat(res.attrVal, n)
	return true
}

func scope(b []byte, lim *WireLimits) (name, version string, ok bool) {
	var f wireField
	for rest := b; len(rest) > 0; {
		if rest, ok = nextField(rest, &f); !ok {
			return "", "", false
		}
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			if name, ok = wireString(f.val, lim.NameBytes); !ok {
				return "", "", false
			}
		case f.num == 2 && f.typ == protowire.BytesType:
			if version, ok = wireString(f.val, lim.OtherBytes); !ok {
				return "", "", false
			}
		case f.num == 4 && f.typ == protowire.VarintType:
		case !unread(scopeDesc, &f):
			return "", "", false
		}
	}
	return name, version, true
}

// wireSpan is a span's scalar fields as read so far.
type wireSpan struct {
	traceID, spanID, parentID []byte
	traceState, name, message string
	kind, code                int32
	start, end                uint64
	statusSeen                bool
}

// appendWireSpan adds one span's own columns (the resource's and scope's
// are the caller's).
func (c *SpanColumns) appendWireSpan(b []byte, lim *WireLimits) bool {
	var (
		f          wireField
		ok         bool
		sp         wireSpan
		evs, links int
	)
	// The attributes' keys go to strs, their values to vals, until they
	// are copied into the columns. While they are read, the keys that give
	// the request ID are noted (see layOutAttributes): the first
	// faas.invocation_id, whether it is repeated, and the first
	// faas.execution.
	keyStart, valStart := len(c.strs), len(c.vals)
	inv, exec, repeated := -1, -1, false
	for rest := b; len(rest) > 0; {
		// The field in registers: f only for those nextField reads.
		var (
			num protowire.Number
			typ protowire.Type
			val []byte
		)
		if n := shortBytes(rest); n >= 0 {
			num, typ, val = protowire.Number(rest[0]>>3), protowire.BytesType, rest[2:2+n]
			rest = rest[2+n:]
		} else {
			if rest, ok = nextField(rest, &f); !ok {
				return false
			}
			num, typ, val = f.num, f.typ, f.val
		}
		switch typ {
		case protowire.BytesType:
			switch num {
			case 1:
				sp.traceID = val
			case 2:
				sp.spanID = val
			case 3:
				if sp.traceState, ok = wireString(val, lim.OtherBytes); !ok {
					return false
				}
			case 4:
				sp.parentID = val
			case 5:
				if sp.name, ok = wireString(val, lim.NameBytes); !ok {
					return false
				}
			case 9:
				k, v, ok := plainKeyValue(val, lim)
				if !ok {
					if k, v, ok = c.wire.otherKeyValue(val, lim); !ok {
						return false
					}
				}
				switch len(k) {
				case len(AttrInvocationID):
					if k == AttrInvocationID {
						if inv >= 0 {
							repeated = true
						} else {
							inv = len(c.strs) - keyStart
						}
					}
				case len(attrFaaSExecution):
					if exec < 0 && k == attrFaaSExecution {
						exec = len(c.strs) - keyStart
					}
				}
				c.strs = append(c.strs, k)
				c.vals = append(c.vals, v)
			case 11:
				evs++
			case 13:
				links++
			case 15:
				if sp.statusSeen {
					return false
				}
				sp.statusSeen = true
				if !status(val, &sp, lim) {
					return false
				}
			default:
				if !unread(spanDesc, &wireField{num: num, typ: typ}) {
					return false
				}
			}
		case protowire.VarintType:
			switch f.num {
			case 6:
				sp.kind = int32(f.u)
			case 10, 12, 14:
			default:
				if !unread(spanDesc, &f) {
					return false
				}
			}
		case protowire.Fixed64Type:
			switch f.num {
			case 7:
				sp.start = f.u
			case 8:
				sp.end = f.u
			default:
				if !unread(spanDesc, &f) {
					return false
				}
			}
		case protowire.Fixed32Type:
			if f.num != 16 && !unread(spanDesc, &f) {
				return false
			}
		default:
			if !unread(spanDesc, &f) {
				return false
			}
		}
	}
	if checkID(sp.traceID, 16, "") != nil || checkID(sp.spanID, 8, "") != nil ||
		(len(sp.parentID) != 0 && len(sp.parentID) != 8) || sp.start > MaxDateTimeUnixNano {
		return false
	}
	// Events and links after the span's own attributes, whose keys sit
	// at the end of strs until laid out below.
	var (
		evTimes                    []uint64
		evNames, evAttrs           []string
		lTraceIDs, lSpanIDs, lAttr []string
	)
	if evs > 0 || links > 0 {
		if evs > 0 {
			evTimes, evNames, evAttrs = make([]uint64, 0, evs), make([]string, 0, evs), make([]string, 0, evs)
		}
		if links > 0 {
			lTraceIDs, lSpanIDs, lAttr = make([]string, 0, links), make([]string, 0, links), make([]string, 0, links)
		}
		for rest := b; len(rest) > 0; {
			rest, _ = nextField(rest, &f)
			if f.typ != protowire.BytesType {
				continue
			}
			switch f.num {
			case 11:
				t, name, attrs, ok := c.event(f.val, lim)
				if !ok {
					return false
				}
				evTimes, evNames, evAttrs = append(evTimes, t), append(evNames, name), append(evAttrs, attrs)
			case 13:
				tid, sid, attrs, ok := c.link(f.val, lim)
				if !ok {
					return false
				}
				lTraceIDs, lSpanIDs, lAttr = append(lTraceIDs, tid), append(lSpanIDs, sid), append(lAttr, attrs)
			}
		}
	}

	// The IDs' lengths are checked above: copied as arrays, not by
	// memmove.
	c.TraceIDs = appendID8(appendID8(c.TraceIDs, [8]byte(sp.traceID[:8])), [8]byte(sp.traceID[8:]))
	c.SpanIDs = appendID8(c.SpanIDs, [8]byte(sp.spanID))
	var parent [8]byte
	if len(sp.parentID) != 0 {
		parent = [8]byte(sp.parentID)
	}
	c.ParentSpanIDs = appendID8(c.ParentSpanIDs, parent)
	var dur uint64
	if sp.end > sp.start {
		dur = sp.end - sp.start
	}
	c.StartUnixNano = append(c.StartUnixNano, sp.start)
	c.DurationNs = append(c.DurationNs, dur)
	c.TraceState.Append(sp.traceState)
	c.Name.Append(sp.name)
	c.Kind = append(c.Kind, clampUint8(int64(sp.kind)))
	c.StatusCode = append(c.StatusCode, clampUint8(int64(sp.code)))
	c.StatusMessage.Append(sp.message)

	keys, values, requestID := c.layOutAttributes(keyStart, valStart, inv, exec, repeated)
	c.RequestID.Append(requestID)
	c.AttributeKeys.AppendRow(keys)
	c.AttributeValues.AppendRow(values)
	// The scratch is left as it is for the next span: the strings past its
	// length are overwritten, and cleared by Reset.
	c.strs, c.vals = c.strs[:keyStart], c.vals[:valStart]
	// A span without events and links leaves its empty rows of them to
	// padEventsAndLinks, called here for the spans before one with some
	// and by appendScopeSpans for the rest.
	if evs > 0 || links > 0 {
		c.padEventsAndLinks(c.Len() - 1)
		c.EventTimes.AppendRow(evTimes)
		c.EventNames.AppendRow(evNames)
		c.EventAttrs.AppendRow(evAttrs)
		c.LinkTraceIDs.AppendRow(lTraceIDs, 16)
		c.LinkSpanIDs.AppendRow(lSpanIDs, 8)
		c.LinkAttrs.AppendRow(lAttr)
	}
	return true
}

// appendID8 appends an 8-byte ID to b.
func appendID8(b []byte, id [8]byte) []byte {
	return binary.LittleEndian.AppendUint64(b, binary.LittleEndian.Uint64(id[:]))
}

// padEventsAndLinks fills the event and link columns with empty rows up
// to n rows.
func (c *SpanColumns) padEventsAndLinks(n int) {
	k := n - c.EventTimes.Len()
	c.EventTimes.AppendEmpty(k)
	c.EventNames.AppendEmpty(k)
	c.EventAttrs.AppendEmpty(k)
	c.LinkTraceIDs.AppendEmpty(k)
	c.LinkSpanIDs.AppendEmpty(k)
	c.LinkAttrs.AppendEmpty(k)
}

// layOutAttributes takes the keys at strs[keyStart:] and the values at
// vals[valStart:] as a span's attributes, as spanAttributes lays them
// out, and finds the request ID as it does (with Get and
// promotedRequestID) from what the span's reading noted: inv, the index
// of the first faas.invocation_id (-1 without), repeated, whether there
// is another, and exec, the index of the first faas.execution.
func (c *SpanColumns) layOutAttributes(keyStart, valStart, inv, exec int, repeated bool) (keys, values []string, requestID string) {
	n := len(c.strs) - keyStart
	if n == 0 {
		return emptyStrings, emptyStrings, ""
	}
	kv := KeyValues{Keys: c.strs[keyStart:len(c.strs):len(c.strs)], Values: c.vals[valStart:len(c.vals):len(c.vals)]}
	switch {
	case inv >= 0 && kv.Values[inv] != "":
		requestID = kv.Values[inv]
	case exec >= 0 && kv.Values[exec] != "":
		requestID = kv.Values[exec]
	}
	// promotedRequestID: the one faas.invocation_id, holding the request
	// ID, without faas.execution beside it.
	idx := -1
	if requestID != "" && inv >= 0 && !repeated && exec < 0 && kv.Values[inv] == requestID {
		idx = inv
	}
	if idx < 0 {
		return kv.Keys, kv.Values, requestID
	}
	// withoutPromotedRequestID's result, made in place: keys and values
	// without the pair at idx.
	k := n - 1
	copy(c.strs[keyStart+idx:], c.strs[keyStart+idx+1:])
	copy(c.vals[valStart+idx:], c.vals[valStart+idx+1:])
	c.strs[keyStart+k], c.vals[valStart+k] = "", ""
	c.strs, c.vals = c.strs[:keyStart+k], c.vals[:valStart+k]
	return c.strs[keyStart:len(c.strs):len(c.strs)], c.vals[valStart:len(c.vals):len(c.vals)], requestID
}

func status(b []byte, sp *wireSpan, lim *WireLimits) bool {
	var (
		f  wireField
		ok bool
	)
	for rest := b; len(rest) > 0; {
		if rest, ok = nextField(rest, &f); !ok {
			return false
		}
		switch {
		case f.num == 2 && f.typ == protowire.BytesType:
			if sp.message, ok = wireString(f.val, lim.StatusMessageBytes); !ok {
				return false
			}
		case f.num == 3 && f.typ == protowire.VarintType:
			sp.code = int32(f.u)
		case !unread(statusDesc, &f):
			return false
		}
	}
	return true
}

// event reads a span event: its time, name and attributes as JSON.
func (c *SpanColumns) event(b []byte, lim *WireLimits) (t uint64, name, attrs string, ok bool) {
	var f wireField
	start := len(c.strs)
	defer func() { clear(c.strs[start:]); c.strs = c.strs[:start] }()
	for rest := b; len(rest) > 0; {
		if rest, ok = nextField(rest, &f); !ok {
			return 0, "", "", false
		}
		switch {
		case f.num == 1 && f.typ == protowire.Fixed64Type:
			t = f.u
		case f.num == 2 && f.typ == protowire.BytesType:
			if name, ok = wireString(f.val, lim.NameBytes); !ok {
				return 0, "", "", false
			}
		case f.num == 3 && f.typ == protowire.BytesType:
			k, v, ok := c.wire.keyValue(f.val, lim)
			if !ok {
				return 0, "", "", false
			}
			c.strs = append(c.strs, k, v)
		case f.num == 4 && f.typ == protowire.VarintType:
		case !unread(eventDesc, &f):
			return 0, "", "", false
		}
	}
	return t, name, pairsJSON(c.strs[start:]), true
}

// link reads a span link: its IDs as FixedString values and attributes as
// JSON.
func (c *SpanColumns) link(b []byte, lim *WireLimits) (traceID, spanID, attrs string, ok bool) {
	var (
		f        wireField
		tid, sid []byte
	)
	start := len(c.strs)
	defer func() { clear(c.strs[start:]); c.strs = c.strs[:start] }()
	for rest := b; len(rest) > 0; {
		if rest, ok = nextField(rest, &f); !ok {
			return "", "", "", false
		}
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			tid = f.val
		case f.num == 2 && f.typ == protowire.BytesType:
			sid = f.val
		case f.num == 3 && f.typ == protowire.BytesType:
			if _, ok = wireString(f.val, lim.OtherBytes); !ok {
				return "", "", "", false
			}
		case f.num == 4 && f.typ == protowire.BytesType:
			k, v, ok := c.wire.keyValue(f.val, lim)
			if !ok {
				return "", "", "", false
			}
			c.strs = append(c.strs, k, v)
		case f.num == 5 && f.typ == protowire.VarintType:
		case f.num == 6 && f.typ == protowire.Fixed32Type:
		case !unread(linkDesc, &f):
			return "", "", "", false
		}
	}
	traceID, spanID = string(make([]byte, 16)), string(make([]byte, 8))
	if len(tid) == 16 {
		traceID = view(tid)
	}
	if len(sid) == 8 {
		spanID = view(sid)
	}
	return traceID, spanID, pairsJSON(c.strs[start:]), true
}

// pairsJSON is attributesJSON of key-value pairs laid out key, value, ...
func pairsJSON(pairs []string) string {
	kvs := make([]*commonpb.KeyValue, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		kvs = append(kvs, &commonpb.KeyValue{Key: pairs[i], Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: pairs[i+1]}}})
	}
	return attributesJSON(kvs)
}

// keyValue reads an attribute: its key and its value rendered as
// AttributeValue renders it.
func (a *wireArena) keyValue(b []byte, lim *WireLimits) (key, value string, ok bool) {
	if key, value, ok = plainKeyValue(b, lim); ok {
		return key, value, true
	}
	return a.otherKeyValue(b, lim)
}

// otherKeyValue is keyValue for an attribute plainKeyValue does not read.
func (a *wireArena) otherKeyValue(b []byte, lim *WireLimits) (key, value string, ok bool) {
	if key, value, ok = a.plainNumber(b, lim); ok {
		return key, value, true
	}
	var (
		f    wireField
		seen bool
	)
	for rest := b; len(rest) > 0; {
		if rest, ok = nextField(rest, &f); !ok {
			return "", "", false
		}
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			if key, ok = wireString(f.val, lim.MaxAttributeKeyBytes); !ok {
				return "", "", false
			}
		case f.num == 2 && f.typ == protowire.BytesType:
			if seen {
				return "", "", false // merged by protobuf
			}
			seen = true
			if value, ok = a.anyValue(f.val, lim.MaxAttributeValueBytes); !ok {
				return "", "", false
			}
		case !unread(keyValueDesc, &f):
			return "", "", false
		}
	}
	return key, value, true
}

// plainKeyValue reads the most common attribute in one pass: a key and a
// string value, each under 128 bytes, every byte of the message ASCII
// (which makes each length one byte and each string valid UTF-8), in
// field order and nothing else: 0x0a len key 0x12 len 0x0a len value.
// Any other shape says false, for keyValue's general reading, which gives
// the same key and value for this one.
func plainKeyValue(b []byte, lim *WireLimits) (key, value string, ok bool) {
	if len(b) < 6 || b[0] != 0x0a {
		return "", "", false
	}
	p := 2 + int(b[1]) // the value's tag
	// The four bytes at p, read at once: 0x12, the AnyValue's length e,
	// 0x0a, the string's length e-2. A length of 0x80 or more is not
	// ASCII (nor a one-byte length).
	if e := len(b) - p - 2; p+4 > len(b) || e >= 0x80 ||
		binary.LittleEndian.Uint32(b[p:p+4]) != 0x12|uint32(e)<<8|0x0a<<16|uint32(e-2)<<24 {
		return "", "", false
	}
	if !ascii(b) || p-2 > lim.MaxAttributeKeyBytes || len(b)-p-4 > lim.MaxAttributeValueBytes {
		return "", "", false
	}
	return view(b[2:p]), view(b[p+4:]), true
}

// plainNumber reads the next most common attribute in one pass: a key
// under 128 bytes of ASCII and an integer or boolean value, in field order
// and nothing else: 0x0a len key 0x12 len (0x18 or 0x10) varint. The value
// is rendered as AttributeValue renders it (FormatInt, FormatBool: protobuf
// reads any varint but 0 as true). Any other shape, a malformed varint
// included, says false, for keyValue's general reading, which gives the
// same key and value for this one.
func (a *wireArena) plainNumber(b []byte, lim *WireLimits) (key, value string, ok bool) {
	if len(b) < 6 || b[0] != 0x0a || b[1] >= 0x80 {
		return "", "", false
	}
	p := 2 + int(b[1]) // the value's tag
	if p+4 > len(b) || b[p] != 0x12 || int(b[p+1]) != len(b)-p-2 || (b[p+2] != 0x18 && b[p+2] != 0x10) {
		return "", "", false
	}
	u, n := protowire.ConsumeVarint(b[p+3:])
	if n != len(b)-p-3 || !ascii(b[2:p]) || p-2 > lim.MaxAttributeKeyBytes {
		return "", "", false
	}
	if b[p+2] == 0x10 {
		return view(b[2:p]), strconv.FormatBool(u != 0), true
	}
	return view(b[2:p]), a.string(strconv.AppendInt(a.space(20), int64(u), 10)), true
}

// ascii says whether every byte of b is under 0x80. It reads b eight
// bytes at a time, the last eight (overlapping the ones before) in place
// of a loop over the bytes left.
func ascii(b []byte) bool {
	n := len(b)
	if n < 8 {
		var or byte
		for _, c := range b {
			or |= c
		}
		return or < 0x80
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	or := binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(p, n-8)), 8))
	for i := 0; i+8 <= n; i += 8 {
		or |= *(*uint64)(unsafe.Add(p, i))
	}
	return or&0x8080808080808080 == 0
}

// Kinds of AnyValue, as anyValue reads them.
const (
	anyNone = iota
	anyString
	anyBool
	anyInt
	anyDouble
	anyBytes
	anyArray
)

// anyValue renders a scalar AnyValue, of at most maxBytes when a string
// or bytes, and an array of plain strings (plainStrings); other arrays
// and key-value lists are left to the message path.
func (a *wireArena) anyValue(b []byte, maxBytes int) (string, bool) {
	var (
		f      wireField
		ok     bool
		kind   = anyNone
		u      uint64
		bytes  []byte
		arrays int
		array  []byte // the array, even when a later value replaced it
	)
	for rest := b; len(rest) > 0; {
		if rest, ok = nextField(rest, &f); !ok {
			return "", false
		}
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			if len(f.val) > maxBytes || !utf8.Valid(f.val) {
				return "", false
			}
			kind, bytes = anyString, f.val
		case f.num == 2 && f.typ == protowire.VarintType:
			kind, u = anyBool, f.u
		case f.num == 3 && f.typ == protowire.VarintType:
			kind, u = anyInt, f.u
		case f.num == 4 && f.typ == protowire.Fixed64Type:
			kind, u = anyDouble, f.u
		case f.num == 7 && f.typ == protowire.BytesType:
			if len(f.val) > maxBytes {
				return "", false
			}
			kind, bytes = anyBytes, f.val
		case f.num == 5 && f.typ == protowire.BytesType:
			if arrays++; arrays > 1 {
				return "", false // merged by protobuf
			}
			kind, bytes, array = anyArray, f.val, f.val
		case !unread(anyValueDesc, &f):
			return "", false
		}
	}
	if arrays > 0 && kind != anyArray && !validArray(array) {
		return "", false
	}
	switch kind {
	case anyString:
		return view(bytes), true
	case anyBool:
		return strconv.FormatBool(u != 0), true
	case anyInt:
		buf := a.space(20)
		return a.string(strconv.AppendInt(buf, int64(u), 10)), true
	case anyDouble:
		buf := a.space(32)
		return a.string(strconv.AppendFloat(buf, math.Float64frombits(u), 'g', -1, 64)), true
	case anyBytes:
		buf := a.space(base64.StdEncoding.EncodedLen(len(bytes)))
		return a.string(base64.StdEncoding.AppendEncode(buf, bytes)), true
	case anyArray:
		return a.plainStrings(bytes, maxBytes)
	default:
		return "", true
	}
}

// validArray says whether protobuf decodes b as an ArrayValue: an
// AnyValue's array that a later value of another kind replaced is not
// kept, but protobuf refuses the whole message when the array is
// malformed. The limit of nested messages is the one protobuf applies to
// the whole request, less the levels above the deepest AnyValue AppendWire
// reads (an event's attribute: request, resource spans, scope spans, span,
// event, key-value, value), and a margin: deeper arrays are left to the
// message path, which decides. protobuf's decoding is linear in the
// bytes.
func validArray(b []byte) bool {
	opts := proto.UnmarshalOptions{RecursionLimit: protowire.DefaultRecursionLimit - 16}
	return opts.Unmarshal(b, &commonpb.ArrayValue{}) == nil
}

// plainStrings renders an ArrayValue as AttributeValue does (JSON) when
// each of its values is a string alone, of at most maxBytes, made of
// printable ASCII that JSON writes as it is (not '"', '\\', or the '<',
// '>' and '&' encoding/json escapes): the shape of aws.log.group.names,
// which OpenTelemetry's Lambda resource detector sends with every span.
// Any other array says false, for the message path.
func (a *wireArena) plainStrings(b []byte, maxBytes int) (string, bool) {
	n := 2
	for rest := b; len(rest) > 0; {
		// Each value: 0x0a len AnyValue{0x0a len string}, lengths of one byte.
		if len(rest) < 4 || rest[0] != 0x0a || rest[2] != 0x0a || int(rest[1]) != int(rest[3])+2 || int(rest[1])+2 > len(rest) || rest[1] >= 0x80 {
			return "", false
		}
		s := rest[4 : 2+int(rest[1])]
		if len(s) > maxBytes {
			return "", false
		}
		for _, c := range s {
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return "", false
			}
		}
		n += len(s) + 3
		rest = rest[2+int(rest[1]):]
	}
	buf := a.space(n)
	buf = append(buf, '[')
	for rest := b; len(rest) > 0; rest = rest[2+int(rest[1]):] {
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = append(buf, rest[4:2+int(rest[1])]...)
		buf = append(buf, '"')
	}
	return a.string(append(buf, ']')), true
}

// wireArena holds the values AppendWire renders (numbers, bytes) for the
// columns of spans or log records.
type wireArena struct{ buf []byte }

// space returns the arena's free end with room for n bytes; values
// written there become strings with string. The arena's bytes are never
// written twice: a full one is replaced, not reused, because the strings
// made of it may outlive the columns (Row, the insert).
func (a *wireArena) space(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(4096, n))
	}
	return a.buf[len(a.buf):len(a.buf)]
}

// string keeps b, written at the arena's free end, as a string.
func (a *wireArena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(a.buf)-len(a.buf) || &b[0] != unsafe.SliceData(a.buf[len(a.buf):cap(a.buf)]) {
		return string(b) // outgrew the space (cannot happen with space's n)
	}
	a.buf = a.buf[:len(a.buf)+len(b)]
	return unsafe.String(&b[0], len(b))
}

// GrowWire makes room for the spans of resource spans in wire form,
// as Grow does, and for their strings: the attributes' keys and values
// and the names are copied out of the wire bytes, a share of them each
// (demo-shaped spans: keys a third, values a quarter, names a twentieth),
// so that a fresh column grows once or not at all rather than doubling
// from nothing.
func (c *SpanColumns) GrowWire(resourceSpans [][]byte) {
	n, size := 0, 0
	for _, rs := range resourceSpans {
		n += CountWireSpans(rs)
		size += len(rs)
	}
	c.Grow(n)
	c.AttributeKeys.Grow(0, size*3/8)
	c.AttributeValues.Grow(0, size*3/8)
	c.Name.Grow(0, size/16)
}

// CountWireSpans is the number of spans a ResourceSpans message in wire
// form holds, for Grow; 0 when it is malformed.
func CountWireSpans(b []byte) int { return countWireItems(b) }

// countWireItems counts field 2 of the messages in field 2 of b: the spans
// of a ResourceSpans, the log records of a ResourceLogs.
func countWireItems(b []byte) int {
	n := 0
	var f wireField
	var ok bool
	for len(b) > 0 {
		if b, ok = nextField(b, &f); !ok {
			return 0
		}
		if f.num != 2 || f.typ != protowire.BytesType {
			continue
		}
		for ss := f.val; len(ss) > 0; {
			if n := shortBytes(ss); n >= 0 {
				f.num, f.typ, f.val = protowire.Number(ss[0]>>3), protowire.BytesType, ss[2:2+n]
				ss = ss[2+n:]
			} else if ss, ok = nextField(ss, &f); !ok {
				return 0
			}
			if f.num == 2 && f.typ == protowire.BytesType {
				n++
			}
		}
	}
	return n
}
