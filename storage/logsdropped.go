package storage

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// LogsDroppedRecord is how many log records Lambda dropped for one function
// over a range, before the extension could take them.
type LogsDroppedRecord struct {
	FunctionName string
	Records      uint64
	// Environments counts the execution environments that reported drops.
	Environments uint64
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
