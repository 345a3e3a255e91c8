package storage

import (
	"context"
	"fmt"
	"time"
)

// InvocationRecord is one stored invocation report.
type InvocationRecord struct {
	AccountID, Region, FunctionName, FunctionVersion, ServiceName   string
	Architecture, Runtime, InitializationType, LogStream, RequestID string

	Start                         time.Time
	MemorySizeMB, MaxMemoryUsedMB uint32
	EphemeralStorageMB            uint32

	DurationMs           float64
	BilledDurationMs     uint64
	BilledInitDurationMs float64
	InitDurationMs       float64
	RestoreDurationMs    float64
	ColdStart            bool
	Status, ErrorType    string

	TraceID [16]byte
	SpanID  [8]byte

	XRayTraceHeader    string
	ResponseLatencyMs  float64
	ResponseDurationMs float64
	RuntimeOverheadMs  float64
	ProducedBytes      uint64

	// UnknownFigures are the figures the platform did not report, an OR of
	// dbmodel's Figure* bits; an unknown BilledDurationMs holds an
	// estimate (the duration rounded up to 1 ms).
	UnknownFigures uint8
	// Incomplete says no platform.report came for the invocation.
	Incomplete bool
	// TenantID is the tenant of a function in tenant isolation mode.
	TenantID string
	// Trigger is what invoked the function ("apigateway-rest", "sqs",
	// "direct"); empty when the extension saw no event.
	Trigger string
	// HTTPStatusCode is what a proxy integration answered, 0 for none.
	HTTPStatusCode uint16
	// ResponseSize is the size of the runtime's answer in bytes.
	ResponseSize uint64
}

// Invocation search limits.
const (
	DefaultInvocationLimit = 100
	MaxInvocationLimit     = 100_000
)

// InvocationFilter selects invocations. Zero fields match everything.
type InvocationFilter struct {
	FunctionName string
	Since, Until time.Time // Since inclusive, Until exclusive
	RequestIDs   []string
	TraceID      [16]byte // zero = any
	TenantID     string   // empty = any
	Limit        int      // 0 = 100; capped at MaxInvocationLimit
	// FunctionNames, when not empty, keeps the invocations of these
	// functions; the function leads the table's key, so naming the few
	// functions of a trace reads only their rows of the time range.
	FunctionNames []string
	// TraceIDs, when not empty, keeps the invocations of these traces.
	TraceIDs [][16]byte
}

// Invocations returns the invocations matching f, newest first.
func (s *Store) Invocations(ctx context.Context, f InvocationFilter) ([]InvocationRecord, error) {
	if err := checkRange("search invocations", f.Since, f.Until); err != nil {
		return nil, err
	}
	query, args := selectInvocationsSQL(s.database, f)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query invocations: %w", err)
	}
	defer rows.Close()
	var out []InvocationRecord
	for rows.Next() {
		var (
			rec             InvocationRecord
			startNs         uint64
			coldStart       uint8
			incomplete      uint8
			traceID, spanID string
		)
		err := rows.Scan(&startNs, &rec.AccountID, &rec.Region, &rec.FunctionName, &rec.FunctionVersion, &rec.ServiceName,
			&rec.Architecture, &rec.Runtime, &rec.InitializationType, &rec.LogStream, &rec.RequestID,
			&rec.MemorySizeMB, &rec.MaxMemoryUsedMB, &rec.EphemeralStorageMB, &rec.DurationMs, &rec.BilledDurationMs,
			&rec.BilledInitDurationMs, &rec.InitDurationMs, &rec.RestoreDurationMs, &coldStart, &rec.Status, &rec.ErrorType,
			&traceID, &spanID, &rec.XRayTraceHeader, &rec.ResponseLatencyMs, &rec.ResponseDurationMs,
			&rec.RuntimeOverheadMs, &rec.ProducedBytes, &rec.UnknownFigures, &incomplete, &rec.TenantID,
			&rec.Trigger, &rec.HTTPStatusCode, &rec.ResponseSize)
		if err != nil {
			return nil, fmt.Errorf("scan invocation: %w", err)
		}
		rec.Start = unixTime(startNs)
		rec.ColdStart = coldStart != 0
		rec.Incomplete = incomplete != 0
		copy(rec.TraceID[:], traceID)
		copy(rec.SpanID[:], spanID)
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read invocations: %w", err)
	}
	return out, nil
}
