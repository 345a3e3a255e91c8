package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// Limits of the searches in this file.
const (
	DefaultAggregateLimit = 10_000
	MaxAggregateLimit     = 1_000_000
	DefaultLogLimit       = 100
	MaxLogLimit           = 100_000
	DefaultMetricLimit    = 1_000
	MaxMetricLimit        = 1_000_000
)

func limitOr(n, def, most int) int {
	switch {
	case n <= 0:
		return def
	case n > most:
		return most
	default:
		return n
	}
}

func checkRange(action string, since, until time.Time) error {
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return fmt.Errorf("%s: until must be after since", action)
	}
	return nil
}

// FunctionMinuteFilter selects per-minute function figures. Zero fields
// match everything.
type FunctionMinuteFilter struct {
	FunctionName string
	Since, Until time.Time // minutes starting in [Since, Until)
	Limit        int       // 0 = DefaultAggregateLimit; capped at MaxAggregateLimit
}

// FunctionMinute is one function's figures for one minute, across its
// versions, accounts and regions.
type FunctionMinute struct {
	Minute       time.Time
	FunctionName string
	Invocations  uint64
	// Errors counts every status but success (error, timeout, failure).
	Errors     uint64
	Timeouts   uint64
	ColdStarts uint64
	// DurationMsSum over Invocations is the mean duration.
	DurationMsSum float64
	// DurationMsP50, P90 and P99 are t-digest estimates.
	DurationMsP50, DurationMsP90, DurationMsP99 float64
	BilledGBSeconds                             float64
	MaxMemoryUsedMB                             uint32
}

// FunctionMinutes returns per-minute figures from the function_minutes
// view, ordered by function and minute.
func (s *Store) FunctionMinutes(ctx context.Context, f FunctionMinuteFilter) ([]FunctionMinute, error) {
	if err := checkRange("read function minutes", f.Since, f.Until); err != nil {
		return nil, err
	}
	query, args := selectFunctionMinutesSQL(s.database, f)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query function minutes: %w", err)
	}
	defer rows.Close()
	var out []FunctionMinute
	for rows.Next() {
		var (
			m FunctionMinute
			q []float64
		)
		if err := rows.Scan(&m.Minute, &m.FunctionName, &m.Invocations, &m.Errors, &m.Timeouts, &m.ColdStarts,
			&m.DurationMsSum, &q, &m.BilledGBSeconds, &m.MaxMemoryUsedMB); err != nil {
			return nil, fmt.Errorf("scan function minute: %w", err)
		}
		m.Minute = m.Minute.UTC()
		m.DurationMsP50, m.DurationMsP90, m.DurationMsP99 = quantile(q, 0), quantile(q, 1), quantile(q, 2)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read function minutes: %w", err)
	}
	return out, nil
}

func quantile(q []float64, i int) float64 {
	if i < len(q) {
		return q[i]
	}
	return 0
}

// ServiceEdgeFilter selects service-to-service edges. Zero fields match
// everything.
type ServiceEdgeFilter struct {
	// Service keeps the edges where it is the caller or the callee.
	Service      string
	Since, Until time.Time // minutes starting in [Since, Until)
	Limit        int       // 0 = DefaultAggregateLimit; capped at MaxAggregateLimit
}

// ServiceEdge is the calls from one service to another over a time range,
// as the caller saw them (see migration 0005 for how callees are named).
type ServiceEdge struct {
	Caller, Callee                              string
	Calls, Errors                               uint64
	DurationMsP50, DurationMsP90, DurationMsP99 float64
}

// ServiceEdges returns the edges of the service_edges view, merged over the
// filter's time range and ordered by caller and callee.
func (s *Store) ServiceEdges(ctx context.Context, f ServiceEdgeFilter) ([]ServiceEdge, error) {
	if err := checkRange("read service edges", f.Since, f.Until); err != nil {
		return nil, err
	}
	query, args := selectServiceEdgesSQL(s.database, f)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query service edges: %w", err)
	}
	defer rows.Close()
	var out []ServiceEdge
	for rows.Next() {
		var (
			e ServiceEdge
			q []float64
		)
		if err := rows.Scan(&e.Caller, &e.Callee, &e.Calls, &e.Errors, &q); err != nil {
			return nil, fmt.Errorf("scan service edge: %w", err)
		}
		e.DurationMsP50, e.DurationMsP90, e.DurationMsP99 = quantile(q, 0), quantile(q, 1), quantile(q, 2)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read service edges: %w", err)
	}
	return out, nil
}

// LogFilter selects log records. Zero fields match everything.
type LogFilter struct {
	FunctionName string
	Since, Until time.Time // Since inclusive, Until exclusive
	RequestID    string
	TraceID      [16]byte // zero = any
	// TraceRequestIDs, with TraceID, also keeps the records that carry no
	// trace ID of their own but belong to one of these requests (the
	// invocations of the trace).
	TraceRequestIDs []string
	// Contains keeps records whose body contains it, ignoring case.
	Contains    string
	MinSeverity uint8 // OTLP severity number; 0 = any
	Limit       int   // 0 = DefaultLogLimit; capped at MaxLogLimit
}

