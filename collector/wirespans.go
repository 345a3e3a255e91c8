package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// The spans and log records of an Ingest API request go from the
// request's wire bytes straight into the insert's columns: the gRPC codec
// keeps the request's resource_spans and resource_logs as bytes, decodes
// the rest into the message, and reads the spans and records with
// dbmodel's AppendWire. A resource AppendWire leaves (bad UTF-8, bad IDs,
// values over the limits, rare fields) takes the message path of old, in
// this file too, with the same cuts, drops and counts. The WAL and the
// quarantine keep requests as messages: their spans and records are
// decoded again for them (spanDecode.messages).

// resourceSpansField is ExportRequest.resource_spans, resourceLogsField
// ExportRequest.resource_logs.
const (
	resourceSpansField = 4
	resourceLogsField  = 5
)

// splitSpans separates a request's resource_spans and resource_logs
// fields (their values) from its other fields (as they are). It fails on
// malformed input, which the message path then refuses.
func splitSpans(b []byte) (rest []byte, spans, logs [][]byte, ok bool) {
	start := b
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, nil, false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, nil, nil, false
		}
		if (num == resourceSpansField || num == resourceLogsField) && typ == protowire.BytesType {
			if rest == nil {
				rest = make([]byte, 0, len(start)-len(b)+256)
				rest = append(rest, start[:len(start)-len(b)]...)
			}
			v, _ := protowire.ConsumeBytes(b[n:])
			if num == resourceSpansField {
				spans = append(spans, v)
			} else {
				logs = append(logs, v)
			}
		} else if rest != nil {
			rest = append(rest, b[:n+m]...)
		}
		b = b[n+m:]
	}
	if rest == nil {
		return start, nil, nil, true
	}
	return rest, spans, logs, true
}

// spanDecode is a request's spans and log records read into columns,
// with what was left out, cut or dropped on the way (counted and logged
// by the receiver and the pipeline, as for requests decoded into
// messages).
type spanDecode struct {
	cols dbmodel.SpanColumns
	logs dbmodel.LogColumns
	// raw is the resource spans as received, rawLogs the resource logs,
	// for the WAL and quarantine.
	raw, rawLogs [][]byte
	sent         uint64 // the request's sent time, that of records without one
	// buf holds the request's bytes that raw is a view of (the columns
	// copy what they hold), when it came from a pool; freed by release.
	buf mem.Buffer
	fn  *ingestv1.FunctionIdentity
	cfg Config

	invalidUTF8 int      // spans and log records left out: strings that are not UTF-8
	malformed   int      // spans left out: bad trace, span or parent IDs
	malformedAt []uint64 // their start times, for the losses by hour
	problem     error    // the first malformed span's
	attrs       attrLimiter
	fields      fieldLimiter
	// extra counts the holders besides the receiver (hold); the last
	// release gives the buffers back.
	extra atomic.Int32
}

// spanDecodePool keeps the column buffers of requests' spans and log
// records between requests.
var spanDecodePool = sync.Pool{New: func() any { return new(spanDecode) }}

// release gives d's buffers back for another request's spans, once the
// request was written or put in the WAL: the receiver's, at the end of the
// call (the pipeline waits for the write until then).
func (d *spanDecode) release() {
	if d == nil {
		return
	}
	if d.extra.Add(-1) >= 0 {
		return // another holder releases it
	}
	d.cols.Reset()
	d.logs.Reset()
	if d.buf != nil {
		d.buf.Free()
	}
	*d = spanDecode{cols: d.cols, logs: d.logs}
	spanDecodePool.Put(d)
}

// hold keeps d's buffers past the receiver's release, until one more
// release: a write that goes on after its request was acknowledged from
// the WAL holds them.
func (d *spanDecode) hold() {
	if d != nil {
		d.extra.Add(1)
	}
}

// spanItems is the spans the request holds for the pipeline's counts: the
// rows, and the spans the writer will count as rejected.
func (d *spanDecode) spanItems() int {
	if d == nil {
		return 0
	}
	return d.cols.Len() + d.cols.Rejected
}

// logItems is spanItems for log records.
func (d *spanDecode) logItems() int {
	if d == nil {
		return 0
	}
	return d.logs.Len() + d.logs.Rejected
}

