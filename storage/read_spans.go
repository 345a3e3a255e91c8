package storage

import (
	"context"
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
	window, ok, err := s.traceIndexWindow(ctx, traceID)
	if err != nil {
		return nil, err
	}
	if ok {
		query, args := selectSpansInWindowSQL(s.database, traceID, window)
		return s.readSpans(ctx, query, args...)
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

// traceIndexWindow is the seconds a trace's spans start in, [first, last
// + 1), as the trace index (migration 3) holds them; ok is false when it
// does not know the trace, or the database has no trace index.
func (s *Store) traceIndexWindow(ctx context.Context, traceID [16]byte) (w interval, ok bool, err error) {
	rows, err := s.conn.Query(ctx, selectTraceIndexWindowSQL(s.database), hexID(traceID[:]))
	if ex, isEx := errors.AsType[*clickhouse.Exception](err); isEx && ex.Code == errCodeUnknownTable {
		return interval{}, false, nil
	}
	if err != nil {
		return interval{}, false, fmt.Errorf("query trace index: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var startNs, endNs uint64
		if err := rows.Scan(&startNs, &endNs); err != nil {
			return interval{}, false, fmt.Errorf("scan trace index: %w", err)
		}
		w = interval{unixTime(startNs).Truncate(time.Second), unixTime(endNs).Truncate(time.Second).Add(time.Second)}
		ok = true
	}
	if err := rows.Err(); err != nil {
		return interval{}, false, fmt.Errorf("read trace index: %w", err)
	}
	return w, ok, nil
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
