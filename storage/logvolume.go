package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

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

func logVolumeSQL(db string, f LogFilter, step time.Duration) (string, []any) {
	w := logsWhere(f)
	sec := int64(step / time.Second)
	return `SELECT intDiv(toUInt32(timestamp), ?) * ? AS bucket, function_name, severity_number, severity_text, count()
FROM ` + db + `.logs` + w.String() + `
GROUP BY bucket, function_name, severity_number, severity_text
ORDER BY bucket, function_name, severity_number, severity_text`, append([]any{sec, sec}, w.args...)
}
