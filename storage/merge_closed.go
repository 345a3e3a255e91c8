package storage

import (
	"context"
	"fmt"
	"time"
)

// ClosedPartitionSettle is how long after its day (or month) ends a
// partition counts as closed for MergeClosed: invocation reports arrive
// after the invocation ends, and an extension that was frozen ships its
// batch at the function's next invocation.
const ClosedPartitionSettle = 6 * time.Hour

// mergedTables are the tables MergeClosed folds, each closed partition
// into one part: those a trace read opens in every part that may hold the
// trace. A trace's invocations are read in every part of their days
// holding the functions and hours of its spans (31 columns, 62 files a
// part); trace_hours is looked up by key alone, in every part of every
// partition. Background merges pick parts of about one size, and leave a
// day that gets no more rows in two or more parts: the bulk generator's
// days of invocations stay in two, one per function of the pair, and a
// cold trace read opens about 130 invocation files where one part would
// take about 65. spans
// is left out: its days are the largest, and a trace read opens only
// the parts holding the trace's spans.
var mergedTables = []string{"invocations", "trace_hours"}

// MergedPartition is one closed partition MergeClosed folded into one
// part: a day, a week (trace_hours on a cluster or before migration 46)
// or a month (trace_hours from migration 46), from Day.
type MergedPartition struct {
	Table string
	Day   time.Time
	Parts uint64
	Took  time.Duration
}

// MergeClosed merges each partition of mergedTables whose day (week,
// month) ended at least ClosedPartitionSettle before now and lies in more than one
// part into one part (OPTIMIZE ... FINAL): a closed partition gets rows
// rarely, so it stays merged, and a cold read of a trace opens one part
// of each of its days instead of several. It is maintenance to run
// periodically, as retention is: each partition is rewritten once after
// it closes, and again only when late rows made it two parts. A merge may
// run long on a large day: it waits up to rewriteTimeout, not the read
// timeout, and returns what it merged also when it stops at an error. On
// a cluster it merges nothing (OPTIMIZE reaches one replica of one shard).
func (s *Store) MergeClosed(ctx context.Context, now time.Time) ([]MergedPartition, error) {
	if s.cluster != "" {
		return nil, nil
	}
	var merged []MergedPartition
	for _, table := range mergedTables {
		query, args := partsPerPartitionSQL(s.database, table)
		rows, err := s.conn.Query(ctx, query, args...)
		if err != nil {
			return merged, fmt.Errorf("merge closed partitions of %s: list them: %w", table, err)
		}
		type partition struct {
			id    string
			parts uint64
		}
		var todo []partition
		for rows.Next() {
			var p partition
			if err := rows.Scan(&p.id, &p.parts); err != nil {
				rows.Close()
				return merged, fmt.Errorf("merge closed partitions of %s: %w", table, err)
			}
			todo = append(todo, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return merged, fmt.Errorf("merge closed partitions of %s: list them: %w", table, err)
		}
		for _, p := range todo {
			start, end, ok := partitionSpan(table, p.id)
			if !ok {
				s.logger.Warn("merge closed partitions: partition ID is not a day, week or month: left as it is",
					"table", table, "partition", p.id)
				continue
			}
			if end.Add(ClosedPartitionSettle).After(now) {
				continue
			}
			t0 := time.Now()
			if err := s.execRewrite(ctx, optimizePartitionSQL(s.database, table), p.id); err != nil {
				return merged, fmt.Errorf("merge the closed partition %s of %s: %w", p.id, table, err)
			}
			if err := s.followPartition(ctx, table, func(f string) string { return optimizePartitionSQL(s.database, f) }, p.id); err != nil {
				return merged, fmt.Errorf("merge the closed partition %s of %s: %w", p.id, table, err)
			}
			m := MergedPartition{Table: table, Day: start, Parts: p.parts, Took: time.Since(t0)}
			merged = append(merged, m)
			s.logger.Info("merged a closed partition into one part", "table", table, "partition", p.id,
				"parts", p.parts, "elapsed", m.Took.Round(time.Millisecond))
		}
	}
	return merged, nil
}

// partitionSpan is the time a partition ID of table covers: a day
// (toDate, YYYYMMDD), a week (toMonday, the Monday's YYYYMMDD, for a table
// of weeklyTables: trace_hours before migration 46) or a month (toYYYYMM,
// YYYYMM).
func partitionSpan(table, id string) (start, end time.Time, ok bool) {
	switch {
	case monthPartitionID.MatchString(id):
		m, err := time.Parse("200601", id)
		if err != nil {
			return time.Time{}, time.Time{}, false
		}
		return m, m.AddDate(0, 1, 0), true
	case dayPartitionID.MatchString(id):
		d, err := time.Parse("20060102", id)
		if err != nil {
			return time.Time{}, time.Time{}, false
		}
		if weeklyTables[table] {
			return d, d.AddDate(0, 0, 7), true
		}
		return d, d.AddDate(0, 0, 1), true
	}
	return time.Time{}, time.Time{}, false
}
