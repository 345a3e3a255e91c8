package dbmodel

import (
	"google.golang.org/protobuf/encoding/protowire"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Descriptors of the log messages AppendWire reads.
var (
	resourceLogsDesc = (&logspb.ResourceLogs{}).ProtoReflect().Descriptor()
	scopeLogsDesc    = (&logspb.ScopeLogs{}).ProtoReflect().Descriptor()
	logRecordDesc    = (&logspb.LogRecord{}).ProtoReflect().Descriptor()
)

// logMark is the columns' length before a resource's log records, to take
// them back out.
type logMark struct{ records int }

func (c *LogColumns) mark() logMark { return logMark{records: c.Len()} }

// rollback drops the log records appended since m.
func (c *LogColumns) rollback(m logMark) {
	n := m.records
	c.TimeUnixNano, c.ObservedTimeUnixNano = c.TimeUnixNano[:n], c.ObservedTimeUnixNano[:n]
	c.TraceIDs, c.SpanIDs, c.SeverityNumber = c.TraceIDs[:16*n], c.SpanIDs[:8*n], c.SeverityNumber[:n]
	for _, s := range c.strings() {
		s.Truncate(n)
	}
	for _, a := range c.arrays() {
		a.Truncate(n)
	}
	for _, r := range c.runs() {
		r.Truncate(n)
	}
	// A record refused half-way leaves its pairs in the scratch.
	c.strs, c.scratch = c.strs[:0], c.scratch[:0]
}

// AppendWire adds the log records of one ResourceLogs message, given in
// its protobuf wire form, without decoding it into messages: the rows are
// those AppendExport makes of the decoded message in a batch sent at sent
// (the time of records without one). The strings are copied into the
// columns as each record is read: b need not be kept after.
//
// As SpanColumns.AppendWire, it takes only plain, clean input: it returns
// false, and leaves the columns as they were, when the message is
// malformed, holds a string that is not UTF-8, a record the writer would
// refuse (a time after MaxDateTimeUnixNano), a value over one of lim's
// caps, a field it does not read (scope attributes, array and key-value
// list values and bodies), or a singular message repeated. The caller then
// decodes the message and takes the message path, which cuts, drops and
// counts.
func (c *LogColumns) AppendWire(fn *ingestv1.FunctionIdentity, sent uint64, b []byte, lim WireLimits) bool {
	m := c.mark()
	if !c.appendResourceLogs(fn, sent, b, &lim) {
		c.rollback(m)
		return false
	}
	return true
}

// GrowWire makes room for the log records of resource logs in wire form,
// as Grow does, and for their strings: the bodies and the attributes'
// keys and values are copied out of the wire bytes, a share of them each
// (demo-shaped records: bodies a third, keys and values a sixth each), so
// that a fresh column grows once or not at all rather than doubling from
// nothing.
func (c *LogColumns) GrowWire(resourceLogs [][]byte) {
	n, size := 0, 0
	for _, rl := range resourceLogs {
		n += countWireItems(rl)
		size += len(rl)
	}
	c.Grow(n)
	c.Body.Grow(0, size*3/8)
	c.AttributeKeys.Grow(0, size/4)
	c.AttributeValues.Grow(0, size/4)
}

func (c *LogColumns) appendResourceLogs(fn *ingestv1.FunctionIdentity, sent uint64, b []byte, lim *WireLimits) bool {
	resource, _, ok := wireGroup(resourceLogsDesc, b)
	if !ok {
		return false
	}
	res, ok := c.wire.resource(fn, resource, lim)
	if !ok {
		return false
	}
	resLogType, _ := KeyValues{Keys: res.attrKeys, Values: res.attrVal}.Get(AttrLogType)
	var f wireField
	for rest := b; len(rest) > 0; {
		rest, _ = nextField(rest, &f)
		if f.num == 2 && f.typ == protowire.BytesType {
			if !c.appendScopeLogs(&res, resLogType, sent, f.val, lim) {
				return false
			}
		}
	}
	return true
}

func (c *LogColumns) appendScopeLogs(res *wireResource, resLogType string, sent uint64, b []byte, lim *WireLimits) bool {
	sc, seen, ok := wireGroup(scopeLogsDesc, b)
	if !ok {
		return false
	}
	// Not stored with log records, but cut by the message path.
	if seen {
		if _, _, ok = scope(sc, lim); !ok {
			return false
		}
	}
	var f wireField
	for rest := b; len(rest) > 0; {
		rest, _ = nextField(rest, &f)
		if f.num != 2 || f.typ != protowire.BytesType {
			continue
		}
		if !c.appendWireLog(f.val, sent, resLogType, lim) {
			return false
		}
	}
	// The resource's columns, the same for each of the scope's records,
	// filled once they are read.
	n := c.Len() - c.ServiceName.Len()
	c.ServiceName.AppendRepeat(res.id.service, n)
	c.FunctionName.AppendRepeat(res.id.function, n)
	c.FunctionVersion.AppendRepeat(res.id.version, n)
	c.AccountID.AppendRepeat(res.id.account, n)
	c.Region.AppendRepeat(res.id.region, n)
	c.ResourceAttrKeys.AppendRowRepeat(res.attrKeys, n)
	c.ResourceAttrValues.AppendRowRepeat(res.attrVal, n)
	return true
}

// appendWireLog adds one log record's own columns (the resource's are the
// caller's).
func (c *LogColumns) appendWireLog(b []byte, sent uint64, resLogType string, lim *WireLimits) bool {
	var (
		f                  wireField
		ok, bodySeen       bool
		ts, observed, sev  uint64
		severityText, body string
		traceID, spanID    []byte
	)
	// The attributes' keys go to strs, their values to scratch, until
	// they are copied into the columns once the record is read.
	c.strs, c.scratch = c.strs[:0], c.scratch[:0]
	for rest := b; len(rest) > 0; {
		if rest, ok = nextField(rest, &f); !ok {
			return false
		}
		switch f.typ {
		case protowire.BytesType:
			switch f.num {
			case 3:
				if severityText, ok = wireString(f.val, lim.OtherBytes); !ok {
					return false
				}
			case 5:
				if bodySeen {
					return false // merged by protobuf
				}
				bodySeen = true
				if body, ok = c.wire.anyValue(f.val, lim.LogBodyBytes); !ok {
					return false
				}
			case 6:
				k, v, ok := c.wire.keyValue(f.val, lim)
				if !ok {
					return false
				}
				c.strs = append(c.strs, k)
				c.scratch = append(c.scratch, v)
			case 9:
				traceID = f.val
			case 10:
				spanID = f.val
			case 12:
				// The event name: not stored, but cut by the message path.
				if _, ok = wireString(f.val, lim.NameBytes); !ok {
					return false
				}
			default:
				if !unread(logRecordDesc, &f) {
					return false
				}
			}
		case protowire.Fixed64Type:
			switch f.num {
			case 1:
				ts = f.u
			case 11:
				observed = f.u
			default:
				if !unread(logRecordDesc, &f) {
					return false
				}
			}
		case protowire.VarintType:
			switch f.num {
			case 2:
				sev = f.u
			case 7:
			default:
				if !unread(logRecordDesc, &f) {
					return false
				}
			}
		case protowire.Fixed32Type:
			if f.num != 8 && !unread(logRecordDesc, &f) {
				return false
			}
		default:
			if !unread(logRecordDesc, &f) {
				return false
			}
		}
	}
	if ts == 0 {
		ts = observed
	}
	if ts == 0 {
		ts = sent
	}
	if ts > MaxDateTimeUnixNano {
		return false // the message path counts it as rejected
	}
	c.TimeUnixNano = append(c.TimeUnixNano, ts)
	c.ObservedTimeUnixNano = append(c.ObservedTimeUnixNano, observed)
	c.TraceIDs = appendID(c.TraceIDs, traceID, 16)
	c.SpanIDs = appendID(c.SpanIDs, spanID, 8)
	c.SeverityNumber = append(c.SeverityNumber, clampUint8(int64(int32(sev))))
	c.SeverityText.Append(severityText)
	c.Body.Append(body)
	c.appendRecordAttributes(resLogType)
	return true
}

// AppendColumns adds the log records of o, with its rejected count and
// problems.
func (c *LogColumns) AppendColumns(o *LogColumns) {
	c.TimeUnixNano, c.ObservedTimeUnixNano = append(c.TimeUnixNano, o.TimeUnixNano...), append(c.ObservedTimeUnixNano, o.ObservedTimeUnixNano...)
	c.TraceIDs, c.SpanIDs, c.SeverityNumber = append(c.TraceIDs, o.TraceIDs...), append(c.SpanIDs, o.SpanIDs...), append(c.SeverityNumber, o.SeverityNumber...)
	for i, s := range c.strings() {
		s.AppendColumn(o.strings()[i])
	}
	for i, a := range c.arrays() {
		a.Append(o.arrays()[i])
	}
	for i, r := range c.runs() {
		r.Append(o.runs()[i])
	}
	c.Rejected += o.Rejected
	for _, p := range o.Problems {
		if len(c.Problems) >= maxProblems {
			break
		}
		c.Problems = append(c.Problems, p)
	}
}
