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
// Every column is copied out of the requests as they are read, in the
// Native format (see Strings and StringArrays), and holds no pointers.
type LogColumns struct {
	TimeUnixNano         []uint64 // event time, else observed time, else the batch's sent time
	ObservedTimeUnixNano []uint64
	// TraceIDs holds 16 bytes per record, SpanIDs 8, back to back; an ID
	// of the wrong length is stored as zeros.
	TraceIDs       []byte
	SpanIDs        []byte
	SeverityNumber []uint8
	SeverityText   Strings
	Body           Strings

	ServiceName     Strings
	FunctionName    Strings
	FunctionVersion Strings
	AccountID       Strings
	Region          Strings
	RequestID       Strings
	LogType         Strings

	// The record's own attributes, copied as they are read.
	AttributeKeys, AttributeValues StringArrays
	// A resource's attributes, held once for the run of records that
	// share them (all the records of a ResourceLogs, and of the same
	// resource in the requests after), repeated for each row when the
	// block is encoded (see StringArrayRuns).
	ResourceAttrKeys, ResourceAttrValues StringArrayRuns

	// Rejected counts records refused (a time after MaxDateTimeUnixNano);
	// Problems says why, for the first few.
	Rejected int
	Problems []string

	// strs and scratch hold the keys and the values of the record being
	// read until they are copied into the columns.
	strs, scratch []string
	// wire holds the values AppendWire renders (numbers, bytes).
	wire wireArena
}

// Len is the number of log records.
func (c *LogColumns) Len() int { return len(c.TimeUnixNano) }

// strings is the String columns.
func (c *LogColumns) strings() [9]*Strings {
	return [...]*Strings{
		&c.SeverityText, &c.Body, &c.ServiceName, &c.FunctionName, &c.FunctionVersion,
		&c.AccountID, &c.Region, &c.RequestID, &c.LogType,
	}
}

// arrays is the Array(String) columns but the resource's (runs).
func (c *LogColumns) arrays() [2]*StringArrays {
	return [...]*StringArrays{&c.AttributeKeys, &c.AttributeValues}
}

// runs is the Array(String) columns held in runs of rows.
func (c *LogColumns) runs() [2]*StringArrayRuns {
	return [...]*StringArrayRuns{&c.ResourceAttrKeys, &c.ResourceAttrValues}
}

// Reset empties the columns, keeping their capacity, and drops the
// references into the requests they were filled from.
func (c *LogColumns) Reset() {
	c.TimeUnixNano, c.ObservedTimeUnixNano = c.TimeUnixNano[:0], c.ObservedTimeUnixNano[:0]
	c.TraceIDs, c.SpanIDs, c.SeverityNumber = c.TraceIDs[:0], c.SpanIDs[:0], c.SeverityNumber[:0]
	for _, s := range c.strings() {
		s.Reset()
	}
	for _, a := range c.arrays() {
		a.Reset()
	}
	for _, r := range c.runs() {
		r.Reset()
	}
	clear(c.Problems)
	c.Problems = c.Problems[:0]
	c.Rejected = 0
	c.wire = wireArena{}
	// The scratch of one record's pairs, emptied after each record: what
	// is left past its length still points into the last request.
	clear(c.strs[:cap(c.strs)])
	clear(c.scratch[:cap(c.scratch)])
	c.strs, c.scratch = c.strs[:0], c.scratch[:0]
}

// Grow makes room for n more log records, so that filling the columns
// from several batches grows each buffer once.
func (c *LogColumns) Grow(n int) {
	c.TimeUnixNano, c.ObservedTimeUnixNano = slices.Grow(c.TimeUnixNano, n), slices.Grow(c.ObservedTimeUnixNano, n)
	c.TraceIDs, c.SpanIDs = slices.Grow(c.TraceIDs, 16*n), slices.Grow(c.SpanIDs, 8*n)
	c.SeverityNumber = slices.Grow(c.SeverityNumber, n)
	for _, s := range c.strings() {
		s.Grow(n, 0)
	}
	for _, a := range c.arrays() {
		a.Grow(n, 0)
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
				c.SeverityText.Append(lr.GetSeverityText())
				c.Body.Append(AttributeValue(lr.GetBody()))
				c.ServiceName.Append(id.service)
				c.FunctionName.Append(id.function)
				c.FunctionVersion.Append(id.version)
				c.AccountID.Append(id.account)
				c.Region.Append(id.region)
				c.ResourceAttrKeys.AppendRow(resKeys)
				c.ResourceAttrValues.AppendRow(resValues)
				c.appendAttributes(lr.GetAttributes(), resLogType)
			}
		}
	}
}

// appendAttributes renders a record's attributes into the scratch and
// copies them into the columns with those that come from them: the
// request ID (the first non-empty of LogRequestIDKeys) and the log type.
// Logs keep every attribute as sent.
func (c *LogColumns) appendAttributes(attrs []*commonpb.KeyValue, resLogType string) {
	c.strs, c.scratch = c.strs[:0], c.scratch[:0]
	for _, a := range attrs {
		c.strs = append(c.strs, a.GetKey())
		c.scratch = append(c.scratch, AttributeValue(a.GetValue()))
	}
	c.appendRecordAttributes(resLogType)
}

// appendRecordAttributes copies the record's attributes, keys in strs and
// values in scratch, into the columns with the request ID and the log
// type, and empties the scratch.
func (c *LogColumns) appendRecordAttributes(resLogType string) {
	kv := KeyValues{Keys: c.strs, Values: c.scratch}
	var requestID string
	for _, k := range LogRequestIDKeys {
		if v, ok := kv.Get(k); ok && v != "" {
			requestID = v
			break
		}
	}
	c.AttributeKeys.AppendRow(kv.Keys)
	c.AttributeValues.AppendRow(kv.Values)
	c.RequestID.Append(requestID)
	c.LogType.Append(logType(kv, resLogType))
	// What is left past the scratch's length is cleared by Reset.
	c.strs, c.scratch = c.strs[:0], c.scratch[:0]
}

// Row returns record i as a row, with its own copies of the arrays.
func (c *LogColumns) Row(i int) Log {
	r := Log{
		TimeUnixNano: c.TimeUnixNano[i], ObservedTimeUnixNano: c.ObservedTimeUnixNano[i],
		SeverityNumber: c.SeverityNumber[i], SeverityText: c.SeverityText.Row(i), Body: c.Body.Row(i),
		ServiceName: c.ServiceName.Row(i), FunctionName: c.FunctionName.Row(i), FunctionVersion: c.FunctionVersion.Row(i),
		AccountID: c.AccountID.Row(i), Region: c.Region.Row(i), RequestID: c.RequestID.Row(i), LogType: c.LogType.Row(i),
		Attributes:         KeyValues{Keys: c.AttributeKeys.Row(i), Values: c.AttributeValues.Row(i)},
		ResourceAttributes: KeyValues{Keys: c.ResourceAttrKeys.Row(i), Values: c.ResourceAttrValues.Row(i)},
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
