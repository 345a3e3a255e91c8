package storage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// SpanRecord is one stored span.
type SpanRecord struct {
	TraceID      [16]byte
	SpanID       [8]byte
	ParentSpanID [8]byte // zeros for a root span
	TraceState   string

	Start         time.Time
	Duration      time.Duration
	Name          string
	Kind          int32 // OTLP SpanKind
	StatusCode    int32 // OTLP status code: 0 unset, 1 ok, 2 error
	StatusMessage string

	ServiceName, FunctionName, FunctionVersion, AccountID, Region, RequestID string

	Attributes, ResourceAttributes map[string]string
	Events                         []SpanEvent
	Links                          []SpanLink
}

// SpanEvent is a timed event inside a span.
type SpanEvent struct {
	Time       time.Time
	Name       string
	Attributes map[string]string
}

// SpanLink points from a span to a span of another (or the same) trace.
type SpanLink struct {
	TraceID    [16]byte
	SpanID     [8]byte
	Attributes map[string]string
}

// InvocationRecord is one stored invocation report.
type InvocationRecord struct {
	AccountID, Region, FunctionName, FunctionVersion, ServiceName   string
	Architecture, Runtime, InitializationType, LogStream, RequestID string

	Start                         time.Time
	MemorySizeMB, MaxMemoryUsedMB uint32
	EphemeralStorageMB            uint32

	DurationMs           float64
	BilledDurationMs     uint64
	BilledInitDurationMs float64
	InitDurationMs       float64
	RestoreDurationMs    float64
	ColdStart            bool
	Status, ErrorType    string

	TraceID [16]byte
	SpanID  [8]byte

	XRayTraceHeader    string
	ResponseLatencyMs  float64
	ResponseDurationMs float64
	RuntimeOverheadMs  float64
	ProducedBytes      uint64

	// UnknownFigures are the figures the platform did not report, an OR of
	// dbmodel's Figure* bits; an unknown BilledDurationMs holds an
	// estimate (the duration rounded up to 1 ms).
	UnknownFigures uint8
	// Incomplete says no platform.report came for the invocation.
	Incomplete bool
	// TenantID is the tenant of a function in tenant isolation mode.
	TenantID string
	// Trigger is what invoked the function ("apigateway-rest", "sqs",
	// "direct"); empty when the extension saw no event.
	Trigger string
	// HTTPStatusCode is what a proxy integration answered, 0 for none.
	HTTPStatusCode uint16
	// ResponseSize is the size of the runtime's answer in bytes.
	ResponseSize uint64
}

// Invocation search limits.
const (
	DefaultInvocationLimit = 100
	MaxInvocationLimit     = 100_000
)

// InvocationFilter selects invocations. Zero fields match everything.
type InvocationFilter struct {
	FunctionName string
	Since, Until time.Time // Since inclusive, Until exclusive
	RequestIDs   []string
	TraceID      [16]byte // zero = any
	TenantID     string   // empty = any
	Limit        int      // 0 = 100; capped at MaxInvocationLimit
	// FunctionNames, when not empty, keeps the invocations of these
	// functions; the function leads the table's key, so naming the few
	// functions of a trace reads only their rows of the time range.
	FunctionNames []string
	// TraceIDs, when not empty, keeps the invocations of these traces.
	TraceIDs [][16]byte
}

func (f InvocationFilter) limit() int {
	switch {
	case f.Limit <= 0:
		return DefaultInvocationLimit
	case f.Limit > MaxInvocationLimit:
		return MaxInvocationLimit
	default:
		return f.Limit
	}
}

