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
// It finds them first (traceSearchSQL), then reads the hours trace_hours
// holds for them, and sums them up reading only those hours of each
// (traceSummarySQL); where trace_hours may not know every trace of the
// range (a range before its horizon, see traceHoursComplete), the summary
// looks for them in every hour of the range.
func (s *Store) SearchTraces(ctx context.Context, f TraceSearchFilter) ([]TraceSummaryRecord, error) {
	if err := requireRange("search traces", f.Since, f.Until); err != nil {
		return nil, err
	}
	f.Limit = limitBetween(f.Limit, DefaultTraceSearchLimit, MaxTraceSearchLimit)
	f.Offset = max(f.Offset, 0)
	query, args := traceSearchSQL(s.database, f)
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
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	since, until := f.Since.Add(-TraceSearchMargin), f.Until.Add(TraceSearchMargin)
	hours, err := s.traceHoursOf(ctx, ids, since, until)
	if err != nil {
		return nil, err
	}
	query, args = traceSummarySQL(s.database, f, ids, hours)
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
// traces of ids, as pairs of a trace and an hour. It returns nil when
// trace_hours may not know every trace starting in the range: before its
// horizon (migration 31), on a server without the horizon, or on a
// database older than migration 17.
func (s *Store) traceHoursOf(ctx context.Context, ids [][16]byte, since, until time.Time) ([]traceHour, error) {
	horizon, ok, err := s.viewHorizon(ctx, "trace_hours")
	if err != nil || !ok || uint64(since.UnixNano()) <= horizon {
		return nil, err
	}
	byKey := make(map[[8]byte][][16]byte, len(ids))
	for _, id := range ids {
		k := [8]byte(id[8:])
		byKey[k] = append(byKey[k], id)
	}
	query, args := selectTraceHoursSQL(s.database, ids, since, until)
	hours := make([]traceHour, 0, len(ids))
	err = s.scanAll(ctx, "trace hours", query, args, func(rows driver.Rows) error {
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
	if err != nil {
		return nil, err
	}
	// A trace without an hour would be left out of the summary: look for
	// every trace in every hour instead.
	known := make(map[[16]byte]bool, len(ids))
	for _, h := range hours {
		known[h.traceID] = true
	}
	if slices.ContainsFunc(ids, func(id [16]byte) bool { return !known[id] }) {
		return nil, nil
	}
	return hours, nil
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
