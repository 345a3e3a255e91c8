package storage

import (
	"context"
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
func (s *Store) SearchTraces(ctx context.Context, f TraceSearchFilter) ([]TraceSummaryRecord, error) {
	if err := requireRange("search traces", f.Since, f.Until); err != nil {
		return nil, err
	}
	f.Limit = limitBetween(f.Limit, DefaultTraceSearchLimit, MaxTraceSearchLimit)
	f.Offset = max(f.Offset, 0)
	query, args := traceSearchSQL(s.database, f)
	var out []TraceSummaryRecord
	err := s.scanAll(ctx, "trace search", query, args, func(rows driver.Rows) error {
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
