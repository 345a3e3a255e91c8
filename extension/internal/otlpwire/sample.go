package otlpwire

import "google.golang.org/protobuf/encoding/protowire"

// FilterSpans keeps the spans of rs (a field ScanTraces returned) whose
// trace ID keep accepts, at the wire level: every other byte — the
// resource, scopes, schema URLs, unknown fields and the kept spans — is
// copied as it was. A scope left without spans is left out, and so is a
// resource left without scopes: the returned ResourceSpans then holds no
// spans and an empty Field. dropped is how many spans were left out. When
// no span is left out, rs is returned as it is.
func FilterSpans(rs ResourceSpans, keep func(traceID []byte) bool) (_ ResourceSpans, dropped int) {
	_, _, n := consumeTag(rs.Field)
	msg, _ := consumeBytes(rs.Field[n:])
	tag := rs.Field[:n]
	eachField(msg, 2, func(scope []byte) {
		eachField(scope, 2, func(span []byte) {
			if !keep(traceID(span)) {
				dropped++
			}
		})
	})
	if dropped == 0 {
		return rs, 0
	}
	if dropped == rs.Spans {
		return ResourceSpans{}, dropped
	}
	body := make([]byte, 0, len(msg))
	for b := msg; len(b) > 0; {
		num, typ, n := consumeTag(b)
		size := n + skipValue(num, typ, b[n:])
		field := b[:size]
		b = b[size:]
		if num != 2 || typ != protowire.BytesType {
			body = append(body, field...)
			continue
		}
		scope, _ := consumeBytes(field[n:])
		if kept := filterScope(scope, keep); kept != nil {
			body = protowire.AppendTag(body, 2, protowire.BytesType)
			body = protowire.AppendBytes(body, kept)
		}
	}
	out := make([]byte, 0, len(tag)+protowire.SizeVarint(uint64(len(body)))+len(body))
	out = append(out, tag...)
	out = protowire.AppendBytes(out, body)
	return ResourceSpans{Field: out, Size: len(body), Spans: rs.Spans - dropped}, dropped
}

// filterScope returns a valid encoded ScopeSpans without the spans keep
// refuses, or nil when none is left.
func filterScope(b []byte, keep func([]byte) bool) []byte {
	out := make([]byte, 0, len(b))
	spans := 0
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		size := n + skipValue(num, typ, b[n:])
		field := b[:size]
		b = b[size:]
		if num == 2 && typ == protowire.BytesType {
			span, _ := consumeBytes(field[n:])
			if !keep(traceID(span)) {
				continue
			}
			spans++
		}
		out = append(out, field...)
	}
	if spans == 0 {
		return nil
	}
	return out
}

// traceID is the trace_id of a valid encoded Span (the last one, as the
// decoder reads it); nil when it has none.
func traceID(b []byte) []byte {
	var id []byte
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := consumeBytes(b)
			id = v
			b = b[n:]
			continue
		}
		b = b[skipValue(num, typ, b):]
	}
	return id
}
