package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

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
	var out []LogRecord
	err := s.scanAll(ctx, "logs", query, args, func(rows driver.Rows) error {
		r, err := scanLog(rows)
		if err != nil {
			return err
		}
		out = append(out, logRecord(&r))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanLog reads a row of logSelectColumns into the logs table's row type,
// the one the writer inserts.
func scanLog(rows driver.Rows) (dbmodel.Log, error) {
	var (
		r               dbmodel.Log
		traceID, spanID string
	)
	err := rows.Scan(&r.TimeUnixNano, &r.ObservedTimeUnixNano, &traceID, &spanID, &r.SeverityNumber, &r.SeverityText, &r.Body,
		&r.ServiceName, &r.FunctionName, &r.FunctionVersion, &r.AccountID, &r.Region, &r.RequestID, &r.LogType,
		&r.Attributes.Keys, &r.Attributes.Values, &r.ResourceAttributes.Keys, &r.ResourceAttributes.Values)
	copy(r.TraceID[:], traceID)
	copy(r.SpanID[:], spanID)
	return r, err
}

// logRecord is the record a row of the logs table holds.
func logRecord(r *dbmodel.Log) LogRecord {
	return LogRecord{
		Time: unixTime(r.TimeUnixNano), ObservedTime: unixTime(r.ObservedTimeUnixNano),
		TraceID: r.TraceID, SpanID: r.SpanID, SeverityNumber: r.SeverityNumber, SeverityText: r.SeverityText, Body: r.Body,
		ServiceName: r.ServiceName, FunctionName: r.FunctionName, FunctionVersion: r.FunctionVersion,
		AccountID: r.AccountID, Region: r.Region, RequestID: r.RequestID, LogType: r.LogType,
		Attributes: r.Attributes.Map(), ResourceAttributes: r.ResourceAttributes.Map(),
	}
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
