// Package otlpwire reads the function's protobuf-encoded OTLP trace export
// requests at the wire level, without decoding them into Go structs: it
// checks them as the protobuf decoder would, counts their spans, finds the
// spans that name their invocation, and re-tags each resource_spans field
// for the Ingest API request, so the function's spans reach the collector
// byte for byte. The one exception is SetParent, which adds a parent to a
// span and encodes its ResourceSpans again.
package otlpwire

import (
	"errors"
	"fmt"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// AttrInvocationID is the span attribute naming the invocation a span
// belongs to.
const AttrInvocationID = "faas.invocation_id"

// IngestResourceSpansField is the field number of resource_spans in the
// Ingest API's ExportRequest (proto/lambdascope/ingest/v1/ingest.proto).
const IngestResourceSpansField protowire.Number = 4

// exportResourceSpansField is resource_spans in ExportTraceServiceRequest.
const exportResourceSpansField protowire.Number = 1

// recursionLimit is the nesting depth the protobuf decoder accepts.
const recursionLimit = protowire.DefaultRecursionLimit

// ErrMalformed means a request is not a valid encoded message of its type.
var ErrMalformed = errors.New("malformed OTLP protobuf")

// ResourceSpans is one encoded ResourceSpans of a request.
type ResourceSpans struct {
	// Field is the resource_spans field of an Ingest API ExportRequest:
	// tag, length and the encoded message.
	Field []byte
	// Size is the size of the encoded message (without tag and length).
	Size int
	// Spans is how many spans it holds.
	Spans int
}

// InvocationSpan is a span carrying faas.invocation_id.
type InvocationSpan struct {
	InvocationID    string
	TraceID, SpanID []byte
	// Server says the span's kind is SERVER.
	Server bool
	// Parent is the span's parent_span_id where the span is kept to be
	// shipped (nil when it has none of 8 bytes): writing 8 bytes into it
	// re-parents the span that is shipped. A span without one gets one
	// with Traces.SetParent.
	Parent []byte

	// res is the index of the span's ResourceSpans in Traces, at the
	// span's place among its spans (set by ScanTraces only).
	res, at int
}

// Traces is what ScanTraces found in one ExportTraceServiceRequest.
type Traces struct {
	ResourceSpans []ResourceSpans
	// Invocations are the spans with a faas.invocation_id and a 16-byte
	// trace ID, in request order.
	Invocations []InvocationSpan
}

// SpanCount is the number of spans in all resource spans.
func (t *Traces) SpanCount() int {
	n := 0
	for _, rs := range t.ResourceSpans {
		n += rs.Spans
	}
	return n
}

// ScanTraces reads an encoded ExportTraceServiceRequest. It accepts what
// proto.Unmarshal accepts and rejects the rest with an error wrapping
// ErrMalformed. The returned fields are copies; data may be reused.
//
// The request is read once: each resource_spans is copied, re-tagged,
// and checked and scanned in the copy, so that Invocations' Parent points
// into what is shipped.
func ScanTraces(data []byte) (*Traces, error) {
	// Field numbers 1 and 4 both take a one-byte tag, so the re-tagged
	// fields fit in len(data) bytes.
	return scanTraces(data, &scan{t: &Traces{}, out: make([]byte, 0, len(data))})
}

// ScanTracesInPlace is ScanTraces for a request the caller gives up: each
// resource_spans field is re-tagged where it is (one whose tag takes more
// than a byte is copied), so the returned fields and Invocations point
// into data, which must not be changed or reused afterwards, not even
// when an error is returned.
func ScanTracesInPlace(data []byte) (*Traces, error) {
	return scanTraces(data, &scan{t: &Traces{}, inPlace: true})
}

func scanTraces(data []byte, sc *scan) (*Traces, error) {
	if err := validate(data, exportRequestSchema, recursionLimit, sc, nil); err != nil {
		return nil, fmt.Errorf("%w: export trace request: %w", ErrMalformed, err)
	}
	return sc.t, nil
}

// scan is what validate gathers while it checks a request in ScanTraces.
type scan struct {
	t *Traces
	// inPlace re-tags the resource_spans fields in the request.
	inPlace bool
	// out holds the re-tagged copies of resource_spans fields.
	out []byte
	// spans counts the spans of the resource spans being checked.
	spans int
}

// exportResourceSpansTag and ingestResourceSpansTag are the one-byte tags
// of resource_spans in the two requests.
const (
	exportResourceSpansTag = byte(exportResourceSpansField)<<3 | byte(protowire.BytesType)
	ingestResourceSpansTag = byte(IngestResourceSpansField)<<3 | byte(protowire.BytesType)
)

// resourceSpans takes the request's resource spans msg, whose whole field
// (tag, length, msg) is field, as an Ingest API field: re-tagged in place
// or copied into s.out; then it checks the field's message and scans its
// spans there.
func (s *scan) resourceSpans(field, msg []byte, rs *schema, depth int) error {
	if s.inPlace && field[0] == exportResourceSpansTag {
		field = field[:len(field):len(field)]
		field[0] = ingestResourceSpansTag
	} else {
		start := len(s.out)
		s.out = protowire.AppendTag(s.out, IngestResourceSpansField, protowire.BytesType)
		s.out = protowire.AppendBytes(s.out, msg)
		field = s.out[start:len(s.out):len(s.out)]
	}
	s.spans = 0
	if err := validate(field[len(field)-len(msg):], rs, depth, s, nil); err != nil {
		return err
	}
	s.t.ResourceSpans = append(s.t.ResourceSpans, ResourceSpans{Field: field, Size: len(msg), Spans: s.spans})
	return nil
}

// span checks an encoded Span and notes it when it names its invocation.
func (s *scan) span(b []byte, sp *schema, depth int) error {
	var f spanFields
	if err := validate(b, sp, depth, s, &f); err != nil {
		return err
	}
	if ref, ok := f.invocationSpan(); ok {
		ref.res, ref.at = len(s.t.ResourceSpans), s.spans
		s.t.Invocations = append(s.t.Invocations, ref)
	}
	s.spans++
	return nil
}

// spanFields are the fields of a Span that validate notes for scan, with
// the decoder's rules: the last value of a singular field wins, and the
// first attribute with the key counts.
type spanFields struct {
	traceID, spanID, parent []byte
	kind                    uint64
	invocationID            string
	found                   bool
}

// note takes a valid value of the Span's field num (length-delimited, or
// a varint in x) of the field's own wire type.
func (f *spanFields) note(num protowire.Number, v []byte, x uint64) {
	switch num {
	case 1:
		f.traceID = v
	case 2:
		f.spanID = v
	case 4:
		f.parent = v
	case 6:
		f.kind = x
	case 9:
		if !f.found {
			f.invocationID, f.found = invocationAttr(v)
		}
	}
}

// invocationSpan is the span as scanSpan reads it.
func (f *spanFields) invocationSpan() (InvocationSpan, bool) {
	if f.invocationID == "" || len(f.traceID) != 16 {
		return InvocationSpan{}, false
	}
	ref := InvocationSpan{InvocationID: f.invocationID, TraceID: append([]byte(nil), f.traceID...)}
	if f.spanID != nil {
		ref.SpanID = append([]byte{}, f.spanID...)
	}
	ref.Server = int32(f.kind) == int32(tracepb.Span_SPAN_KIND_SERVER)
	if len(f.parent) == 8 {
		ref.Parent = f.parent
	}
	return ref, true
}

// scanResourceSpans counts the spans of a valid encoded ResourceSpans,
// the res-th of the request, and notes its invocation spans.
func (t *Traces) scanResourceSpans(b []byte, res int) int {
	spans := 0
	eachField(b, 2, func(scope []byte) { // scope_spans
		eachField(scope, 2, func(span []byte) { // spans
			if ref, ok := scanSpan(span); ok {
				ref.res, ref.at = res, spans
				t.Invocations = append(t.Invocations, ref)
			}
			spans++
		})
	})
	return spans
}

// parentField is the tag and length of a span's parent_span_id.
var parentField = []byte{4<<3 | byte(protowire.BytesType), 8}

// ErrHasParent means SetParent was asked for a span that has a parent.
var ErrHasParent = errors.New("the span has a parent")

// SetParent gives invocation span i, which has no parent, the parent
// span ID parent. The field is added at the end of the span's encoding (a
// later value wins when decoded), so the span, its scope_spans and its
// ResourceSpans are encoded again; the other ResourceSpans and the rest of
// this one keep their bytes. The Invocations of that ResourceSpans then
// point into the new encoding (span i's Parent at its new parent).
func (t *Traces) SetParent(i int, parent [8]byte) error {
	if i < 0 || i >= len(t.Invocations) || t.Invocations[i].res < 0 || t.Invocations[i].res >= len(t.ResourceSpans) {
		return fmt.Errorf("set parent of invocation span %d: no such span in the request", i)
	}
	inv := t.Invocations[i]
	if inv.Parent != nil {
		return fmt.Errorf("set parent of invocation span %d: %w", i, ErrHasParent)
	}
	rs := &t.ResourceSpans[inv.res]
	_, _, n := consumeTag(rs.Field)
	msg, _ := consumeBytes(rs.Field[n:])
	// The spans before the one to change, counted across scope_spans.
	seen := 0
	rewrite := func(b []byte, num protowire.Number, fn func(v []byte) ([]byte, bool)) ([]byte, bool) {
		for p := b; len(p) > 0; {
			start := len(b) - len(p)
			n0, typ, n := consumeTag(p)
			p = p[n:]
			if n0 != num || typ != protowire.BytesType {
				p = p[skipValue(n0, typ, p):]
				continue
			}
			v, n := consumeBytes(p)
			p = p[n:]
			if nv, ok := fn(v); ok {
				o := append([]byte(nil), b[:start]...)
				o = protowire.AppendTag(o, num, protowire.BytesType)
				o = protowire.AppendBytes(o, nv)
				return append(o, p...), true
			}
		}
		return nil, false
	}
	out, ok := rewrite(msg, 2, func(scope []byte) ([]byte, bool) { // scope_spans
		return rewrite(scope, 2, func(span []byte) ([]byte, bool) { // spans
			if seen != inv.at {
				seen++
				return nil, false
			}
			o := append(append([]byte(nil), span...), parentField...)
			return append(o, parent[:]...), true
		})
	})
	if !ok {
		return fmt.Errorf("set parent of invocation span %d: span %d not found in its resource spans", i, inv.at)
	}
	field := protowire.AppendTag(make([]byte, 0, len(out)+protowire.SizeVarint(uint64(len(out)))+1), IngestResourceSpansField, protowire.BytesType)
	field = protowire.AppendBytes(field, out)
	rs.Field, rs.Size = field, len(out)
	// The spans of this ResourceSpans are read again from the new bytes.
	fresh := &Traces{}
	fresh.scanResourceSpans(field[len(field)-len(out):], inv.res)
	k := 0
	for j := range t.Invocations {
		if t.Invocations[j].res == inv.res && k < len(fresh.Invocations) {
			t.Invocations[j] = fresh.Invocations[k]
			k++
		}
	}
	return nil
}

// eachField calls fn with the value of every length-delimited field num of
// a valid encoded message, in order.
func eachField(b []byte, num protowire.Number, fn func([]byte)) {
	for len(b) > 0 {
		n0, typ, n := consumeTag(b)
		b = b[n:]
		if n0 == num && typ == protowire.BytesType {
			v, n := consumeBytes(b)
			fn(v)
			b = b[n:]
			continue
		}
		b = b[skipValue(n0, typ, b):]
	}
}

// scanSpan reads the trace ID, span ID, kind and faas.invocation_id of a
// valid encoded Span, with the decoder's rules: the last value of a
// singular field wins, and the first attribute with the key counts.
func scanSpan(b []byte) (InvocationSpan, bool) {
	var (
		ref   InvocationSpan
		kind  int32
		found bool
	)
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		b = b[n:]
		switch {
		case typ == protowire.BytesType && (num == 1 || num == 2 || num == 4 || num == 9):
			v, n := consumeBytes(b)
			b = b[n:]
			switch num {
			case 1:
				ref.TraceID = v
			case 2:
				ref.SpanID = v
			case 4:
				ref.Parent = v
			case 9:
				if !found {
					ref.InvocationID, found = invocationAttr(v)
				}
			}
		case typ == protowire.VarintType && num == 6:
			v, n := protowire.ConsumeVarint(b)
			b = b[n:]
			kind = int32(v)
		default:
			b = b[skipValue(num, typ, b):]
		}
	}
	if ref.InvocationID == "" || len(ref.TraceID) != 16 {
		return InvocationSpan{}, false
	}
	ref.TraceID = append([]byte(nil), ref.TraceID...)
	if ref.SpanID != nil {
		ref.SpanID = append([]byte{}, ref.SpanID...)
	}
	ref.Server = kind == int32(tracepb.Span_SPAN_KIND_SERVER)
	if len(ref.Parent) != 8 {
		ref.Parent = nil
	}
	return ref, true
}

