package storage

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// OverheadRecord is what the extension added to one function's bill on
// one UTC day, per region and architecture (which set the price).
type OverheadRecord struct {
	Day          time.Time
	FunctionName string
	AccountID    string
	Region       string
	Architecture string
	Invocations  uint64
	// Measured counts the invocations whose runtime duration and duration
	// (from platform.report) are both known: the others add nothing. A
	// record written without its report (incomplete) is not measured.
	Measured uint64
	// AddedBilledMs is the billed time beyond the runtime's part:
	// ceil(duration) - ceil(runtime duration), at least 0, summed;
	// AddedGBSeconds weighs it with the memory configured.
	AddedBilledMs  float64
	AddedGBSeconds float64
	// MeasuredCold and AddedColdBilledMs are the part of Measured and
	// AddedBilledMs on cold starts: an environment's first invocation
	// pays what an extension does once (its first connection, a flush of
	// what its start gathered), so the steady cost per invocation is
	// (AddedBilledMs - AddedColdBilledMs) / (Measured - MeasuredCold).
	MeasuredCold      uint64
	AddedColdBilledMs float64
	// ColdStarts counts the environments' first records; InitMs sums the
	// extension's start on them, InitBilledGBSeconds the part of it within
	// billed INIT time (min of the two), weighed with memory. Billed INIT
	// is billed_init_duration_ms or, when larger, the billed duration
	// beyond ceil(duration).
	ColdStarts          uint64
	InitMs              float64
	InitBilledGBSeconds float64
	// BytesShipped is what the extension shipped (encoded, before
	// compression), from the records' counts.
	BytesShipped uint64
}

// LogDayRecord is one function's stored log lines on one UTC day.
type LogDayRecord struct {
	Day          time.Time
	FunctionName string
	Lines        uint64
	// BodyBytes is the bytes of the lines' bodies.
	BodyBytes uint64
}

// Overhead sums, per UTC day, function, account, region and architecture,
// what the extension added to the bill: billed time after the runtime,
// its start within billed INIT, and the bytes it shipped.
func (s *Store) Overhead(ctx context.Context, f UsageFilter) ([]OverheadRecord, error) {
	if err := f.check("read extension overhead"); err != nil {
		return nil, err
	}
	query, args := overheadSQL(s.database, f)
	var out []OverheadRecord
	err := s.scanAll(ctx, "extension overhead", query, args, func(rows driver.Rows) error {
		var r OverheadRecord
		if err := rows.Scan(&r.Day, &r.FunctionName, &r.AccountID, &r.Region, &r.Architecture, &r.Invocations, &r.Measured,
			&r.AddedBilledMs, &r.AddedGBSeconds, &r.MeasuredCold, &r.AddedColdBilledMs, &r.ColdStarts, &r.InitMs, &r.InitBilledGBSeconds, &r.BytesShipped); err != nil {
			return err
		}
		r.Day = r.Day.UTC()
		out = append(out, r)
		return nil
	})
	return out, err
}

// LogDays counts, per UTC day and function, the stored log lines and
// the bytes of their bodies.
func (s *Store) LogDays(ctx context.Context, f UsageFilter) ([]LogDayRecord, error) {
	if err := f.check("read log volume"); err != nil {
		return nil, err
	}
	query, args := logDaysSQL(s.database, f)
	var out []LogDayRecord
	err := s.scanAll(ctx, "log volume", query, args, func(rows driver.Rows) error {
		var r LogDayRecord
		if err := rows.Scan(&r.Day, &r.FunctionName, &r.Lines, &r.BodyBytes); err != nil {
			return err
		}
		r.Day = r.Day.UTC()
		out = append(out, r)
		return nil
	})
	return out, err
}
