package storage

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// viewHorizon is the horizon recorded for view; ok is false when none is
// (a schema older than migration 8, or another server of a cluster).
func (s *Store) viewHorizon(ctx context.Context, view string) (horizon uint64, ok bool, err error) {
	query, args := viewHorizonSQL(s.database, view)
	var n uint64
	err = s.conn.QueryRow(ctx, query, args...).Scan(&horizon, &n)
	if IsUnknownTable(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, readErr("read view horizon", err)
	}
	return horizon, n > 0, nil
}

// scanAll runs query and calls scan for each row.
func (s *Store) scanAll(ctx context.Context, what, query string, args []any, scan func(driver.Rows) error) error {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return readErr("query "+what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return readErr("scan "+what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return readErr("read "+what, err)
	}
	return nil
}

func quantileAt(q []float64, i int) float64 {
	if i < 0 || i >= len(q) || q[i] != q[i] {
		return 0
	}
	return q[i]
}

func readErr(action string, err error) error { return fmt.Errorf("%s: %w", action, err) }
