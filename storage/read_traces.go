package storage

import (
	"context"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TraceSummaryRecord sums up one found trace.
type TraceSummaryRecord struct {
	TraceID     [16]byte
	Start, End  time.Time
	Spans       uint64
	ErrorSpans  uint64
	RootName    string
	RootSource  string
	HasRoot     bool
	SourceNames []string
}

// SearchTraces returns summaries of the traces matching f, newest first.
// It finds them first (findTraces), then reads the hours trace_hours
// holds for them, and sums them up reading only those hours of each
// (traceSummarySQL); where trace_hours may not know every trace of the
// range (a range before its horizon, see traceHoursOf), the summary looks
// for them in every hour of the range.
func (s *Store) SearchTraces(ctx context.Context, f TraceSearchFilter) ([]TraceSummaryRecord, error) {
	if err := requireRange("search traces", f.Since, f.Until); err != nil {
		return nil, err
	}
	f.Limit = limitBetween(f.Limit, DefaultTraceSearchLimit, MaxTraceSearchLimit)
	f.Offset = max(f.Offset, 0)
	horizon, complete, err := s.viewHorizon(ctx, "trace_hours")
	if err != nil {
		return nil, err
	}
	// trace_hours knows every trace of the range and its margins.
	complete = complete && uint64(f.Since.Add(-TraceSearchMargin).UnixNano()) > horizon
	ids, err := s.findTraces(ctx, f, complete)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var hours []traceHour
	if complete {
		if hours, err = s.traceHoursOf(ctx, ids, f.Since.Add(-TraceSearchMargin), f.Until.Add(TraceSearchMargin)); err != nil {
			return nil, err
		}
	}
	query, args := traceSummarySQL(s.database, f, ids, hours)
	out := make([]TraceSummaryRecord, 0, len(ids))
	err = s.scanAll(ctx, "trace summary", query, args, func(rows driver.Rows) error {
		var (
			r                    TraceSummaryRecord
			id                   string
			first, last          uint64
			firstName, firstSrc  string
			rootName, rootSource string
		)
		if err := rows.Scan(&id, &first, &last, &r.Spans, &r.ErrorSpans, &rootName, &rootSource,
			&firstName, &firstSrc, &r.SourceNames); err != nil {
			return err
		}
		copy(r.TraceID[:], id)
		r.Start, r.End = unixTime(first), unixTime(last)
		r.RootName, r.RootSource, r.HasRoot = rootName, rootSource, rootName != "" || rootSource != ""
		if !r.HasRoot {
			r.RootName, r.RootSource = firstName, firstSrc
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// traceHoursOf reads the hours in [since, until) trace_hours holds for the
// traces of ids, as pairs of a trace and an hour, for a range after its
// horizon (migration 31; on a server without the horizon, or a database
// older than migration 17, trace_hours may not know every trace). It
// returns nil when it knows no hour of one of them, or more than
// maxSummaryHours.
func (s *Store) traceHoursOf(ctx context.Context, ids [][16]byte, since, until time.Time) ([]traceHour, error) {
	hours, err := s.traceHourRows(ctx, ids, since, until)
	if err != nil || hours == nil {
		return nil, err
	}
	// A trace without an hour would be left out of the summary: look for
	// every trace in every hour instead.
	known := make(map[[16]byte]bool, len(ids))
	for _, h := range hours {
		known[h.traceID] = true
	}
	if slices.ContainsFunc(ids, func(id [16]byte) bool { return !known[id] }) || len(hours) > maxSummaryHours {
		return nil, nil
	}
	return hours, nil
}

// maxSummaryHours bounds the pairs of an hour and a trace a summary reads
// (a query's text is at most 256 KiB: each pair is about 60 bytes); more
// are looked for in every hour of the range.
const maxSummaryHours = 2 * MaxTraceSearchLimit

// traceHourRows reads the hours in [since, until) trace_hours holds for the
// traces of ids; nil on a database older than migration 17.
func (s *Store) traceHourRows(ctx context.Context, ids [][16]byte, since, until time.Time) ([]traceHour, error) {
	byKey := make(map[[8]byte][][16]byte, len(ids))
	for _, id := range ids {
		k := [8]byte(id[8:])
		byKey[k] = append(byKey[k], id)
	}
	query, args := selectTraceHoursSQL(s.database, ids, since, until)
	hours := make([]traceHour, 0, len(ids))
	err := s.scanAll(ctx, "trace hours", query, args, func(rows driver.Rows) error {
		var (
			key  string
			hour time.Time
		)
		if err := rows.Scan(&key, &hour); err != nil {
			return err
		}
		for _, id := range byKey[[8]byte([]byte(key))] {
			hours = append(hours, traceHour{traceID: id, hour: hour})
		}
		return nil
	})
	if IsUnknownTable(err) {
		return nil, nil
	}
	return hours, err
}

// DurableExecutionRecord is what the spans of one durable execution's
// invocations say of it. The extension gives every invocation of an
// execution the trace derived from the execution's ARN and an inferred
// span carrying aws.lambda.durable.*.
type DurableExecutionRecord struct {
	TraceID           [16]byte
	ExecutionARN      string
	AccountID, Region string
	FunctionName      string
	// Invocations counts the inferred spans (one per invocation), Replays
	// those that resumed the execution.
	Invocations, Replays uint64
	// Operations is the most checkpointed operations handed to one
	// invocation.
	Operations uint64
	Start, End time.Time
}

// DurableExecutions lists the durable executions of the range, latest
// first, from their invocations' inferred spans.
func (s *Store) DurableExecutions(ctx context.Context, f DurableFilter) ([]DurableExecutionRecord, error) {
	if err := requireRange("read durable executions", f.Since, f.Until); err != nil {
		return nil, err
	}
	f.Limit = limitBetween(f.Limit, DefaultDurableLimit, MaxDurableLimit)
	query, args := durableExecutionsSQL(s.database, f)
	var out []DurableExecutionRecord
	err := s.scanAll(ctx, "durable executions", query, args, func(rows driver.Rows) error {
		var r DurableExecutionRecord
		var trace string
		var startNs, endNs uint64
		if err := rows.Scan(&trace, &r.ExecutionARN, &r.AccountID, &r.Region, &r.FunctionName, &r.Invocations, &r.Replays,
			&r.Operations, &startNs, &endNs); err != nil {
			return err
		}
		copy(r.TraceID[:], trace)
		r.Start, r.End = time.Unix(0, int64(startNs)).UTC(), time.Unix(0, int64(endNs)).UTC()
		out = append(out, r)
		return nil
	})
	return out, err
}

// searchWindowTries bounds the windows findTraces searches before the
// whole range.
const searchWindowTries = 3

// findTraces returns the IDs of the traces f selects: those with a span
// matching f, by the start of their first matching span, newest first,
// f.Limit of them from f.Offset on.
//
// Where trace_hours knows every trace of the range (complete), the newest
// hour of the range is searched first, then wider windows, and the whole
// range only when they do not settle the answer: the traces found in a
// window [a, until) are the newest ones if Offset + Limit of them have no
// matching span before a (read in their own hours only, through
// trace_hours): every other trace's first match is before a, and theirs
// are not. A window that found too few traces is widened by the rate it
// found them at, one that found enough but not settled fourfold.
//
// A search for cold starts looks for the invocations over the whole range
// (an invocation starts before its spans): it searches the whole range, as
// does a page beyond MaxTraceSearchLimit traces, whose IDs would make the
// queries' text too long.
func (s *Store) findTraces(ctx context.Context, f TraceSearchFilter, complete bool) ([][16]byte, error) {
	need := f.Offset + f.Limit
	if complete && !f.ColdStartOnly && need <= MaxTraceSearchLimit {
		w := time.Hour
		for range searchWindowTries {
			a := f.Until.Add(-w).Truncate(time.Second)
			if !a.After(f.Since) {
				break
			}
			win := f
			win.Since, win.Offset, win.Limit = a, 0, need
			ids, err := s.traceIDs(ctx, win, nil)
			if err != nil {
				return nil, err
			}
			if len(ids) < need {
				w = max(2*w, time.Duration(float64(w)*2*float64(need)/float64(len(ids)+1)))
				continue
			}
			settled, err := s.noneMatchBefore(ctx, f, ids, a)
			if err != nil {
				return nil, err
			}
			if settled {
				return ids[f.Offset:], nil
			}
			w *= 4
		}
	}
	return s.traceIDs(ctx, f, nil)
}

// noneMatchBefore reports whether no trace of ids has a span matching f
// in [f.Since, a), reading only the hours trace_hours holds for them
// there.
func (s *Store) noneMatchBefore(ctx context.Context, f TraceSearchFilter, ids [][16]byte, a time.Time) (bool, error) {
	hours, err := s.traceHourRows(ctx, ids, f.Since, a)
	if err != nil || len(hours) == 0 {
		return err == nil, err
	}
	if len(hours) > maxSummaryHours {
		return false, nil // too many to name: search wider
	}
	before := f
	before.Until, before.Offset, before.Limit = a, 0, 1
	earlier, err := s.traceIDs(ctx, before, hours)
	return len(earlier) == 0, err
}

// traceIDs runs traceSearchSQL: the IDs of the traces f selects, newest
// first, in the pairs of hours alone when hours is not nil.
func (s *Store) traceIDs(ctx context.Context, f TraceSearchFilter, hours []traceHour) ([][16]byte, error) {
	query, args := traceSearchSQL(s.database, f, hours)
	var ids [][16]byte
	err := s.scanAll(ctx, "trace search", query, args, func(rows driver.Rows) error {
		var (
			id  string
			hit uint64
		)
		if err := rows.Scan(&id, &hit); err != nil {
			return err
		}
		var tid [16]byte
		copy(tid[:], id)
		ids = append(ids, tid)
		return nil
	})
	return ids, err
}

// TraceLayout is where a trace's spans lie, from a first read of their
// narrow columns alone: the parts of spans and the hours holding them, and
// each span's key, once per span ID in the order SpansByTraceID returns
// the spans.
type TraceLayout struct {
	Parts []string
	Hours []time.Time
	Spans []TraceSpanKey
}

// TraceSpanKey is what the first read of a trace knows of a span: what a
// trace view needs to find the span's invocation.
type TraceSpanKey struct {
	SpanID                  [8]byte
	Start                   time.Time
	Duration                time.Duration
	RequestID, FunctionName string
}

// End is when the span ended.
func (k TraceSpanKey) End() time.Time { return k.Start.Add(k.Duration) }

// traceLayoutMaxRows is the most span rows a trace's layout is read for.
// A larger trace is read in one step (SpansByTraceID, on the block path
// when there is one): its many narrow rows would cost the client more
// than the files the second step saves.
const traceLayoutMaxRows = 10_000

// TraceSpanLayout reads where the spans of a trace lie, in the hours
// trace_hours holds for it, reading its narrow columns only. The layout
// is empty when trace_hours does not know the trace (SpansByTraceID then
// looks further), when the trace has more than traceLayoutMaxRows span
// rows, and on a cluster, whose Distributed tables name no part.
// SpansInLayout reads the spans' wide columns in the layout's parts alone.
func (s *Store) TraceSpanLayout(ctx context.Context, traceID [16]byte) (TraceLayout, error) {
	var l TraceLayout
	if s.cluster != "" {
		return l, nil
	}
	id := hexID(traceID[:])
	seen := map[[8]byte]bool{}
	parts, hours := map[string]bool{}, map[time.Time]bool{}
	n := 0
	err := s.scanAll(ctx, "trace layout", selectTraceSpanKeysSQL(s.database, s.subqueryIn()), []any{id, id}, func(rows driver.Rows) error {
		if n++; n > traceLayoutMaxRows {
			return nil
		}
		var (
			part, spanID   string
			hour           time.Time
			startNs, durNs uint64
			k              TraceSpanKey
		)
		if err := rows.Scan(&part, &hour, &spanID, &startNs, &durNs, &k.RequestID, &k.FunctionName); err != nil {
			return err
		}
		if !parts[part] {
			parts[part] = true
			l.Parts = append(l.Parts, part)
		}
		if hour = hour.UTC(); !hours[hour] {
			hours[hour] = true
			l.Hours = append(l.Hours, hour)
		}
		copy(k.SpanID[:], spanID)
		if seen[k.SpanID] {
			return nil
		}
		seen[k.SpanID] = true
		k.Start, k.Duration = unixTime(startNs), time.Duration(min(durNs, uint64(1<<63-1)))
		l.Spans = append(l.Spans, k)
		return nil
	})
	if IsUnknownTable(err) {
		return TraceLayout{}, nil // a database older than migration 17
	}
	if err != nil {
		return TraceLayout{}, err
	}
	if n > traceLayoutMaxRows {
		return TraceLayout{}, nil
	}
	return l, nil
}

// SpansInLayout returns the spans of a trace as SpansByTraceID does,
// reading them only in the parts and hours of l, from TraceSpanLayout.
// When that read misses a span of l (its part was merged into another
// since), or l is empty, it is SpansByTraceID.
func (s *Store) SpansInLayout(ctx context.Context, traceID [16]byte, l TraceLayout) ([]SpanRecord, error) {
	if len(l.Spans) == 0 || len(l.Parts) == 0 {
		return s.SpansByTraceID(ctx, traceID)
	}
	query, args := selectSpansInPartsSQL(s.database, traceID, l)
	out, err := s.readSpans(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	found := make(map[[8]byte]bool, len(out))
	for i := range out {
		found[out[i].SpanID] = true
	}
	for _, k := range l.Spans {
		if !found[k.SpanID] {
			return s.SpansByTraceID(ctx, traceID)
		}
	}
	return out, nil
}
