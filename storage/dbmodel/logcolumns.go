package dbmodel

import (
	"fmt"
	"slices"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// LogColumns holds the log records of one or more Ingest API batches column
// by column, as SpanColumns does for spans: a writer appends each column in
// one call, and Reset keeps the buffers for the next write. FromExport
// reads logs through it, so rows and columns never disagree.
//
// Strings point into the requests they came from; keep the requests until
// the columns are written.
type LogColumns struct {
	TimeUnixNano         []uint64 // event time, else observed time, else the batch's sent time
	ObservedTimeUnixNano []uint64
	// TraceIDs holds 16 bytes per record, SpanIDs 8, back to back; an ID
	// of the wrong length is stored as zeros.
	TraceIDs       []byte
	SpanIDs        []byte
	SeverityNumber []uint8
	SeverityText   []string
	Body           []string

	ServiceName     []string
	FunctionName    []string
	FunctionVersion []string
	AccountID       []string
	Region          []string
	RequestID       []string
	LogType         []string

	// The array columns, one []string per record already boxed. Records
	// of one resource share its boxed resource attributes.
	AttributeKeys, AttributeValues       [][]string
	ResourceAttrKeys, ResourceAttrValues [][]string

	// Rejected counts records refused (a time after MaxDateTimeUnixNano);
	// Problems says why, for the first few.
	Rejected int
	Problems []string

	strs []string // backing store of the per-record attribute slices
	// wire holds the values AppendWire renders (numbers, bytes); scratch
	// is its, to lay out a record's attributes.
	wire    wireArena
	scratch []string
}

// Len is the number of log records.
func (c *LogColumns) Len() int { return len(c.TimeUnixNano) }

// Reset empties the columns, keeping their capacity, and drops the
// references into the requests they were filled from.
func (c *LogColumns) Reset() {
	c.TimeUnixNano, c.ObservedTimeUnixNano = c.TimeUnixNano[:0], c.ObservedTimeUnixNano[:0]
	c.TraceIDs, c.SpanIDs, c.SeverityNumber = c.TraceIDs[:0], c.SpanIDs[:0], c.SeverityNumber[:0]
	for _, s := range []*[]string{
		&c.SeverityText, &c.Body, &c.ServiceName, &c.FunctionName, &c.FunctionVersion,
		&c.AccountID, &c.Region, &c.RequestID, &c.LogType, &c.strs, &c.Problems,
	} {
		clear(*s)
		*s = (*s)[:0]
	}
	for _, a := range []*[][]string{&c.AttributeKeys, &c.AttributeValues, &c.ResourceAttrKeys, &c.ResourceAttrValues} {
		clear(*a)
		*a = (*a)[:0]
	}
	c.Rejected = 0
	c.wire = wireArena{}
}

// Grow makes room for n more log records, so that filling the columns
// from several batches grows each buffer once.
func (c *LogColumns) Grow(n int) {
	c.TimeUnixNano, c.ObservedTimeUnixNano = slices.Grow(c.TimeUnixNano, n), slices.Grow(c.ObservedTimeUnixNano, n)
	c.TraceIDs, c.SpanIDs = slices.Grow(c.TraceIDs, 16*n), slices.Grow(c.SpanIDs, 8*n)
	c.SeverityNumber = slices.Grow(c.SeverityNumber, n)
	for _, s := range []*[]string{
		&c.SeverityText, &c.Body, &c.ServiceName, &c.FunctionName, &c.FunctionVersion,
		&c.AccountID, &c.Region, &c.RequestID, &c.LogType,
	} {
		*s = slices.Grow(*s, n)
	}
	for _, a := range []*[][]string{&c.AttributeKeys, &c.AttributeValues, &c.ResourceAttrKeys, &c.ResourceAttrValues} {
		*a = slices.Grow(*a, n)
	}
}

// AppendExport adds the log records of one Ingest API batch. A malformed
// trace or span ID is stored as zeros; a record whose time (its own, else
// the observed time, else the batch's sent time) is after
// MaxDateTimeUnixNano is counted in Rejected and skipped.
func (c *LogColumns) AppendExport(req *ingestv1.ExportRequest) {
	fn, sent := req.GetFunction(), req.GetSentTimeUnixNano()
	for _, rl := range req.GetResourceLogs() {
		id := identityFor(fn, rl.GetResource())
		resKeys, resValues := emptyStrings, emptyStrings
		var resLogType string
		if attrs := rl.GetResource().GetAttributes(); len(attrs) > 0 {
			kv := keyValues(attrs)
			resKeys, resValues = kv.Keys, kv.Values
			resLogType, _ = kv.Get(AttrLogType)
		}
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				ts, observed := lr.GetTimeUnixNano(), lr.GetObservedTimeUnixNano()
				if ts == 0 {
					ts = observed
				}
				if ts == 0 {
					ts = sent
				}
				if err := checkTime(ts, "time_unix_nano"); err != nil {
					c.Rejected++
					if len(c.Problems) < maxProblems {
						c.Problems = append(c.Problems, fmt.Sprintf("log record: %v", err))
					}
					continue
				}
				c.TimeUnixNano = append(c.TimeUnixNano, ts)
				c.ObservedTimeUnixNano = append(c.ObservedTimeUnixNano, observed)
				c.TraceIDs = appendID(c.TraceIDs, lr.GetTraceId(), 16)
				c.SpanIDs = appendID(c.SpanIDs, lr.GetSpanId(), 8)
				c.SeverityNumber = append(c.SeverityNumber, clampUint8(int64(lr.GetSeverityNumber())))
				c.SeverityText = append(c.SeverityText, lr.GetSeverityText())
				c.Body = append(c.Body, AttributeValue(lr.GetBody()))
				c.ServiceName = append(c.ServiceName, id.service)
				c.FunctionName = append(c.FunctionName, id.function)
				c.FunctionVersion = append(c.FunctionVersion, id.version)
				c.AccountID = append(c.AccountID, id.account)
				c.Region = append(c.Region, id.region)
				c.ResourceAttrKeys = append(c.ResourceAttrKeys, resKeys)
				c.ResourceAttrValues = append(c.ResourceAttrValues, resValues)
				c.appendAttributes(lr.GetAttributes(), resLogType)
			}
		}
	}
}

