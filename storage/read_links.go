package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// SpanHead is what the link reads say of a span: enough to name it, not its
// attributes.
type SpanHead struct {
	TraceID    [16]byte
	SpanID     [8]byte
	Start      time.Time
	Duration   time.Duration
	Name       string
	Kind       int32
	StatusCode int32

	ServiceName, FunctionName string
	// RequestID is the invocation the span ran in: its request_id, or the
	// lambdascope.invocation_id of a span inferred from an event.
	RequestID string
}

// LinkingSpan is a span whose link points to a span of another trace.
type LinkingSpan struct {
	// Span is the span holding the link (Duration is not known here).
	Span SpanHead
	// LinkedTraceID and LinkedSpanID are where the link points.
	LinkedTraceID [16]byte
	LinkedSpanID  [8]byte
	// Attributes are the link's own (messaging.message.id for a batch
	// record).
	Attributes map[string]string
}

// SpansLinkingTo returns the spans of other traces with a link to a span of
// traceID, oldest first, each link once: the consumers of what the trace
// produced. It reads span_links (migration 13), ordered by the linked
// trace. limit 0 means DefaultLinkLimit; it is capped at MaxLinkLimit.
func (s *Store) SpansLinkingTo(ctx context.Context, traceID [16]byte, limit int) ([]LinkingSpan, error) {
	query, args := selectSpansLinkingToSQL(s.database, traceID, limitBetween(limit, DefaultLinkLimit, MaxLinkLimit))
	var out []LinkingSpan
	err := s.scanAll(ctx, "spans linking to a trace", query, args, func(rows driver.Rows) error {
		var (
			l                                 LinkingSpan
			linkedTrace, linkedSpan, tid, sid string
			startNs                           uint64
			kind, status                      uint8
			attrs                             string
		)
		if err := rows.Scan(&linkedTrace, &linkedSpan, &startNs, &tid, &sid, &l.Span.Name, &kind, &status,
			&l.Span.ServiceName, &l.Span.FunctionName, &l.Span.RequestID, &attrs); err != nil {
			return err
		}
		copy(l.LinkedTraceID[:], linkedTrace)
		copy(l.LinkedSpanID[:], linkedSpan)
		copy(l.Span.TraceID[:], tid)
		copy(l.Span.SpanID[:], sid)
		l.Span.Start = unixTime(startNs)
		l.Span.Kind, l.Span.StatusCode = int32(kind), int32(status)
		l.Attributes = dbmodel.ParseAttributesJSON(attrs)
		out = append(out, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SpansByRef looks up the named spans, each once, ordered by start: the
// far ends of a trace's links (where a batch's records came from). Spans
// not stored are left out, and so are those of traces neither trace_hours
// nor trace_windows knows (written before migration 3). At most MaxSpanRefs
// refs are taken.
func (s *Store) SpansByRef(ctx context.Context, refs []SpanRef) ([]SpanHead, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	if len(refs) > MaxSpanRefs {
		return nil, fmt.Errorf("look up spans: %d spans asked, at most %d", len(refs), MaxSpanRefs)
	}
	query, args := selectSpansByRefSQL(s.database, s.subqueryIn(), refs)
	want := make(map[SpanRef]bool, len(refs))
	for _, r := range refs {
		want[r] = true
	}
	var out []SpanHead
	err := s.scanAll(ctx, "spans by ID", query, args, func(rows driver.Rows) error {
		var (
			h              SpanHead
			tid, sid       string
			startNs, durNs uint64
			kind, status   uint8
		)
		if err := rows.Scan(&tid, &sid, &startNs, &durNs, &h.Name, &kind, &status,
			&h.ServiceName, &h.FunctionName, &h.RequestID); err != nil {
			return err
		}
		copy(h.TraceID[:], tid)
		copy(h.SpanID[:], sid)
		ref := SpanRef{TraceID: h.TraceID, SpanID: h.SpanID}
		// The query matches trace and span IDs separately; keep the pairs
		// asked for.
		if !want[ref] {
			return nil
		}
		delete(want, ref)
		h.Start = unixTime(startNs)
		h.Duration = time.Duration(min(durNs, uint64(1<<63-1)))
		h.Kind, h.StatusCode = int32(kind), int32(status)
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
