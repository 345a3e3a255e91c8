package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// WriteCounts says what one WriteExport stored and refused.
type WriteCounts struct {
	Spans       int
	Logs        int
	Invocations int
	// MetricPoints is the number of metric data points stored. The schema
	// has no metric table yet, so metrics in a batch are ignored and this is
	// always 0.
	MetricPoints int
	// Rejected counts items refused one by one (spans with malformed IDs);
	// the rest of the batch was stored.
	Rejected int
}

// WriteExport stores one Ingest API batch: its invocation reports, spans and
// logs, one insert per table. Malformed spans are counted in Rejected and
// skipped. An error means some tables may have been written and others not;
// the caller retries the whole batch.
func (s *Store) WriteExport(ctx context.Context, req *ingestv1.ExportRequest) (WriteCounts, error) {
	b := dbmodel.FromExport(req)
	counts := WriteCounts{Rejected: b.Rejected}
	if b.Rejected > 0 {
		s.logger.Warn("rejected items in batch", "rejected", b.Rejected, "problems", b.Problems)
	}
	if b.MetricPoints > 0 {
		s.logger.Debug("metric points ignored: no metric table yet", "points", b.MetricPoints)
	}
	if err := insertRows(ctx, s, "invocations", invocationInsertColumns, b.Invocations, invocationValues); err != nil {
		return counts, err
	}
	counts.Invocations = len(b.Invocations)
	if err := insertRows(ctx, s, "spans", spanInsertColumns, b.Spans, spanValues); err != nil {
		return counts, err
	}
	counts.Spans = len(b.Spans)
	if err := insertRows(ctx, s, "logs", logInsertColumns, b.Logs, logValues); err != nil {
		return counts, err
	}
	counts.Logs = len(b.Logs)
	return counts, nil
}

// insertRows sends rows to one table in a single native-protocol block.
func insertRows[R any](ctx context.Context, s *Store, table string, columns []string, rows []R, values func(*R) []any) error {
	if len(rows) == 0 {
		return nil
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
