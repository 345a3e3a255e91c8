package storage

import (
	"context"
	"slices"
	"time"

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
// One query reads the hours the trace's spans start in from trace_hours
// and the spans of only the parts and granules of those hours. A trace
// that table does not know (stored before migration 17) is looked up
// through its window in trace_windows, then through the trace index, and
// one none of them knows (stored before the index existed) in every
// partition.
func (s *Store) SpansByTraceID(ctx context.Context, traceID [16]byte) ([]SpanRecord, error) {
	id := hexID(traceID[:])
	out, err := s.readSpans(ctx, selectSpansInTraceHoursSQL(s.database, s.subqueryIn()), id, id)
	if IsUnknownTable(err) {
		out, err = nil, nil // a database older than migration 17
	}
	if err != nil || len(out) > 0 {
		return out, err
	}
	out, err = s.readSpans(ctx, selectSpansInTraceWindowSQL(s.database), id, id, id)
	if IsUnknownTable(err) {
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

// subqueryIn is the IN of a subquery over another table in a read of
// spans: GLOBAL IN on a cluster, where the subquery's table is Distributed
// and each shard cannot run it itself.
func (s *Store) subqueryIn() string {
	if s.cluster != "" {
		return "GLOBAL IN"
	}
	return "IN"
}

// readSpans runs a spans query and drops repeated span IDs: column by
// column on the native block connections where the store has them
// (readSpansBlocks), else row by row through clickhouse-go.
func (s *Store) readSpans(ctx context.Context, query string, args ...any) ([]SpanRecord, error) {
	if s.blocks != nil {
		return s.readSpansBlocks(ctx, query, args...)
	}
	return s.readSpansRows(ctx, query, args...)
}

// readSpansRows is readSpans through clickhouse-go's rows.
func (s *Store) readSpansRows(ctx context.Context, query string, args ...any) ([]SpanRecord, error) {
	var (
		out       []SpanRecord
		seen      = map[[8]byte]bool{}
		resources resourceMaps
	)
	err := s.scanAll(ctx, "spans by trace id", query, args, func(rows driver.Rows) error {
		r, err := scanSpan(rows)
		if err != nil || seen[r.SpanID] {
			return err
		}
		seen[r.SpanID] = true
		out = append(out, spanRecord(&r, resources.share(r.ResourceAttributes)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// traceIndexWindow is the seconds a trace's spans start in, [first, last
// + 1), as the trace index (migration 3) holds them; ok is false when it
// does not know the trace, or the database has no trace index.
func (s *Store) traceIndexWindow(ctx context.Context, traceID [16]byte) (w interval, ok bool, err error) {
	err = s.scanAll(ctx, "trace index", selectTraceIndexWindowSQL(s.database), []any{hexID(traceID[:])}, func(rows driver.Rows) error {
		var startNs, endNs uint64
		if err := rows.Scan(&startNs, &endNs); err != nil {
			return err
		}
		w = interval{unixTime(startNs).Truncate(time.Second), unixTime(endNs).Truncate(time.Second).Add(time.Second)}
		ok = true
		return nil
	})
	if IsUnknownTable(err) {
		return interval{}, false, nil
	}
	return w, ok, err
}

// scanSpan reads a row of spanSelectColumns into the spans table's row
// type, the one the writer inserts.
func scanSpan(rows driver.Rows) (dbmodel.Span, error) {
	var (
		r                         dbmodel.Span
		traceID, spanID, parentID string
		linkTraceIDs, linkSpanIDs []string
	)
	err := rows.Scan(&traceID, &spanID, &parentID, &r.TraceState, &r.StartUnixNano, &r.DurationNs,
		&r.Name, &r.Kind, &r.StatusCode, &r.StatusMessage,
		&r.ServiceName, &r.FunctionName, &r.FunctionVersion, &r.AccountID, &r.Region, &r.RequestID,
		&r.Attributes.Keys, &r.Attributes.Values, &r.ResourceAttributes.Keys, &r.ResourceAttributes.Values,
		&r.EventTimes, &r.EventNames, &r.EventAttributes,
		&linkTraceIDs, &linkSpanIDs, &r.LinkAttributes)
	if err != nil {
		return dbmodel.Span{}, err
	}
	copy(r.TraceID[:], traceID)
	copy(r.SpanID[:], spanID)
	copy(r.ParentSpanID[:], parentID)
	for i, id := range linkTraceIDs {
		var t [16]byte
		var sp [8]byte
		copy(t[:], id)
		if i < len(linkSpanIDs) {
			copy(sp[:], linkSpanIDs[i])
		}
		r.LinkTraceIDs, r.LinkSpanIDs = append(r.LinkTraceIDs, t), append(r.LinkSpanIDs, sp)
	}
	return r, nil
}

// resourceMaps hands the spans of one resource the same attribute map, so
// that a trace of many spans holds each resource once: the last few
// resources read are kept, and a span whose resource attributes equal one
// of them gets its map. Readers must not change the maps.
type resourceMaps struct {
	recent [4]struct {
		kv dbmodel.KeyValues
		m  map[string]string
	}
	next int
}

func (c *resourceMaps) share(kv dbmodel.KeyValues) map[string]string {
	for _, r := range c.recent {
		if r.m != nil && slices.Equal(r.kv.Keys, kv.Keys) && slices.Equal(r.kv.Values, kv.Values) {
			return r.m
		}
	}
	m := kv.Map()
	c.recent[c.next].kv, c.recent[c.next].m = kv, m
	c.next = (c.next + 1) % len(c.recent)
	return m
}

// spanRecord is the span a row of the spans table holds, with resource
// as its resource attributes.
func spanRecord(r *dbmodel.Span, resource map[string]string) SpanRecord {
	rec := SpanRecord{
		TraceID: r.TraceID, SpanID: r.SpanID, ParentSpanID: r.ParentSpanID, TraceState: r.TraceState,
		Start: unixTime(r.StartUnixNano), Duration: time.Duration(min(r.DurationNs, uint64(1<<63-1))),
		Name: r.Name, Kind: int32(r.Kind), StatusCode: int32(r.StatusCode), StatusMessage: r.StatusMessage,
		ServiceName: r.ServiceName, FunctionName: r.FunctionName, FunctionVersion: r.FunctionVersion,
		AccountID: r.AccountID, Region: r.Region, RequestID: r.RequestID,
		Attributes: r.Attributes.Map(), ResourceAttributes: resource,
	}
	dbmodel.RestoreRequestID(rec.Attributes, rec.RequestID)
	for i, t := range r.EventTimes {
		ev := SpanEvent{Time: unixTime(t), Attributes: map[string]string{}}
		if i < len(r.EventNames) {
			ev.Name = r.EventNames[i]
		}
		if i < len(r.EventAttributes) {
			ev.Attributes = dbmodel.ParseAttributesJSON(r.EventAttributes[i])
		}
		rec.Events = append(rec.Events, ev)
	}
	for i := range r.LinkTraceIDs {
		l := SpanLink{TraceID: r.LinkTraceIDs[i], SpanID: r.LinkSpanIDs[i], Attributes: map[string]string{}}
		if i < len(r.LinkAttributes) {
			l.Attributes = dbmodel.ParseAttributesJSON(r.LinkAttributes[i])
		}
		rec.Links = append(rec.Links, l)
	}
	return rec
}