// invocationAttr reads a valid encoded KeyValue: found says its key is
// faas.invocation_id, id is its string value ("" when it holds another
// type).
func invocationAttr(b []byte) (id string, found bool) {
	// Most attributes are their key then their value, and that key
	// decides at once.
	if len(b) > 2 && b[0] == 1<<3|byte(protowire.BytesType) && b[1] < 0x80 {
		k := 2 + int(b[1])
		if rest := b[k:]; len(rest) > 1 && rest[0] == 2<<3|byte(protowire.BytesType) {
			if _, n := consumeBytes(rest[1:]); 1+n == len(rest) && string(b[2:k]) != AttrInvocationID {
				return "", false
			}
		}
	}
	// The key is read first; the value only of the attribute that names
	// the invocation, so the other attributes cost one pass over their
	// two fields.
	var key []byte
	for p := b; len(p) > 0; {
		num, typ, n := consumeTag(p)
		p = p[n:]
		if num == 1 && typ == protowire.BytesType {
			key, n = consumeBytes(p)
		} else {
			n = skipValue(num, typ, p)
		}
		p = p[n:]
	}
	if string(key) != AttrInvocationID {
		return "", false
	}
	var str []byte
	var last protowire.Number // the AnyValue oneof member set last
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		b = b[n:]
		if typ != protowire.BytesType || (num != 1 && num != 2) {
			b = b[skipValue(num, typ, b):]
			continue
		}
		v, n := consumeBytes(b)
		b = b[n:]
		if num == 1 {
			continue
		}
		// Occurrences of the value message are merged.
		for len(v) > 0 {
			vn, vt, n := consumeTag(v)
			v = v[n:]
			if vn >= 1 && vn <= 7 && vt == anyValueWireType[vn] {
				last = vn
				if vn == 1 {
					s, n := consumeBytes(v)
					str = s
					v = v[n:]
					continue
				}
			}
			v = v[skipValue(vn, vt, v):]
		}
	}
	if last != 1 {
		return "", true
	}
	return string(str), true
}