// SpansByTraceID returns every span of one trace, ordered by start time. A
// span stored twice (a retried batch) is returned once.
//
// One query reads the trace's time window from the trace_windows table and
// the spans of only the partitions and hours inside it. A trace that table
// does not know is looked up through the trace index, and one neither knows
// (stored before the index existed) in every partition.
func (s *Store) SpansByTraceID(ctx context.Context, traceID [16]byte) ([]SpanRecord, error) {
	id := hexID(traceID[:])
	out, err := s.readSpans(ctx, selectSpansInTraceWindowSQL(s.database), id, id, id)
	if ex, isEx := errors.AsType[*clickhouse.Exception](err); isEx && ex.Code == errCodeUnknownTable {
		out, err = nil, nil // a database older than migration 7
	}
	if err != nil || len(out) > 0 {
		return out, err
	}
	from, to, ok, err := s.traceWindow(ctx, traceID)
	if err != nil {
		return nil, err
	}
	if ok {
		return s.readSpans(ctx, selectSpansInWindowSQL(s.database), id, from.Unix(), to.Unix())
	}
	return s.readSpans(ctx, selectSpansByTraceIDSQL(s.database), id)
}

// readSpans runs a spans query and drops repeated span IDs.
func (s *Store) readSpans(ctx context.Context, query string, args ...any) ([]SpanRecord, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query spans by trace id: %w", err)
	}
	defer rows.Close()
	var (
		out  []SpanRecord
		seen = map[[8]byte]bool{}
	)
	for rows.Next() {
		rec, err := scanSpan(rows)
		if err != nil {
			return nil, err
		}
		if seen[rec.SpanID] {
			continue
		}
		seen[rec.SpanID] = true
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read spans by trace id: %w", err)
	}
	return out, nil
}

// traceWindow is the first and last second a trace's spans start in,
// according to the first of traceWindowTables that knows the trace; ok is
// false when none does.
func (s *Store) traceWindow(ctx context.Context, traceID [16]byte) (from, to time.Time, ok bool, err error) {
	for _, table := range traceWindowTables {
		from, to, ok, err = s.traceWindowIn(ctx, table, traceID)
		if err != nil || ok {
			return from, to, ok, err
		}
	}
	return time.Time{}, time.Time{}, false, nil
}

func (s *Store) traceWindowIn(ctx context.Context, table string, traceID [16]byte) (from, to time.Time, ok bool, err error) {
	rows, err := s.conn.Query(ctx, selectTraceWindowSQL(s.database, table), hexID(traceID[:]))
	if ex, isEx := errors.AsType[*clickhouse.Exception](err); isEx && ex.Code == errCodeUnknownTable {
		// A database not yet migrated to this table's version.
		return time.Time{}, time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, time.Time{}, false, fmt.Errorf("query %s: %w", table, err)
	}
	defer rows.Close()
	if rows.Next() {
		var startNs, endNs uint64
		if err := rows.Scan(&startNs, &endNs); err != nil {
			return time.Time{}, time.Time{}, false, fmt.Errorf("scan %s: %w", table, err)
		}
		from, to, ok = unixTime(startNs).Truncate(time.Second), unixTime(endNs), true
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, time.Time{}, false, fmt.Errorf("read %s: %w", table, err)
	}
	return from, to, ok, nil
}

// errCodeUnknownTable is ClickHouse's UNKNOWN_TABLE error code.
const errCodeUnknownTable = 60

