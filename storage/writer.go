package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// WriteCounts says what a write stored and refused.
type WriteCounts struct {
	Spans        int
	Logs         int
	Invocations  int
	MetricPoints int
	// Rejected counts items refused one by one (spans with malformed IDs);
	// the rest of the batch was stored.
	Rejected int
}

// Add sums two counts.
func (c WriteCounts) Add(o WriteCounts) WriteCounts {
	return WriteCounts{
		Spans: c.Spans + o.Spans, Logs: c.Logs + o.Logs, Invocations: c.Invocations + o.Invocations,
		MetricPoints: c.MetricPoints + o.MetricPoints, Rejected: c.Rejected + o.Rejected,
	}
}

// WriteExport stores one Ingest API batch; it is WriteExports with one
// request.
func (s *Store) WriteExport(ctx context.Context, req *ingestv1.ExportRequest) (WriteCounts, error) {
	return s.WriteExports(ctx, []*ingestv1.ExportRequest{req})
}

// WriteExports stores several Ingest API batches with one insert per table
// (invocations, spans, logs, metric_points, in that order), so that many
// small batches cost as few inserts and parts as one large one. Malformed
// spans are counted in Rejected, logged and skipped; the rest is stored.
//
// Partial failure: each table's insert is one native-protocol block, which
// ClickHouse stores whole or not at all, but the four tables are separate
// inserts. When an insert fails, WriteExports stops: the tables before it
// hold every request's rows, the failing table and those after it hold none,
// and the returned counts say what was stored. The caller retries all the
// requests; the rows already stored are then stored again, which readers
// tolerate (SpansByTraceID returns a span once; the aggregate views count
// the duplicates).
func (s *Store) WriteExports(ctx context.Context, reqs []*ingestv1.ExportRequest) (WriteCounts, error) {
	var (
		spans       []dbmodel.Span
		logs        []dbmodel.Log
		invocations []dbmodel.Invocation
		metrics     []dbmodel.MetricPoint
		counts      WriteCounts
		problems    []string
	)
	for _, req := range reqs {
		b := dbmodel.FromExport(req)
		spans = append(spans, b.Spans...)
		logs = append(logs, b.Logs...)
		invocations = append(invocations, b.Invocations...)
		metrics = append(metrics, b.Metrics...)
		counts.Rejected += b.Rejected
		if len(problems) < maxLoggedProblems {
			problems = append(problems, b.Problems[:min(len(b.Problems), maxLoggedProblems-len(problems))]...)
		}
	}
	if counts.Rejected > 0 {
		s.rejected.Add(uint64(counts.Rejected))
		s.logger.Warn("rejected items in batch", "rejected", counts.Rejected, "problems", problems)
	}
	if err := insertRows(ctx, s, "invocations", invocationInsertColumns, invocations, invocationValues); err != nil {
		return counts, err
	}
	counts.Invocations = len(invocations)
	if err := insertRows(ctx, s, "spans", spanInsertColumns, spans, spanValues); err != nil {
		return counts, err
	}
	counts.Spans = len(spans)
	if err := insertRows(ctx, s, "logs", logInsertColumns, logs, logValues); err != nil {
		return counts, err
	}
	counts.Logs = len(logs)
	if err := insertRows(ctx, s, "metric_points", metricInsertColumns, metrics, metricValues); err != nil {
		return counts, err
	}
	counts.MetricPoints = len(metrics)
	return counts, nil
}

// maxLoggedProblems bounds the reasons a write logs for rejected items.
const maxLoggedProblems = 10

// Rejected is how many items writes have refused since the store opened.
func (s *Store) Rejected() uint64 { return s.rejected.Load() }

