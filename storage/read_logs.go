package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
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

// LogVolumeRecord counts the log records of one function, severity and
// step.
type LogVolumeRecord struct {
	Start          time.Time
	FunctionName   string
	SeverityNumber uint8
	SeverityText   string
	Records        uint64
}

// LogVolume counts the log records f selects (its limit aside) per step,
// function and severity, for a histogram of the logs over time.
func (s *Store) LogVolume(ctx context.Context, f LogFilter, step time.Duration) ([]LogVolumeRecord, error) {
	if err := checkRange("count logs", f.Since, f.Until); err != nil {
		return nil, err
	}
	if step < time.Second || step%time.Second != 0 {
		return nil, fmt.Errorf("count logs: step must be a whole number of seconds, got %s", step)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Sub(f.Since)/step > MaxBuckets {
		return nil, fmt.Errorf("count logs: step %s makes more than %d buckets", step, MaxBuckets)
	}
	query, args := logVolumeSQL(s.database, f, step)
	var out []LogVolumeRecord
	err := s.scanAll(ctx, "log volume", query, args, func(rows driver.Rows) error {
		var (
			r      LogVolumeRecord
			bucket uint64
		)
		if err := rows.Scan(&bucket, &r.FunctionName, &r.SeverityNumber, &r.SeverityText, &r.Records); err != nil {
			return err
		}
		r.Start = time.Unix(int64(bucket), 0).UTC()
		out = append(out, r)
		return nil
	})
	return out, err
}