// anyValueWireType is the wire type of each member of AnyValue's oneof.
var anyValueWireType = [8]protowire.Type{
	1: protowire.BytesType,   // string_value
	2: protowire.VarintType,  // bool_value
	3: protowire.VarintType,  // int_value
	4: protowire.Fixed64Type, // double_value
	5: protowire.BytesType,   // array_value
	6: protowire.BytesType,   // kvlist_value
	7: protowire.BytesType,   // bytes_value
}

// fieldKind is how a known field is checked.
type fieldKind uint8

const (
	kindUnknown fieldKind = iota
	kindVarint
	kindFixed32
	kindFixed64
	kindBytes
	kindString // UTF-8 checked
	kindMessage
)

var kindWireType = [...]protowire.Type{
	kindVarint: protowire.VarintType, kindFixed32: protowire.Fixed32Type, kindFixed64: protowire.Fixed64Type,
	kindBytes: protowire.BytesType, kindString: protowire.BytesType, kindMessage: protowire.BytesType,
}

type fieldInfo struct {
	kind fieldKind
	// packed says a repeated scalar, which may also come packed.
	packed bool
	msg    *schema
}

// schema lists the known fields of a message type by number.
type schema struct {
	name   protoreflect.FullName
	fields []fieldInfo
	// role says what ScanTraces does with a message of the type.
	role schemaRole
}

