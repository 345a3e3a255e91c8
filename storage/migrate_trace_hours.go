package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// traceHoursByMonthVersion is the migration that partitions trace_hours
// by month.
const traceHoursByMonthVersion = 46

// traceHoursMonthKey is the partition key of trace_hours from that
// migration on, as system.tables writes it.
const traceHoursMonthKey = "toYYYYMM(hour)"

// rebuildTraceHours is migration 46's step after its statements, on a
// single server: trace_hours_v46 (made by the statements, partitioned by
// month) takes the name trace_hours first, so that its view writes the
// hours of new spans into it, and the old table, kept as trace_hours_v17,
// is then copied in one weekly partition at a time, each dropped once
// copied, and each month merged into one part. A copy cut short resumes at the week it stopped in when the
// migration runs again; a week copied twice is folded by
// ReplacingMergeTree, and a lookup reads the hours as a set meanwhile. A
// progress line is logged per week.
func (s *Store) rebuildTraceHours(ctx context.Context) error {
	if s.cluster != "" {
		return nil
	}
	key, err := s.partitionKey(ctx, "trace_hours")
	if err != nil {
		return err
	}
	if key != traceHoursMonthKey {
		if err := s.conn.Exec(ctx, swapTraceHoursSQL(s.database)); err != nil {
			return fmt.Errorf("swap trace_hours for the one partitioned by month: %w", err)
		}
	}
	if _, err := s.partitionKey(ctx, "trace_hours_v17"); err == nil {
		if err := s.copyOldTraceHours(ctx); err != nil {
			return err
		}
		if err := s.mergeTraceHours(ctx); err != nil {
			return err
		}
	} else if !errors.Is(err, errNoTable) {
		return err
	}
	for _, table := range []string{"trace_hours_v17", "trace_hours_v46"} {
		if err := s.conn.Exec(ctx, dropTableSQL(s.database, table)); err != nil {
			return fmt.Errorf("drop %s after partitioning trace_hours by month: %w", table, err)
		}
	}
	return nil
}

// copyOldTraceHours copies trace_hours_v17 into trace_hours one week at a
// time, dropping each week from trace_hours_v17 once copied.
func (s *Store) copyOldTraceHours(ctx context.Context) error {
	weeks, err := s.strings(ctx, func(db string) (string, []any) { return partitionIDsSQL(db, "trace_hours_v17") })
	if err != nil {
		return fmt.Errorf("list the weeks of trace_hours_v17: %w", err)
	}
	start := time.Now()
	for i, week := range weeks {
		monday, err := time.Parse("20060102", week)
		if err != nil {
			return fmt.Errorf("copy trace_hours: partition %q of trace_hours_v17 is not a week", week)
		}
		sql, args := copyTraceHoursWeekSQL(s.database, monday)
		if err := s.execRewrite(ctx, sql, args...); err != nil {
			return fmt.Errorf("copy trace_hours of the week of %s: %w", week, err)
		}
		if err := s.conn.Exec(ctx, dropPartitionSQL(s.database, "trace_hours_v17", ""), week); err != nil {
			return fmt.Errorf("copy trace_hours of the week of %s: drop it from trace_hours_v17: %w", week, err)
		}
		s.logger.Info("migration 46: copied a week of trace_hours into its monthly partitions",
			"week", week, "done", i+1, "weeks", len(weeks), "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// mergeTraceHours merges each month of trace_hours into one part, once
// the weeks are copied: the copy leaves a part per week, and a lookup
// opens every part; the background merges, which choose parts of about
// one size, would leave a month that gets no more rows in several.
func (s *Store) mergeTraceHours(ctx context.Context) error {
	months, err := s.strings(ctx, func(db string) (string, []any) { return partitionIDsSQL(db, "trace_hours") })
	if err != nil {
		return fmt.Errorf("list the months of trace_hours: %w", err)
	}
	for _, month := range months {
		start := time.Now()
		if err := s.execRewrite(ctx, optimizePartitionSQL(s.database, "trace_hours"), month); err != nil {
			return fmt.Errorf("merge the month %s of trace_hours: %w", month, err)
		}
		s.logger.Info("migration 46: merged a month of trace_hours", "month", month, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// rewriteTimeout bounds one statement that rewrites a partition's rows
// (a week's copy, a month's merge). The server sends nothing while such a
// statement runs, so the client's read timeout (5 minutes by default)
// would end the merge of a large month half-way, and the migration would
// start it again at the next start-up, no further on.
const rewriteTimeout = 12 * time.Hour

// execRewrite runs a statement that rewrites a partition's rows, waiting
// up to rewriteTimeout (or ctx's earlier deadline) instead of the read
// timeout: a deadline of the context takes the place of the read timeout
// for the query.
func (s *Store) execRewrite(ctx context.Context, query string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, rewriteTimeout)
	defer cancel()
	return s.conn.Exec(ctx, query, args...)
}

// partitionKey reads a table's partition key; errNoTable when it does not
// exist.
func (s *Store) partitionKey(ctx context.Context, table string) (string, error) {
	keys, err := s.strings(ctx, func(db string) (string, []any) { return tablePartitionKeySQL(db, table) })
	if err != nil {
		return "", fmt.Errorf("read the partition key of %s: %w", table, err)
	}
	if len(keys) == 0 {
		return "", fmt.Errorf("read the partition key of %s: %w", table, errNoTable)
	}
	return keys[0], nil
}