// LogRecord is one stored log record.
type LogRecord struct {
	Time, ObservedTime time.Time
	TraceID            [16]byte
	SpanID             [8]byte
	SeverityNumber     uint8
	SeverityText, Body string

	ServiceName, FunctionName, FunctionVersion, AccountID, Region, RequestID string
	// LogType is function, extension, platform or otlp.
	LogType string

	Attributes, ResourceAttributes map[string]string
}

// Logs returns the log records matching f, newest first.
func (s *Store) Logs(ctx context.Context, f LogFilter) ([]LogRecord, error) {
	if err := checkRange("search logs", f.Since, f.Until); err != nil {
		return nil, err
	}
	query, args := selectLogsSQL(s.database, f)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query logs: %w", err)
	}
	defer rows.Close()
	var out []LogRecord
	for rows.Next() {
		var (
			r                                    LogRecord
			timeNs, observedNs                   uint64
			traceID, spanID                      string
			attrKeys, attrVals, resKeys, resVals []string
		)
		if err := rows.Scan(&timeNs, &observedNs, &traceID, &spanID, &r.SeverityNumber, &r.SeverityText, &r.Body,
			&r.ServiceName, &r.FunctionName, &r.FunctionVersion, &r.AccountID, &r.Region, &r.RequestID, &r.LogType,
			&attrKeys, &attrVals, &resKeys, &resVals); err != nil {
			return nil, fmt.Errorf("scan log: %w", err)
		}
		r.Time, r.ObservedTime = unixTime(timeNs), unixTime(observedNs)
		copy(r.TraceID[:], traceID)
		copy(r.SpanID[:], spanID)
		r.Attributes = dbmodel.KeyValues{Keys: attrKeys, Values: attrVals}.Map()
		r.ResourceAttributes = dbmodel.KeyValues{Keys: resKeys, Values: resVals}.Map()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	return out, nil
}

// MetricFilter selects metric points. Zero fields match everything.
type MetricFilter struct {
	Name         string
	FunctionName string
	ServiceName  string
	Since, Until time.Time // Since inclusive, Until exclusive
	Limit        int       // 0 = DefaultMetricLimit; capped at MaxMetricLimit
}

// MetricPointRecord is one stored metric data point; see
// dbmodel.MetricPoint for which fields each metric type fills.
type MetricPointRecord struct {
	Time, StartTime time.Time

	ServiceName, FunctionName, FunctionVersion, AccountID, Region, ScopeName string

	Name, Type, Unit string
	Temporality      uint8
	Monotonic        bool
	Flags            uint32

	Value                          float64
	Count                          uint64
	Sum, Min, Max                  float64
	BucketCounts                   []uint64
	ExplicitBounds, QuantileValues []float64
	Attributes, ResourceAttributes map[string]string
	ExemplarTraceIDs               [][16]byte
	ExemplarValues                 []float64
}

// MetricPoints returns the points matching f, ordered by metric, function
// and time.
func (s *Store) MetricPoints(ctx context.Context, f MetricFilter) ([]MetricPointRecord, error) {
	if err := checkRange("read metric points", f.Since, f.Until); err != nil {
		return nil, err
	}
	query, args := selectMetricPointsSQL(s.database, f)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query metric points: %w", err)
	}
	defer rows.Close()
	var out []MetricPointRecord
	for rows.Next() {
		var (
			r                                    MetricPointRecord
			timeNs, startNs                      uint64
			monotonic                            uint8
			attrKeys, attrVals, resKeys, resVals []string
			exemplarIDs                          []string
		)
		if err := rows.Scan(&timeNs, &startNs,
			&r.ServiceName, &r.FunctionName, &r.FunctionVersion, &r.AccountID, &r.Region, &r.ScopeName,
			&r.Name, &r.Type, &r.Unit, &r.Temporality, &monotonic, &r.Flags,
			&r.Value, &r.Count, &r.Sum, &r.Min, &r.Max, &r.BucketCounts, &r.ExplicitBounds, &r.QuantileValues,
			&attrKeys, &attrVals, &resKeys, &resVals, &exemplarIDs, &r.ExemplarValues); err != nil {
			return nil, fmt.Errorf("scan metric point: %w", err)
		}
		r.Time = unixTime(timeNs)
		if startNs != 0 {
			r.StartTime = unixTime(startNs)
		}
		r.Monotonic = monotonic != 0
		r.Attributes = dbmodel.KeyValues{Keys: attrKeys, Values: attrVals}.Map()
		r.ResourceAttributes = dbmodel.KeyValues{Keys: resKeys, Values: resVals}.Map()
		for _, id := range exemplarIDs {
			var t [16]byte
			copy(t[:], id)
			r.ExemplarTraceIDs = append(r.ExemplarTraceIDs, t)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read metric points: %w", err)
	}
	return out, nil
}