// wireLimits are cfg's caps as AppendWire takes them.
func wireLimits(cfg Config) dbmodel.WireLimits {
	return dbmodel.WireLimits{
		MaxAttributeKeyBytes: cfg.MaxAttributeKeyBytes, MaxAttributeValueBytes: cfg.MaxAttributeValueBytes,
		NameBytes: cfg.Fields.NameBytes, StatusMessageBytes: cfg.Fields.StatusMessageBytes, OtherBytes: cfg.Fields.OtherBytes,
		LogBodyBytes: cfg.Fields.LogBodyBytes,
	}
}

// decodeSpans reads the resource spans raw and resource logs rawLogs
// (views of a buffer that stays as it is) of a request from fn, sent at
// sent, into columns. A body whose spans or records are not protobuf is an
// errBadPayload, as when the whole request is decoded.
func decodeSpans(fn *ingestv1.FunctionIdentity, sent uint64, raw, rawLogs [][]byte, cfg Config) (*spanDecode, error) {
	if fn != nil {
		// The spans carry the identity as the pipeline's field limits
		// leave it; they cut (and count) the request's own later.
		fn = proto.CloneOf(fn)
		(&fieldLimiter{lim: cfg.Fields}).strings(fn)
	}
	d := spanDecodePool.Get().(*spanDecode)
	d.raw, d.rawLogs, d.sent, d.fn, d.cfg = raw, rawLogs, sent, fn, cfg
	d.attrs = attrLimiter{maxKey: cfg.MaxAttributeKeyBytes, maxValue: cfg.MaxAttributeValueBytes}
	d.fields = fieldLimiter{lim: cfg.Fields}
	lim := wireLimits(cfg)
	d.cols.GrowWire(raw)
	for _, rs := range raw {
		if d.cols.AppendWire(fn, rs, lim) {
			continue
		}
		req, left, err := decodeResourceSpans(fn, rs, &d.attrs, &d.fields)
		if err != nil {
			d.release()
			return nil, err
		}
		d.invalidUTF8 += left.invalidUTF8
		d.malformed += left.malformed
		d.malformedAt = append(d.malformedAt, left.malformedAt...)
		if d.problem == nil {
			d.problem = left.problem
		}
		d.cols.AppendExport(req)
	}
	d.logs.GrowWire(rawLogs)
	for _, rl := range rawLogs {
		if d.logs.AppendWire(fn, sent, rl, lim) {
			continue
		}
		req, rejected, err := decodeResourceLogs(fn, sent, rl, &d.attrs, &d.fields)
		if err != nil {
			d.release()
			return nil, err
		}
		d.invalidUTF8 += rejected
		d.logs.AppendExport(req)
	}
	return d, nil
}

// decodeResourceLogs takes one resource logs the message path: decoded
// leniently (records with bad strings left out, counted in rejected),
// limits applied and counted in the limiters.
func decodeResourceLogs(fn *ingestv1.FunctionIdentity, sent uint64, rl []byte, attrs *attrLimiter, fields *fieldLimiter) (*ingestv1.ExportRequest, int, error) {
	wrapped := protowire.AppendBytes(protowire.AppendTag(nil, resourceLogsField, protowire.BytesType), rl)
	req := &ingestv1.ExportRequest{}
	rejected, err := decodeLenient(wrapped, req)
	if err != nil {
		return nil, 0, err
	}
	attrs.apply(req)
	fields.apply(req)
	req.Function, req.SentTimeUnixNano = fn, sent
	return req, rejected, nil
}

// leftOut counts the spans the message path left out.
type leftOut struct {
	invalidUTF8, malformed int
	malformedAt            []uint64 // the malformed spans' start times
	problem                error
}

// decodeResourceSpans takes one resource spans the message path: decoded
// leniently (spans with bad strings left out), spans with bad IDs left
// out, limits applied and counted in the limiters.
func decodeResourceSpans(fn *ingestv1.FunctionIdentity, rs []byte, attrs *attrLimiter, fields *fieldLimiter) (*ingestv1.ExportRequest, leftOut, error) {
	var left leftOut
	wrapped := protowire.AppendBytes(protowire.AppendTag(nil, resourceSpansField, protowire.BytesType), rs)
	req := &ingestv1.ExportRequest{}
	rejected, err := decodeLenient(wrapped, req)
	if err != nil {
		return nil, left, err
	}
	left.invalidUTF8 = rejected
	left.malformed, left.problem = dropMalformedSpans(req, func(sp *tracepb.Span) {
		left.malformedAt = append(left.malformedAt, sp.GetStartTimeUnixNano())
	})
	attrs.apply(req)
	fields.apply(req)
	req.Function = fn
	return req, left, nil
}

