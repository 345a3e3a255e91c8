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
	// Measured counts the invocations whose runtime duration is known and
	// whose billed duration is not an estimate: the others add nothing.
	Measured uint64
	// AddedBilledMs is the billed time beyond the runtime's part:
	// ceil(duration) - ceil(runtime duration), at least 0, summed;
	// AddedGBSeconds weighs it with the memory configured.
	AddedBilledMs  float64
	AddedGBSeconds float64
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

func overheadSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.seconds("start_time", f.Since, f.Until)
	w.nanos("start_unix_nano", f.Since, f.Until)
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	// measured: the runtime's duration and the invocation's are known
	// (unknown_figures bit 1). The report's duration leaves INIT out and
	// is billed rounded up to 1 ms, so the extensions' billed time after
	// the runtime is ceil(duration) - ceil(runtime duration).
	const measured = "runtime_duration_ms > 0 AND bitAnd(unknown_figures, 1) = 0"
	const added = "if(" + measured + ", greatest(ceil(duration_ms) - ceil(runtime_duration_ms), 0), 0)"
	// Billed INIT: what the record says, or what the billed duration holds
	// beyond the invocation's own (Lambda bills INIT in it; the extension
	// does not fill billed_init_duration_ms), unless that is an estimate.
	const billedInit = "greatest(billed_init_duration_ms, if(bitAnd(unknown_figures, 3) = 0, toFloat64(billed_duration_ms) - ceil(duration_ms), 0))"
	const initBilled = "if(cold_start = 1, least(extension_init_ms, greatest(" + billedInit + ", 0)), 0)"
	return `SELECT toDate(start_time) AS day, function_name, account_id, region, architecture,
    count() AS invocations,
    toUInt64(countIf(` + measured + `)) AS measured,
    sum(` + added + `) AS added_ms,
    sum(` + added + ` * memory_size_mb) / 1024000 AS added_gbs,
    toUInt64(countIf(cold_start = 1 AND extension_init_ms > 0)) AS cold_starts,
    sum(if(cold_start = 1, extension_init_ms, 0)) AS init_ms,
    sum(` + initBilled + ` * memory_size_mb) / 1024000 AS init_gbs,
    toUInt64(sum(tel_bytes_shipped)) AS bytes_shipped
FROM ` + db + `.invocations
WHERE ` + w.sql() + `
GROUP BY day, function_name, account_id, region, architecture
ORDER BY day, function_name, account_id, region, architecture`, w.args
}

func logDaysSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.seconds("timestamp", f.Since, f.Until)
	w.nanos("time_unix_nano", f.Since, f.Until)
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	return `SELECT toDate(timestamp) AS day, function_name, count() AS lines, toUInt64(sum(length(body))) AS body_bytes
FROM ` + db + `.logs
WHERE ` + w.sql() + `
GROUP BY day, function_name
ORDER BY day, function_name`, w.args
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
			&r.AddedBilledMs, &r.AddedGBSeconds, &r.ColdStarts, &r.InitMs, &r.InitBilledGBSeconds, &r.BytesShipped); err != nil {
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
