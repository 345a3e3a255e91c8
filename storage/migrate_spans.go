package storage

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// spansLayoutVersion is the migration that gives spans the sorting key
// (hour, trace, service, start) and 1024-row granules.
const spansLayoutVersion = 17

// spansSortingKey is the sorting key of that layout, as system.tables
// writes it.
const spansSortingKey = "toStartOfHour(start_time), trace_id, service_name, start_unix_nano"

// dailyPartitionID is the ID of a toDate partition.
var dailyPartitionID = regexp.MustCompile(`^[0-9]{8}$`)

// rebuildSpans is migration 17's step after its statements, on a single
// server: 18.16 cannot change a sorting key, so spans_v17 (made by the
// statements) takes the name spans first, and only then are the rows of
// the old table, kept as spans_v1, moved in day by day. Writes that arrive
// during the move reach the new table through the name and are kept; the
// moved rows go through spans_move, which no view reads, and are attached
// by partition, so the views (trace_hours, service map, figures) do not
// count them twice. Each day is dropped from spans_v1 once attached, so a
// move cut short resumes where it stopped when the migration runs again;
// only a stop between a day's attach and its drop would copy that day
// twice. A progress line is logged per day.
func (s *Store) rebuildSpans(ctx context.Context) error {
	if s.cluster != "" {
		return nil
	}
	key, err := s.sortingKey(ctx, "spans")
	if err != nil {
		return err
	}
	if key != spansSortingKey {
		if err := s.conn.Exec(ctx, swapSpansSQL(s.database)); err != nil {
			return fmt.Errorf("swap spans for the layout of migration %d: %w", spansLayoutVersion, err)
		}
	}
	if _, err := s.sortingKey(ctx, "spans_v1"); errors.Is(err, errNoTable) {
		return s.conn.Exec(ctx, dropTableSQL(s.database, "spans_v17"))
	} else if err != nil {
		return err
	}
	if err := s.moveOldSpans(ctx); err != nil {
		return err
	}
	for _, table := range []string{"spans_move", "spans_v1", "spans_v17"} {
		if err := s.conn.Exec(ctx, dropTableSQL(s.database, table)); err != nil {
			return fmt.Errorf("drop %s after moving spans: %w", table, err)
		}
	}
	return nil
}

var errNoTable = errors.New("no such table")

// sortingKey reads a table's sorting key; errNoTable when it does not exist.
func (s *Store) sortingKey(ctx context.Context, table string) (string, error) {
	sql, args := tableSortingKeySQL(s.database, table)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return "", fmt.Errorf("read the sorting key of %s: %w", table, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return "", fmt.Errorf("read the sorting key of %s: %w", table, errNoTable)
	}
	var key string
	if err := rows.Scan(&key); err != nil {
		return "", fmt.Errorf("read the sorting key of %s: %w", table, err)
	}
	return key, rows.Err()
}

// moveOldSpans moves spans_v1 into spans one daily partition at a time.
func (s *Store) moveOldSpans(ctx context.Context) error {
	columns, err := s.strings(ctx, spansColumnsSQL)
	if err != nil {
		return fmt.Errorf("list the columns of spans: %w", err)
	}
	days, err := s.strings(ctx, func(db string) (string, []any) { return partitionIDsSQL(db, "spans_v1") })
	if err != nil {
		return fmt.Errorf("list the days of spans_v1: %w", err)
	}
	if err := s.conn.Exec(ctx, dropTableSQL(s.database, "spans_move")); err != nil {
		return fmt.Errorf("drop spans_move: %w", err)
	}
	if err := s.conn.Exec(ctx, createSpansMoveSQL(s.database)); err != nil {
		return fmt.Errorf("create spans_move: %w", err)
	}
	start := time.Now()
	for i, day := range days {
		if !dailyPartitionID.MatchString(day) {
			return fmt.Errorf("move spans: partition %q of spans_v1 is not a day", day)
		}
		n, _ := strconv.ParseUint(day, 10, 32)
		sql, args := copyPartitionSQL(s.database, columns, uint32(n))
		if err := s.conn.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("move spans of %s: copy: %w", day, err)
		}
		if err := s.conn.Exec(ctx, attachPartitionSQL(s.database), day); err != nil {
			return fmt.Errorf("move spans of %s: attach: %w", day, err)
		}
		for _, table := range []string{"spans_v1", "spans_move"} {
			if err := s.conn.Exec(ctx, dropPartitionSQL(s.database, table, ""), day); err != nil {
				return fmt.Errorf("move spans of %s: drop it from %s: %w", day, table, err)
			}
		}
		s.logger.Info("migration 17: moved a day of spans into the new layout",
			"day", day, "done", i+1, "days", len(days), "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// strings runs a query of one String column and returns its values.
func (s *Store) strings(ctx context.Context, build func(db string) (string, []any)) ([]string, error) {
	sql, args := build(s.database)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