func scanSpan(rows driver.Rows) (SpanRecord, error) {
	var (
		rec                                  SpanRecord
		traceID, spanID, parentID            string
		startNs, durNs                       uint64
		kind, status                         uint8
		attrKeys, attrVals, resKeys, resVals []string
		evTimes                              []uint64
		evNames, evAttrs                     []string
		linkTraceIDs, linkSpanIDs, linkAttrs []string
	)
	err := rows.Scan(&traceID, &spanID, &parentID, &rec.TraceState, &startNs, &durNs,
		&rec.Name, &kind, &status, &rec.StatusMessage,
		&rec.ServiceName, &rec.FunctionName, &rec.FunctionVersion, &rec.AccountID, &rec.Region, &rec.RequestID,
		&attrKeys, &attrVals, &resKeys, &resVals,
		&evTimes, &evNames, &evAttrs,
		&linkTraceIDs, &linkSpanIDs, &linkAttrs)
	if err != nil {
		return SpanRecord{}, fmt.Errorf("scan span: %w", err)
	}
	copy(rec.TraceID[:], traceID)
	copy(rec.SpanID[:], spanID)
	copy(rec.ParentSpanID[:], parentID)
	rec.Start = unixTime(startNs)
	rec.Duration = time.Duration(min(durNs, uint64(1<<63-1)))
	rec.Kind, rec.StatusCode = int32(kind), int32(status)
	rec.Attributes = dbmodel.KeyValues{Keys: attrKeys, Values: attrVals}.Map()
	dbmodel.RestoreRequestID(rec.Attributes, rec.RequestID)
	rec.ResourceAttributes = dbmodel.KeyValues{Keys: resKeys, Values: resVals}.Map()
	for i := range evTimes {
		ev := SpanEvent{Time: unixTime(evTimes[i]), Attributes: map[string]string{}}
		if i < len(evNames) {
			ev.Name = evNames[i]
		}
		if i < len(evAttrs) {
			ev.Attributes = dbmodel.ParseAttributesJSON(evAttrs[i])
		}
		rec.Events = append(rec.Events, ev)
	}
	for i := range linkTraceIDs {
		var l SpanLink
		copy(l.TraceID[:], linkTraceIDs[i])
		if i < len(linkSpanIDs) {
			copy(l.SpanID[:], linkSpanIDs[i])
		}
		l.Attributes = map[string]string{}
		if i < len(linkAttrs) {
			l.Attributes = dbmodel.ParseAttributesJSON(linkAttrs[i])
		}
		rec.Links = append(rec.Links, l)
	}
	return rec, nil
}

// Invocations returns the invocations matching f, newest first.
func (s *Store) Invocations(ctx context.Context, f InvocationFilter) ([]InvocationRecord, error) {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil, errors.New("search invocations: until must be after since")
	}
	query, args := selectInvocationsSQL(s.database, f)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query invocations: %w", err)
	}
	defer rows.Close()
	var out []InvocationRecord
	for rows.Next() {
		var (
			rec             InvocationRecord
			startNs         uint64
			coldStart       uint8
			incomplete      uint8
			traceID, spanID string
		)
		err := rows.Scan(&startNs, &rec.AccountID, &rec.Region, &rec.FunctionName, &rec.FunctionVersion, &rec.ServiceName,
			&rec.Architecture, &rec.Runtime, &rec.InitializationType, &rec.LogStream, &rec.RequestID,
			&rec.MemorySizeMB, &rec.MaxMemoryUsedMB, &rec.EphemeralStorageMB, &rec.DurationMs, &rec.BilledDurationMs,
			&rec.BilledInitDurationMs, &rec.InitDurationMs, &rec.RestoreDurationMs, &coldStart, &rec.Status, &rec.ErrorType,
			&traceID, &spanID, &rec.XRayTraceHeader, &rec.ResponseLatencyMs, &rec.ResponseDurationMs,
			&rec.RuntimeOverheadMs, &rec.ProducedBytes, &rec.UnknownFigures, &incomplete, &rec.TenantID,
			&rec.Trigger, &rec.HTTPStatusCode, &rec.ResponseSize)
		if err != nil {
			return nil, fmt.Errorf("scan invocation: %w", err)
		}
		rec.Start = unixTime(startNs)
		rec.ColdStart = coldStart != 0
		rec.Incomplete = incomplete != 0
		copy(rec.TraceID[:], traceID)
		copy(rec.SpanID[:], spanID)
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read invocations: %w", err)
	}
	return out, nil
}

func hexID(id []byte) string { return hex.EncodeToString(id) }

// inList binds a list of strings as the right-hand side of IN: ('a', 'b').
func inList(vals []string) clickhouse.GroupSet {
	set := clickhouse.GroupSet{Value: make([]any, len(vals))}
	for i, v := range vals {
		set.Value[i] = v
	}
	return set
}