// schemaRole marks the message types ScanTraces reads as it checks them.
type schemaRole uint8

const (
	roleNone          schemaRole = iota
	roleResourceSpans            // copied and re-tagged, its spans counted
	roleSpan                     // scanned for its invocation
	roleKeyValue                 // an attribute: see stringAttr
)

func (s *schema) field(num protowire.Number) fieldInfo {
	if int(num) < len(s.fields) {
		return s.fields[num]
	}
	return fieldInfo{}
}

var exportRequestSchema = buildExportRequestSchema()

// buildExportRequestSchema is ExportTraceServiceRequest's schema: only
// resource_spans is known, every nested type from the OTLP descriptors.
func buildExportRequestSchema() *schema {
	built := map[protoreflect.FullName]*schema{}
	rs := buildSchema((&tracepb.ResourceSpans{}).ProtoReflect().Descriptor(), built)
	rs.role = roleResourceSpans
	built[(&tracepb.Span{}).ProtoReflect().Descriptor().FullName()].role = roleSpan
	built[(&commonpb.KeyValue{}).ProtoReflect().Descriptor().FullName()].role = roleKeyValue
	s := &schema{name: "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest", fields: make([]fieldInfo, 2)}
	s.fields[exportResourceSpansField] = fieldInfo{kind: kindMessage, msg: rs}
	return s
}

