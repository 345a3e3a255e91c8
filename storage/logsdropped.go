package storage

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// LogsDroppedMetric is the counter the extension keeps of the log records
// Lambda reported dropped (platform.logsDropped): a cumulative sum per
// execution environment, whose start time identifies the environment.
const LogsDroppedMetric = "lambdascope.extension.lambda.logs_dropped"

// LogsDroppedRecord is how many log records Lambda dropped for one function
// over a range, before the extension could take them.
type LogsDroppedRecord struct {
	FunctionName string
	Records      uint64
	// Environments counts the execution environments that reported drops.
	Environments uint64
}

// logsDroppedSQL sums, per function, the increase of each environment's
// counter over the range: its highest value when the environment started
// in the range, else its highest minus its lowest value in the range.
func logsDroppedSQL(db string, f UsageFilter) (string, []any) {
	var w readWhere
	w.add("metric_name = ?", LogsDroppedMetric)
	w.seconds("timestamp", f.Since, f.Until)
	w.nanos("time_unix_nano", f.Since, f.Until)
	if f.FunctionName != "" {
		w.add("function_name = ?", f.FunctionName)
	}
	since := unixNano(f.Since)
	return `SELECT function_name, toUInt64(sum(increase)) AS records, countIf(increase > 0) AS environments
FROM (
    SELECT function_name, start_time_unix_nano,
        if(start_time_unix_nano >= ?, max(value), max(value) - min(value)) AS increase
    FROM ` + db + `.metric_points
    WHERE ` + w.sql() + `
    GROUP BY function_name, start_time_unix_nano)
GROUP BY function_name
HAVING records > 0
ORDER BY records DESC, function_name`, append([]any{since}, w.args...)
}

// LogsDropped reports, per function, the log records Lambda dropped over
// the range, from the extension's counter.
func (s *Store) LogsDropped(ctx context.Context, f UsageFilter) ([]LogsDroppedRecord, error) {
	if err := f.check("read dropped logs"); err != nil {
		return nil, err
	}
	query, args := logsDroppedSQL(s.database, f)
	var out []LogsDroppedRecord
	err := s.scanAll(ctx, "dropped logs", query, args, func(rows driver.Rows) error {
		var r LogsDroppedRecord
		if err := rows.Scan(&r.FunctionName, &r.Records, &r.Environments); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}