// messages is the request's spans as the messages the message path makes
// of them (cut and without the spans left out), for the WAL and the
// quarantine. Nothing is counted again.
func (d *spanDecode) messages() []*tracepb.ResourceSpans {
	if d == nil {
		return nil
	}
	var out []*tracepb.ResourceSpans
	for _, rs := range d.raw {
		attrs := attrLimiter{maxKey: d.cfg.MaxAttributeKeyBytes, maxValue: d.cfg.MaxAttributeValueBytes}
		fields := fieldLimiter{lim: d.cfg.Fields}
		req, _, err := decodeResourceSpans(d.fn, rs, &attrs, &fields)
		if err != nil {
			continue // decodeSpans took it: cannot happen
		}
		out = append(out, req.ResourceSpans...)
	}
	return out
}

// logMessages is messages for the request's log records.
func (d *spanDecode) logMessages() []*logspb.ResourceLogs {
	if d == nil {
		return nil
	}
	var out []*logspb.ResourceLogs
	for _, rl := range d.rawLogs {
		attrs := attrLimiter{maxKey: d.cfg.MaxAttributeKeyBytes, maxValue: d.cfg.MaxAttributeValueBytes}
		fields := fieldLimiter{lim: d.cfg.Fields}
		req, _, err := decodeResourceLogs(d.fn, d.sent, rl, &attrs, &fields)
		if err != nil {
			continue // decodeSpans took it: cannot happen
		}
		out = append(out, req.ResourceLogs...)
	}
	return out
}

// withSpanMessages is req with d's spans and log records as messages, for
// the WAL, the quarantine and writers that take only messages.
func withSpanMessages(req *ingestv1.ExportRequest, d *spanDecode) *ingestv1.ExportRequest {
	if d == nil {
		return req
	}
	// A shallow copy of every field, those added to the API later and
	// those this collector does not know included, as the message path
	// keeps them.
	out := &ingestv1.ExportRequest{}
	src, dst := req.ProtoReflect(), out.ProtoReflect()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
	dst.SetUnknown(src.GetUnknown())
	out.ResourceSpans = append(append([]*tracepb.ResourceSpans(nil), req.ResourceSpans...), d.messages()...)
	out.ResourceLogs = append(append([]*logspb.ResourceLogs(nil), req.ResourceLogs...), d.logMessages()...)
	return out
}

// dropMalformedSpans takes out of req the spans storage would refuse for
// their IDs, and returns how many and the first one's problem.
func dropMalformedSpans(req *ingestv1.ExportRequest, dropped func(*tracepb.Span)) (int, error) {
	malformed := 0
	var problem error
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			kept := ss.Spans[:0]
			for _, sp := range ss.GetSpans() {
				if err := dbmodel.SpanProblem(sp); err != nil {
					if dropped != nil {
						dropped(sp)
					}
					if malformed++; problem == nil {
						name := sp.GetName()
						if len(name) > 64 {
							name = cutUTF8(name, 64) + "..."
						}
						problem = fmt.Errorf("span %q: %w", name, err)
					}
					continue
				}
				kept = append(kept, sp)
			}
			clear(ss.Spans[len(kept):])
			ss.Spans = kept
		}
	}
	return malformed, problem
}

// spanColumnsWriter is a BatchWriter that takes spans and log records in
// columns; *storage.Store is one.
type spanColumnsWriter interface {
	WriteExportsWithColumns(ctx context.Context, reqs []*ingestv1.ExportRequest, spans []*dbmodel.SpanColumns, logs []*dbmodel.LogColumns) (storage.WriteCounts, error)
}

var _ spanColumnsWriter = (*storage.Store)(nil)

// errNoSpanColumns: the store takes spans and log records only as
// messages.
var errNoSpanColumns = errors.New("the store takes spans and log records only as messages")

type spanDecodeKey struct{}

// withSpanDecode carries the request's spans and log records, read by the
// codec, to the receiver.
func withSpanDecode(ctx context.Context, d *spanDecode) context.Context {
	if d == nil {
		return ctx
	}
	return context.WithValue(ctx, spanDecodeKey{}, d)
}

func spanDecodeOf(ctx context.Context) *spanDecode {
	d, _ := ctx.Value(spanDecodeKey{}).(*spanDecode)
	return d
}
