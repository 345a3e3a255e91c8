package collector

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// itemMessages are the messages a bad string rejects alone (the OTLP
// partial success counts them); the rest of the request is kept.
var itemMessages = map[protoreflect.FullName]bool{
	"opentelemetry.proto.trace.v1.Span":                            true,
	"opentelemetry.proto.logs.v1.LogRecord":                        true,
	"opentelemetry.proto.metrics.v1.NumberDataPoint":               true,
	"opentelemetry.proto.metrics.v1.HistogramDataPoint":            true,
	"opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint": true,
	"opentelemetry.proto.metrics.v1.SummaryDataPoint":              true,
	"lambdascope.ingest.v1.Invocation":                             true,
}

// groupMessages are rejected whole, with every item they hold, when a bad
// string sits in them outside any item (in the resource or a scope).
var groupMessages = map[protoreflect.FullName]bool{
	"opentelemetry.proto.trace.v1.ResourceSpans":     true,
	"opentelemetry.proto.logs.v1.ResourceLogs":       true,
	"opentelemetry.proto.metrics.v1.ResourceMetrics": true,
}

// decodeLenient decodes a protobuf request into m. When the body is valid
// protobuf but some strings are not UTF-8 (which proto3 forbids), the
// items (spans, log records, data points, invocations) holding them are
// left out and counted in rejected, and the rest is decoded. A body that is
// not protobuf, or a bad string outside any item or resource group, is an
// errBadPayload.
func decodeLenient(b []byte, m proto.Message) (rejected int, err error) {
	uerr := proto.Unmarshal(b, m)
	if uerr == nil {
		return 0, nil
	}
	proto.Reset(m)
	sc, serr := scrub(b, m.ProtoReflect().Descriptor())
	if serr != nil {
		return 0, fmt.Errorf("%w: decode protobuf: %v", errBadPayload, serr)
	}
	if sc.bad {
		return 0, fmt.Errorf("%w: decode protobuf: %v (outside any span, log record or data point)", errBadPayload, uerr)
	}
	if err := proto.Unmarshal(sc.out, m); err != nil {
		proto.Reset(m)
		return 0, fmt.Errorf("%w: decode protobuf: %v", errBadPayload, err)
	}
	return sc.dropped, nil
}

// scrubbed is a message's wire form without its bad items.
type scrubbed struct {
	out     []byte // the message itself when changed is false
	changed bool   // items were left out, here or below
	bad     bool   // a string outside the items dropped here is not UTF-8
	kept    int    // items kept
	dropped int    // items dropped
}

// errTooDeep: messages nested beyond protobuf's own recursion limit, which
// the decoder refuses anyway.
var errTooDeep = errors.New("messages nested deeper than protobuf's limit")

// scrub walks the wire form of a message of type md, dropping the items
// and groups that hold strings that are not UTF-8. It copies only the
// messages that lose something (the items sit a few levels down), so that
// its time and memory grow with the body, not with the body times its
// depth, and it stops at protobuf's recursion limit.
func scrub(b []byte, md protoreflect.MessageDescriptor) (scrubbed, error) {
	return scrubAt(b, md, 0)
}