// insertRows sends rows to one table in a single native-protocol block.
func insertRows[R any](ctx context.Context, s *Store, table string, columns []string, rows []R, values func(*R) []any) error {
	if len(rows) == 0 {
		return nil
	}
	if s.cluster != "" {
		// Wait for the shards to hold the rows: the default, queueing them
		// on this server's disk for later, would report success for rows a
		// shard has not stored yet.
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	}
	batch, err := s.conn.PrepareBatch(ctx, insertSQL(s.database, table, columns))
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	for i := range rows {
		if err := batch.Append(values(&rows[i])...); err != nil {
			return errors.Join(fmt.Errorf("append row to %s: %w", table, err), batch.Abort())
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

func spanValues(r *dbmodel.Span) []any {
	return []any{
		unixTime(r.StartUnixNano), r.StartUnixNano, r.DurationNs, r.TraceID[:], r.SpanID[:], r.ParentSpanID[:],
		r.TraceState, r.Name, r.Kind, r.StatusCode, r.StatusMessage,
		r.ServiceName, r.FunctionName, r.FunctionVersion, r.AccountID, r.Region, r.RequestID,
		r.ScopeName, r.ScopeVersion,
		nonNil(r.Attributes.Keys), nonNil(r.Attributes.Values),
		nonNil(r.ResourceAttributes.Keys), nonNil(r.ResourceAttributes.Values),
		nonNil(r.EventTimes), nonNil(r.EventNames), nonNil(r.EventAttributes),
		idStrings(r.LinkTraceIDs), idStrings(r.LinkSpanIDs), nonNil(r.LinkAttributes),
	}
}

func logValues(r *dbmodel.Log) []any {
	return []any{
		unixTime(r.TimeUnixNano), r.TimeUnixNano, r.ObservedTimeUnixNano, r.TraceID[:], r.SpanID[:],
		r.SeverityNumber, r.SeverityText, r.Body,
		r.ServiceName, r.FunctionName, r.FunctionVersion, r.AccountID, r.Region, r.RequestID, r.LogType,
		nonNil(r.Attributes.Keys), nonNil(r.Attributes.Values),
		nonNil(r.ResourceAttributes.Keys), nonNil(r.ResourceAttributes.Values),
	}
}

func metricValues(r *dbmodel.MetricPoint) []any {
	return []any{
		unixTime(r.TimeUnixNano), r.TimeUnixNano, r.StartTimeUnixNano,
		r.ServiceName, r.FunctionName, r.FunctionVersion, r.AccountID, r.Region, r.ScopeName,
		r.Name, r.Type, r.Unit, r.Temporality, boolUint8(r.Monotonic), r.Flags,
		r.Value, r.Count, r.Sum, r.Min, r.Max,
		nonNil(r.BucketCounts), nonNil(r.ExplicitBounds), nonNil(r.QuantileValues),
		nonNil(r.Attributes.Keys), nonNil(r.Attributes.Values),
		nonNil(r.ResourceAttributes.Keys), nonNil(r.ResourceAttributes.Values),
		idStrings(r.ExemplarTraceIDs), nonNil(r.ExemplarValues),
	}
}

func invocationValues(r *dbmodel.Invocation) []any {
	return []any{
		unixTime(r.StartUnixNano), r.StartUnixNano, r.AccountID, r.Region, r.FunctionName, r.FunctionVersion,
		r.ServiceName, r.Architecture, r.Runtime, r.InitializationType, r.LogStream, r.RequestID,
		r.MemorySizeMB, r.MaxMemoryUsedMB, r.EphemeralStorageMB, r.DurationMs, r.BilledDurationMs,
		r.BilledInitDurationMs, r.InitDurationMs, r.RestoreDurationMs, boolUint8(r.ColdStart), r.Status,
		r.ErrorType, r.TraceID[:], r.SpanID[:], r.XRayTraceHeader, r.ResponseLatencyMs,
		r.ResponseDurationMs, r.RuntimeOverheadMs, r.ProducedBytes,
	}
}

// unixTime converts nanoseconds since the epoch to a UTC time, clamping
// values beyond what time.Unix can hold.
func unixTime(ns uint64) time.Time {
	const maxNs = uint64(1<<63 - 1)
	return time.Unix(0, int64(min(ns, maxNs))).UTC()
}

func unixNano(t time.Time) uint64 {
	if n := t.UnixNano(); n > 0 {
		return uint64(n)
	}
	return 0
}

func boolUint8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// nonNil gives array columns an empty slice instead of nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// idStrings turns binary IDs into the strings an Array(FixedString(N))
// column takes.
func idStrings[ID [16]byte | [8]byte](ids []ID) []string {
	out := make([]string, len(ids))
	for i := range ids {
		out[i] = idString(ids[i])
	}
	return out
}

func idString[ID [16]byte | [8]byte](id ID) string {
	switch v := any(id).(type) {
	case [16]byte:
		return string(v[:])
	case [8]byte:
		return string(v[:])
	}
	return ""
}
