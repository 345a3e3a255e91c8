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
