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
	query, args := selectInvocationsSQL(s.database, f)
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
