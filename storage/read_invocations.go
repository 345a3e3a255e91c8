package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
		packed, err := s.traceInvocationsAnswer(ctx, f)
		if err != nil {
			return nil, err
		}
		if packed {
			query, args = selectTraceInvocationsSQL(s.database, f)
			scan = scanTraceInvocation
		}
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

// traceInvocationsAnswer reports whether trace_invocations (migration 55)
// holds every row f selects: a trace view's read by request ID of a range
// after its horizon, on a single server. Its horizon is read once.
func (s *Store) traceInvocationsAnswer(ctx context.Context, f InvocationFilter) (bool, error) {
	if s.cluster != "" || !traceInvocationsFilter(f, 0) {
		return false, nil
	}
	h := s.traceInvocations.Load()
	if h == 0 {
		horizon, ok, err := s.viewHorizon(ctx, "trace_invocations")
		if err != nil || !ok {
			return false, err // a database older than migration 55
		}
		h = horizon + 1
		s.traceInvocations.Store(h)
	}
	return traceInvocationsFilter(f, h-1), nil
}

// scanTraceInvocation reads a row of selectTraceInvocationsSQL: the
// start, the function, the request ID and the columns of
// traceInvocationShown packed as strings, as trace_invocations' view
// wrote them (toString of a number, the bytes of a string); the other
// fields stay zero, as scanInvocationTraceView leaves them.
func scanTraceInvocation(rows driver.Rows, r *dbmodel.Invocation) error {
	var shown []string
	if err := rows.Scan(&r.StartUnixNano, &r.FunctionName, &r.RequestID, &shown); err != nil {
		return err
	}
	if len(shown) != len(traceInvocationShown) {
		return fmt.Errorf("trace_invocations row of request %q: %d values shown, want %d", r.RequestID, len(shown), len(traceInvocationShown))
	}
	var (
		errs                  []error
		coldStart, incomplete uint64
	)
	num := func(i int, bits int, dst *uint64) {
		v, err := strconv.ParseUint(shown[i], 10, bits)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", traceInvocationShown[i], err))
		}
		*dst = v
	}
	float := func(i int, dst *float64) {
		v, err := strconv.ParseFloat(shown[i], 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", traceInvocationShown[i], err))
		}
		*dst = v
	}
	var memory, maxMemory, ephemeral, unknown, status uint64
	r.AccountID, r.Region, r.FunctionVersion, r.ServiceName = shown[0], shown[1], shown[2], shown[3]
	r.Architecture, r.Runtime, r.InitializationType, r.LogStream = shown[4], shown[5], shown[6], shown[7]
	num(8, 32, &memory)
	num(9, 32, &maxMemory)
	num(10, 32, &ephemeral)
	float(11, &r.DurationMs)
	num(12, 64, &r.BilledDurationMs)
	float(13, &r.BilledInitDurationMs)
	float(14, &r.InitDurationMs)
	float(15, &r.RestoreDurationMs)
	num(16, 8, &coldStart)
	r.Status, r.ErrorType = shown[17], shown[18]
	copy(r.TraceID[:], shown[19])
	copy(r.SpanID[:], shown[20])
	r.XRayTraceHeader = shown[21]
	num(22, 8, &unknown)
	num(23, 8, &incomplete)
	r.TenantID, r.Trigger = shown[24], shown[25]
	num(26, 16, &status)
	num(27, 64, &r.ResponseSize)
	if len(errs) > 0 {
		return fmt.Errorf("trace_invocations row of request %q: %w", r.RequestID, errors.Join(errs...))
	}
	r.MemorySizeMB, r.MaxMemoryUsedMB, r.EphemeralStorageMB = uint32(memory), uint32(maxMemory), uint32(ephemeral)
	r.UnknownFigures, r.HTTPStatusCode = uint8(unknown), uint16(status)
	r.ColdStart, r.Incomplete = coldStart != 0, incomplete != 0
	return nil
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
		&r.RuntimeDurationMs, &r.ExtensionInitMs, &t.SpansRefused, &t.LogLinesRefused,
		&r.TriggerSource, &r.ErrorMessage, &r.TraceContextSource, &r.FunctionErrorType)
	if err != nil {
		return err
	}
	r.ColdStart, r.Incomplete, t.Counted = coldStart != 0, incomplete != 0, counted != 0
	copy(r.TraceID[:], traceID)
	copy(r.SpanID[:], spanID)
	return nil
}
