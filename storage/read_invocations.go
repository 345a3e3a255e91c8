package storage

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// InvocationRecord is one stored invocation report: the invocations
// table's row, as the writer inserts it (dbmodel.Invocation), and its start
// as a time.
type InvocationRecord struct {
	dbmodel.Invocation
	Start time.Time
}

// Invocations returns the invocations matching f, newest first.
func (s *Store) Invocations(ctx context.Context, f InvocationFilter) ([]InvocationRecord, error) {
	if err := checkRange("search invocations", f.Since, f.Until); err != nil {
		return nil, err
	}
	if f.TraceView && s.cluster == "" {
		return s.invocationsInParts(ctx, f)
	}
	return s.readInvocations(ctx, f, nil)
}

// invocationsInParts is Invocations in two steps, for the few rows of
// many columns a trace view reads: it counts the rows f selects in each
// part of the table, reading the columns of f's conditions alone, then
// reads the rows' columns in the parts holding them alone. When the
// second read finds another number of rows than the first counted (a
// part was merged into another since), it reads them in every part.
//
// The rows lie in at most as many parts as there are request IDs (one row
// each, as a rule): when the days of the range hold no more parts than
// that (the server's list of parts says, without reading a file), the
// first step could leave none out, and the rows are read at once.
func (s *Store) invocationsInParts(ctx context.Context, f InvocationFilter) ([]InvocationRecord, error) {
	if n, err := s.invocationPartsOfDays(ctx, f.Since, f.Until); err != nil || n <= uint64(len(f.RequestIDs)) {
		return s.readInvocations(ctx, f, nil)
	}
	query, args := selectInvocationPartsSQL(s.database, f)
	var (
		parts []string
		rows  uint64
	)
	err := s.scanAll(ctx, "invocation parts", query, args, func(r driver.Rows) error {
		var (
			part string
			n    uint64
		)
		if err := r.Scan(&part, &n); err != nil {
			return err
		}
		parts, rows = append(parts, part), rows+n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.invocationsCounted(ctx, f, parts, rows)
}

// invocationsCounted reads the invocations f selects in parts, where the
// first step counted rows of them, and in every part when it finds
// another number.
func (s *Store) invocationsCounted(ctx context.Context, f InvocationFilter, parts []string, rows uint64) ([]InvocationRecord, error) {
	if rows == 0 {
		return nil, nil
	}
	out, err := s.readInvocations(ctx, f, parts)
	if err != nil {
		return nil, err
	}
	if uint64(len(out)) != min(rows, uint64(limitBetween(f.Limit, DefaultInvocationLimit, MaxInvocationLimit))) {
		return s.readInvocations(ctx, f, nil)
	}
	return out, nil
}

// readInvocations reads the invocations f selects, in the named parts
// alone when parts is not nil.
func (s *Store) readInvocations(ctx context.Context, f InvocationFilter, parts []string) ([]InvocationRecord, error) {
	query, args := selectInvocationsInPartsSQL(s.database, f, parts)
	scan := scanInvocation
	if f.TraceView {
		scan = scanInvocationTraceView
	}
	var out []InvocationRecord
	err := s.scanAll(ctx, "invocations", query, args, func(rows driver.Rows) error {
		var rec InvocationRecord
		if err := scan(rows, &rec.Invocation); err != nil {
			return err
		}
		rec.Start = unixTime(rec.StartUnixNano)
		out = append(out, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanInvocationTraceView reads a row of invocationTraceViewColumns, in
// their order; the other fields stay zero.
func scanInvocationTraceView(rows driver.Rows, r *dbmodel.Invocation) error {
	var (
		coldStart, incomplete uint8
		traceID, spanID       string
	)
	err := rows.Scan(&r.StartUnixNano, &r.AccountID, &r.Region, &r.FunctionName, &r.FunctionVersion,
		&r.ServiceName, &r.Architecture, &r.Runtime, &r.InitializationType, &r.LogStream, &r.RequestID,
		&r.MemorySizeMB, &r.MaxMemoryUsedMB, &r.EphemeralStorageMB, &r.DurationMs, &r.BilledDurationMs,
		&r.BilledInitDurationMs, &r.InitDurationMs, &r.RestoreDurationMs, &coldStart, &r.Status,
		&r.ErrorType, &traceID, &spanID, &r.XRayTraceHeader,
		&r.UnknownFigures, &incomplete, &r.TenantID, &r.Trigger, &r.HTTPStatusCode, &r.ResponseSize)
	if err != nil {
		return err
	}
	r.ColdStart, r.Incomplete = coldStart != 0, incomplete != 0
	copy(r.TraceID[:], traceID)
	copy(r.SpanID[:], spanID)
	return nil
}

// scanInvocation reads a row of invocationSelectColumns, the columns of
// invocationInsertColumns but start_time, in their order.
func scanInvocation(rows driver.Rows, r *dbmodel.Invocation) error {
	var (
		coldStart, incomplete, counted uint8
		traceID, spanID                string
	)
	t := &r.Telemetry
	err := rows.Scan(&r.StartUnixNano, &r.AccountID, &r.Region, &r.FunctionName, &r.FunctionVersion,
		&r.ServiceName, &r.Architecture, &r.Runtime, &r.InitializationType, &r.LogStream, &r.RequestID,
		&r.MemorySizeMB, &r.MaxMemoryUsedMB, &r.EphemeralStorageMB, &r.DurationMs, &r.BilledDurationMs,
		&r.BilledInitDurationMs, &r.InitDurationMs, &r.RestoreDurationMs, &coldStart, &r.Status,
		&r.ErrorType, &traceID, &spanID, &r.XRayTraceHeader, &r.ResponseLatencyMs,
		&r.ResponseDurationMs, &r.RuntimeOverheadMs, &r.ProducedBytes, &r.UnknownFigures, &incomplete, &r.TenantID,
		&r.Trigger, &r.HTTPStatusCode, &r.ResponseSize,
		&counted, &t.SpansReceived, &t.LogLinesReceived,
		&t.BytesReceived, &t.BytesShipped, &t.SpansSampledOut, &t.SpansDropped,
		&t.LogLinesDropped, &t.SpansSpooled, &t.LogLinesSpooled,
		&t.SpansSpoolDropped, &t.LogLinesSpoolDropped, &t.PlatformLogsDropped,
		&r.RuntimeDurationMs, &r.ExtensionInitMs, &t.SpansRefused, &t.LogLinesRefused)
	if err != nil {
		return err
	}
	r.ColdStart, r.Incomplete, t.Counted = coldStart != 0, incomplete != 0, counted != 0
	copy(r.TraceID[:], traceID)
	copy(r.SpanID[:], spanID)
	return nil
}

// invocationPartsOfDays counts the active parts of the invocations table
// in the days (its partitions) of [since, until), from system.parts; an
// open range counts every part.
func (s *Store) invocationPartsOfDays(ctx context.Context, since, until time.Time) (uint64, error) {
	query, args := invocationPartsOfDaysSQL(s.database, since, until)
	var n uint64
	if err := s.conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, readErr("count the parts of invocations", err)
	}
	return n, nil
}