func buildSchema(md protoreflect.MessageDescriptor, built map[protoreflect.FullName]*schema) *schema {
	if s, ok := built[md.FullName()]; ok {
		return s
	}
	s := &schema{name: md.FullName()}
	built[md.FullName()] = s
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		var fi fieldInfo
		switch fd.Kind() {
		case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
			protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
			fi.kind = kindVarint
		case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
			fi.kind = kindFixed32
		case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
			fi.kind = kindFixed64
		case protoreflect.BytesKind:
			fi.kind = kindBytes
		case protoreflect.StringKind:
			fi.kind = kindBytes
			if fd.Syntax() == protoreflect.Proto3 {
				fi.kind = kindString
			}
		case protoreflect.MessageKind:
			fi.kind, fi.msg = kindMessage, buildSchema(fd.Message(), built)
		default:
			continue // groups: none in OTLP; read as unknown fields
		}
		fi.packed = fd.IsList() && fi.kind <= kindFixed64
		num := int(fd.Number())
		for len(s.fields) <= num {
			s.fields = append(s.fields, fieldInfo{})
		}
		s.fields[num] = fi
	}
	return s
}

// validate checks an encoded message of schema s as proto.Unmarshal does:
// well-formed tags and lengths, valid field numbers, UTF-8 strings, known
// message fields recursively, at most depth levels deep. A known field
// with an unexpected wire type is an unknown field, as for the decoder.
// The error names the innermost message and field; outer levels return it
// as it is, so its size does not grow with the nesting.
//
// With sc set (ScanTraces), resource spans and spans are handed to it;
// with sp set, the message is a Span whose fields are noted there.
func validate(b []byte, s *schema, depth int, sc *scan, sp *spanFields) error {
	if depth--; depth < 0 {
		return fmt.Errorf("%s: exceeded maximum nesting depth", s.name)
	}
	for len(b) > 0 {
		var (
			num protowire.Number
			typ protowire.Type
		)
		field := b // from the tag on
		if t := b[0]; t >= 1<<3 && t < 0x80 {
			// A one-byte tag: field numbers 1 to 15.
			num, typ = protowire.Number(t>>3), protowire.Type(t&7)
			b = b[1:]
		} else {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("%s: bad tag: %w", s.name, protowire.ParseError(n))
			}
			b = b[n:]
			num, typ = protowire.DecodeTag(v)
			if num < protowire.MinValidNumber || num > protowire.MaxValidNumber {
				return fmt.Errorf("%s: invalid field number %d", s.name, num)
			}
		}
		if typ == protowire.EndGroupType {
			return fmt.Errorf("%s: field %d: end of a group that was not started", s.name, num)
		}
		f := s.field(num)
		if f.kind == kindUnknown || typ != kindWireType[f.kind] {
			n := 0
			if f.packed && typ == protowire.BytesType {
				v, m := protowire.ConsumeBytes(b)
				if m < 0 {
					return fieldError(s, num, protowire.ParseError(m))
				}
				for p := v; len(p) > 0; {
					k, err := validateScalar(p, f.kind)
					if err != nil {
						return fieldError(s, num, err)
					}
					p = p[k:]
				}
				n = m
			} else if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return fmt.Errorf("%s: unknown field %d: %w", s.name, num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		if f.kind <= kindFixed64 {
			if f.kind == kindVarint && sp != nil {
				x, n := consumeVarint(b)
				if n < 0 {
					return fieldError(s, num, protowire.ParseError(n))
				}
				sp.note(num, nil, x)
				b = b[n:]
				continue
			}
			n, err := validateScalar(b, f.kind)
			if err != nil {
				return fieldError(s, num, err)
			}
			b = b[n:]
			continue
		}
		v, n := consumeBytes(b)
		if n < 0 {
			return fieldError(s, num, protowire.ParseError(n))
		}
		b = b[n:]
		switch f.kind {
		case kindString:
			if !utf8.Valid(v) {
				return fieldError(s, num, errors.New("string is not valid UTF-8"))
			}
		case kindMessage:
			var err error
			switch {
			case f.msg.role == roleKeyValue && depth >= 2 && stringAttr(v):
				// KeyValue and AnyValue each take a level.
			case sc != nil && f.msg.role == roleResourceSpans:
				err = sc.resourceSpans(field[:len(field)-len(b)], v, f.msg, depth)
			case sc != nil && f.msg.role == roleSpan:
				err = sc.span(v, f.msg, depth)
			default:
				err = validate(v, f.msg, depth, sc, nil)
			}
			if err != nil {
				return fieldError(s, num, nestedError{err})
			}
		}
		if sp != nil {
			sp.note(num, v, 0)
		}
	}
	return nil
}

// nestedError is an error found inside a nested message, already named.
type nestedError struct{ error }

func (e nestedError) Unwrap() error { return e.error }

// fieldError names the field whose value is bad, unless a nested message
// already did.
func fieldError(s *schema, num protowire.Number, err error) error {
	var nested nestedError
	if errors.As(err, &nested) {
		return err
	}
	return nestedError{fmt.Errorf("%s: field %d: %w", s.name, num, err)}
}

// stringAttr reports whether b is a valid encoded KeyValue of the most
// common shape: its key, then its value holding only a string_value, each
// once, with one-byte lengths, both strings valid UTF-8. Such an attribute
// is checked without descending into the value; any other is left to
// validate, which also finds what is wrong with it.
func stringAttr(b []byte) bool {
	const (
		keyTag   = 1<<3 | byte(protowire.BytesType) // KeyValue.key
		valueTag = 2<<3 | byte(protowire.BytesType) // KeyValue.value
		strTag   = 1<<3 | byte(protowire.BytesType) // AnyValue.string_value
	)
	if len(b) < 4 || b[0] != keyTag || b[1] >= 0x80 {
		return false
	}
	k := 2 + int(b[1])
	if k+2 > len(b) || b[k] != valueTag || b[k+1] >= 0x80 || k+2+int(b[k+1]) != len(b) {
		return false
	}
	v := b[k+2:]
	if len(v) < 2 || v[0] != strTag || v[1] >= 0x80 || 2+int(v[1]) != len(v) {
		return false
	}
	return utf8.Valid(b[2:k]) && utf8.Valid(v[2:])
}

// validateScalar checks one varint or fixed-size value and returns its
// length.
func validateScalar(b []byte, kind fieldKind) (int, error) {
	var n int
	switch kind {
	case kindVarint:
		_, n = consumeVarint(b)
	case kindFixed32:
		_, n = protowire.ConsumeFixed32(b)
	case kindFixed64:
		_, n = protowire.ConsumeFixed64(b)
	}
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	return n, nil
}

// consumeVarint is protowire.ConsumeVarint with the one-byte case inline:
// most tags, lengths and enum values of a request fit in one byte.
func consumeVarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return protowire.ConsumeVarint(b)
}

// consumeBytes is protowire.ConsumeBytes with the one-byte length inline.
func consumeBytes(b []byte) ([]byte, int) {
	if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
		m := int(b[0]) + 1
		return b[1:m:m], m
	}
	return protowire.ConsumeBytes(b)
}

// consumeTag is protowire.ConsumeTag with the one-byte case inline, for
// input already validated (a one-byte tag with field number 0 cannot occur
// there).
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return protowire.Number(b[0] >> 3), protowire.Type(b[0] & 7), 1
	}
	return protowire.ConsumeTag(b)
}

// skipValue is protowire.ConsumeFieldValue for input already validated,
// with the common wire types inline.
func skipValue(num protowire.Number, typ protowire.Type, b []byte) int {
	switch typ {
	case protowire.Fixed64Type:
		return 8
	case protowire.Fixed32Type:
		return 4
	case protowire.VarintType:
		_, n := consumeVarint(b)
		return n
	case protowire.BytesType:
		_, n := consumeBytes(b)
		return n
	}
	return protowire.ConsumeFieldValue(num, typ, b)
}