// appendAttributes renders a record's attributes into the shared string
// store and fills the columns that come from them: the request ID (the
// first non-empty of LogRequestIDKeys) and the log type. Logs keep every
// attribute as sent.
func (c *LogColumns) appendAttributes(attrs []*commonpb.KeyValue, resLogType string) {
	var kv KeyValues
	if len(attrs) == 0 {
		c.AttributeKeys = append(c.AttributeKeys, emptyStrings)
		c.AttributeValues = append(c.AttributeValues, emptyStrings)
	} else {
		start := len(c.strs)
		for _, a := range attrs {
			c.strs = append(c.strs, a.GetKey())
		}
		mid := len(c.strs)
		for _, a := range attrs {
			c.strs = append(c.strs, AttributeValue(a.GetValue()))
		}
		kv = KeyValues{Keys: c.strs[start:mid:mid], Values: c.strs[mid:len(c.strs):len(c.strs)]}
		c.AttributeKeys = append(c.AttributeKeys, kv.Keys)
		c.AttributeValues = append(c.AttributeValues, kv.Values)
	}
	var requestID string
	for _, k := range LogRequestIDKeys {
		if v, ok := kv.Get(k); ok && v != "" {
			requestID = v
			break
		}
	}
	c.RequestID = append(c.RequestID, requestID)
	c.LogType = append(c.LogType, logType(kv, resLogType))
}

// Row returns record i as a row, with its own copies of the arrays.
func (c *LogColumns) Row(i int) Log {
	r := Log{
		TimeUnixNano: c.TimeUnixNano[i], ObservedTimeUnixNano: c.ObservedTimeUnixNano[i],
		SeverityNumber: c.SeverityNumber[i], SeverityText: c.SeverityText[i], Body: c.Body[i],
		ServiceName: c.ServiceName[i], FunctionName: c.FunctionName[i], FunctionVersion: c.FunctionVersion[i],
		AccountID: c.AccountID[i], Region: c.Region[i], RequestID: c.RequestID[i], LogType: c.LogType[i],
		Attributes:         cloneKeyValues(c.AttributeKeys[i], c.AttributeValues[i]),
		ResourceAttributes: cloneKeyValues(c.ResourceAttrKeys[i], c.ResourceAttrValues[i]),
	}
	copy(r.TraceID[:], c.TraceIDs[16*i:])
	copy(r.SpanID[:], c.SpanIDs[8*i:])
	return r
}

// appendID appends an optional ID of n bytes; one of another length is
// appended as zeros.
func appendID(dst, id []byte, n int) []byte {
	if len(id) == n {
		return append(dst, id...)
	}
	for range n {
		dst = append(dst, 0)
	}
	return dst
}