func scrubAt(b []byte, md protoreflect.MessageDescriptor, depth int) (scrubbed, error) {
	s := scrubbed{out: b}
	if depth > protowire.DefaultRecursionLimit {
		return s, errTooDeep
	}
	// change starts the copy at the field that begins at pos: what came
	// before it is kept as it is.
	change := func(pos int) {
		if !s.changed {
			s.changed = true
			s.out = append(make([]byte, 0, len(b)), b[:pos]...)
		}
	}
	for pos := 0; pos < len(b); {
		rest := b[pos:]
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return s, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if m < 0 {
			return s, protowire.ParseError(m)
		}
		field := rest[:n+m]
		at := pos
		pos += n + m
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType || (fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.MessageKind) {
			if s.changed {
				s.out = append(s.out, field...)
			}
			continue
		}
		val, _ := protowire.ConsumeBytes(field[n:])
		if fd.Kind() == protoreflect.StringKind {
			if !utf8.Valid(val) {
				s.bad = true
			}
			if s.changed {
				s.out = append(s.out, field...)
			}
			continue
		}
		child, err := scrubAt(val, fd.Message(), depth+1)
		if err != nil {
			return s, err
		}
		name := fd.Message().FullName()
		switch {
		case itemMessages[name] && child.bad:
			change(at)
			s.dropped++
		case groupMessages[name] && child.bad:
			change(at)
			s.dropped += child.kept + child.dropped
		default:
			if itemMessages[name] {
				s.kept++
			} else {
				s.bad = s.bad || child.bad
				s.kept += child.kept
				s.dropped += child.dropped
			}
			if child.changed {
				change(at)
				s.out = protowire.AppendTag(s.out, num, protowire.BytesType)
				s.out = protowire.AppendBytes(s.out, child.out)
			} else if s.changed {
				s.out = append(s.out, field...)
			}
		}
	}
	return s, nil
}

// lenientCodec is the gRPC server's codec: protobuf, where a request with a
// few strings that are not UTF-8 loses only the items holding them, and an
// undecodable one is refused with INVALID_ARGUMENT by the interceptor
// (gRPC itself would answer INTERNAL for a codec error). The decoding's
// outcome waits in notes for the interceptor, keyed by the message.
//
// An Ingest API request's spans and log records are read from the wire
// bytes into insert columns (decodeSpans, wirespans.go); the note carries
// them.
type lenientCodec struct {
	base  encoding.CodecV2
	cfg   Config
	notes sync.Map // proto.Message -> decodeNote
}

type decodeNote struct {
	rejected int
	err      error
	spans    *spanDecode
}

func newLenientCodec(cfg Config) *lenientCodec {
	return &lenientCodec{base: encoding.GetCodecV2("proto"), cfg: cfg}
}

func (c *lenientCodec) Name() string { return "proto" }

func (c *lenientCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c *lenientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if req, ok := v.(*ingestv1.ExportRequest); ok {
		if done := c.unmarshalExport(data, req); done {
			return nil
		}
	}
	err := c.base.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok {
		return err
	}
	rejected, err := decodeLenient(data.Materialize(), m)
	c.notes.Store(m, decodeNote{rejected: rejected, err: err})
	return nil
}

// take returns and forgets what decoding req noted.
func (c *lenientCodec) take(req any) (decodeNote, bool) {
	v, ok := c.notes.LoadAndDelete(req)
	if !ok {
		return decodeNote{}, false
	}
	return v.(decodeNote), true
}

// unmarshalExport decodes an Ingest API request: its spans and log
// records into columns, the rest into req. It says false for a body that is not protobuf, left
// to the message path, which refuses it.
func (c *lenientCodec) unmarshalExport(data mem.BufferSlice, req *ingestv1.ExportRequest) bool {
	// A buffer of its own, from requestBuffers: the columns' strings are
	// views of it, so it goes back to the pool only with the columns, when
	// the call ends (spanDecode.release). Everything else decoded from it
	// (the message, notes) is a copy.
	buf := pooledMessage(data)
	rest, raw, rawLogs, ok := splitSpans(buf.ReadOnlyData())
	if !ok {
		buf.Free()
		return false
	}
	var note decodeNote
	if err := proto.Unmarshal(rest, req); err != nil {
		proto.Reset(req)
		note.rejected, note.err = decodeLenient(rest, req)
	} else if len(raw) == 0 && len(rawLogs) == 0 {
		buf.Free()
		return true // nothing to note
	}
	if note.err == nil && (len(raw) > 0 || len(rawLogs) > 0) {
		d, err := decodeSpans(req.GetFunction(), req.GetSentTimeUnixNano(), raw, rawLogs, c.cfg)
		if err != nil {
			proto.Reset(req)
			note = decodeNote{err: err}
		} else {
			note.rejected += d.invalidUTF8
			note.spans = d
			d.buf, buf = buf, nil
		}
	}
	if buf != nil {
		buf.Free()
	}
	c.notes.Store(req, note)
	return true
}
