package storage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// dayPartitionID is the partition ID of a table partitioned by
// toDate(...): YYYYMMDD; monthPartitionID by toYYYYMM(...): YYYYMM.
var (
	dayPartitionID   = regexp.MustCompile(`^\d{8}$`)
	monthPartitionID = regexp.MustCompile(`^\d{6}$`)
)

// DroppedPartition is one partition of one table removed by DropBefore:
// a day, for a table in weeklyTables the week that starts on Day, or one
// month (Month) of a table partitioned by month (cost_hours,
// streaming_hours, trace_hours from migration 46), from Day.
type DroppedPartition struct {
	Table string
	Day   time.Time
	Month bool
}

// partitionID is the partition's ID as ClickHouse names it.
func (p DroppedPartition) partitionID() string {
	if p.Month {
		return p.Day.Format("200601")
	}
	return p.Day.Format("20060102")
}

// retainedTables are the tables, partitioned by day (cost_hours,
// streaming_hours, completeness_hours and trace_hours by month, weeklyTables by week), that
// retention applies to. trace_index
// holds only traces stored before migration 7 (its view is gone since
// migration 15), and trace_windows only those stored before migration 17,
// so their old days still go.
var retainedTables = []string{
	"spans", "logs", "invocations", "metric_points", "trace_index", "usage_daily",
	"trace_windows", "function_figures", "usage_hourly", "service_map_minutes",
	"service_map_hours", "span_links", "ingest_losses", "trace_hours", "cost_hours",
	"streaming_hours", "completeness_hours",
}

// partitionFollowers are, per table, the tables whose partitions go and
// merge with the table's, on a single server, and are named nowhere:
// trace_invocations (migration 55) holds what a trace view shows of
// invocations, partitioned by the same days, and is kept as long.
var partitionFollowers = map[string][]string{"invocations": {"trace_invocations"}}

// followPartition runs sql, a statement on the partition ID id, on the
// tables following table (partitionFollowers); a follower the database
// does not have yet (before its migration) is skipped.
func (s *Store) followPartition(ctx context.Context, table string, sql func(follower string) string, id string) error {
	if s.cluster != "" {
		return nil
	}
	for _, f := range partitionFollowers[table] {
		if err := s.execRewrite(ctx, sql(f), id); err != nil && !IsUnknownTable(err) {
			return fmt.Errorf("partition %s of %s, which follows %s: %w", id, f, table, err)
		}
	}
	return nil
}

// weeklyTables are the retained tables that may be partitioned by
// toMonday(...): a partition's ID is the date of its Monday, and the
// partition goes when the last of its seven days does. trace_hours is,
// on a cluster and on a database before migration 46; its monthly
// partitions are told from the weekly ones by their IDs.
var weeklyTables = map[string]bool{"trace_hours": true}

// DropBefore removes, from every table in retainedTables, every daily
// partition whose whole day lies before cutoff (UTC). Dropping partitions is
// how retention works on every server version, TTL or not.
//
// In cluster mode it lists the partitions of this server's _local tables
// and drops each ON CLUSTER, so every shard loses the same days; a day that
// only other shards hold is dropped by a later run against one of them.
func (s *Store) DropBefore(ctx context.Context, cutoff time.Time) ([]DroppedPartition, error) {
	victims, err := s.partitionsBefore(ctx, func(string) (time.Time, bool) { return cutoff, true })
	if err != nil {
		return nil, err
	}
	return s.dropPartitions(ctx, victims)
}

// Expired lists the daily partitions retention r would drop at now,
// dropping nothing: a table's days that lie wholly before now minus its
// days go. Table names are as retention names them (without _local).
func (s *Store) Expired(ctx context.Context, r Retention, now time.Time) ([]DroppedPartition, error) {
	victims, err := s.expired(ctx, r, now)
	return retentionNames(victims), err
}

// DropExpired drops the daily partitions Expired lists, and returns those
// it dropped (also when it stops at an error).
func (s *Store) DropExpired(ctx context.Context, r Retention, now time.Time) ([]DroppedPartition, error) {
	victims, err := s.expired(ctx, r, now)
	if err != nil {
		return nil, err
	}
	dropped, err := s.dropPartitions(ctx, victims)
	return retentionNames(dropped), err
}

// expired is Expired with the tables named as stored.
func (s *Store) expired(ctx context.Context, r Retention, now time.Time) ([]DroppedPartition, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return s.partitionsBefore(ctx, r.cutoffs(now))
}

// retentionNames names ps's tables as retention does, without _local.
func retentionNames(ps []DroppedPartition) []DroppedPartition {
	for i := range ps {
		ps[i].Table = strings.TrimSuffix(ps[i].Table, localSuffix)
	}
	return ps
}

// partitionsBefore lists the daily partitions of the retained tables whose
// whole day lies before their table's cutoff; cutoff says false for a
// table kept whole. Tables are named as stored (with _local on a cluster).
func (s *Store) partitionsBefore(ctx context.Context, cutoff func(table string) (time.Time, bool)) ([]DroppedPartition, error) {
	tables := make([]string, len(retainedTables))
	for i, t := range retainedTables {
		tables[i] = t
		if s.cluster != "" {
			tables[i] = t + localSuffix
		}
	}
	rows, err := s.conn.Query(ctx, selectPartitionsSQL, s.database, inList(tables))
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	defer rows.Close()
	var victims []DroppedPartition
	for rows.Next() {
		var table, id string
		if err := rows.Scan(&table, &id); err != nil {
			return nil, fmt.Errorf("scan partition: %w", err)
		}
		month := monthPartitionID.MatchString(id)
		if !month && !dayPartitionID.MatchString(id) {
			continue
		}
		name := strings.TrimSuffix(table, localSuffix)
		c, ok := cutoff(name)
		if !ok {
			continue
		}
		// A partition goes when its whole day, week or month lies before
		// the cutoff's day.
		var day, end time.Time
		switch {
		case month:
			day, err = time.Parse("200601", id)
			end = day.AddDate(0, 1, 0)
		case weeklyTables[name]:
			day, err = time.Parse("20060102", id)
			end = day.AddDate(0, 0, 7)
		default:
			day, err = time.Parse("20060102", id)
			end = day.AddDate(0, 0, 1)
		}
		if err != nil || end.After(c.UTC().Truncate(24*time.Hour)) {
			continue
		}
		victims = append(victims, DroppedPartition{Table: table, Day: day, Month: month})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	return victims, nil
}

// end is the end of the partition's day, week or month: every row of it
// lies before.
func (p DroppedPartition) end() time.Time {
	switch {
	case p.Month:
		return p.Day.AddDate(0, 1, 0)
	case weeklyTables[strings.TrimSuffix(p.Table, localSuffix)]:
		return p.Day.AddDate(0, 0, 7)
	default:
		return p.Day.AddDate(0, 0, 1)
	}
}

// dropPartitions drops victims one by one and returns those dropped. It
// first records, per table, the end of the latest partition it drops in
// retention_cutoffs (migration 54), so that a report comparing tables
// knows from when each is whole: a drop that fails leaves a cutoff that
// errs on the late side, never one that says rows are kept that are gone.
func (s *Store) dropPartitions(ctx context.Context, victims []DroppedPartition) ([]DroppedPartition, error) {
	if err := s.recordCutoffs(ctx, victims); err != nil {
		return nil, err
	}
	for i, v := range victims {
		if !identifierPattern.MatchString(v.Table) {
			return victims[:i], fmt.Errorf("drop partition: table name %q is not an identifier", v.Table)
		}
		id := v.partitionID()
		if err := s.conn.Exec(ctx, dropPartitionSQL(s.database, v.Table, s.cluster), id); err != nil {
			return victims[:i], fmt.Errorf("drop partition %s of %s: %w", id, v.Table, err)
		}
		if err := s.followPartition(ctx, v.Table, func(f string) string { return dropPartitionSQL(s.database, f, s.cluster) }, id); err != nil {
			return victims[:i], fmt.Errorf("drop partition: %w", err)
		}
		s.logger.Info("dropped partition", "table", v.Table, "partition", id, "database", s.database)
	}
	return victims, nil
}

// RetentionCutoff says that retention dropped every row of Table before
// DroppedBefore.
type RetentionCutoff struct {
	Table         string
	DroppedBefore time.Time
}

// recordCutoffs writes, per table of victims (named without _local), the
// end of its latest partition among them.
func (s *Store) recordCutoffs(ctx context.Context, victims []DroppedPartition) error {
	latest := map[string]time.Time{}
	for _, v := range victims {
		name := strings.TrimSuffix(v.Table, localSuffix)
		if e := v.end(); e.After(latest[name]) {
			latest[name] = e
		}
	}
	cutoffs := make([]RetentionCutoff, 0, len(latest))
	for _, t := range slices.Sorted(maps.Keys(latest)) {
		cutoffs = append(cutoffs, RetentionCutoff{Table: t, DroppedBefore: latest[t]})
	}
	err := insertRows(ctx, s, "retention_cutoffs", []string{"table_name", "dropped_before"}, cutoffs, func(c *RetentionCutoff) []any {
		return []any{c.Table, c.DroppedBefore}
	})
	if err != nil {
		return fmt.Errorf("record what retention drops: %w", err)
	}
	return nil
}

// RetentionCutoffs reads, for each of tables that retention dropped rows
// from, the latest time before which it dropped every row, in the order of
// tables; a table retention never dropped from is left out (as every table
// on a database before migration 54).
func (s *Store) RetentionCutoffs(ctx context.Context, tables []string) ([]RetentionCutoff, error) {
	query, args := retentionCutoffsSQL(s.database, tables)
	latest := map[string]time.Time{}
	err := s.scanAll(ctx, "retention cutoffs", query, args, func(rows driver.Rows) error {
		var c RetentionCutoff
		if err := rows.Scan(&c.Table, &c.DroppedBefore); err != nil {
			return err
		}
		latest[c.Table] = c.DroppedBefore.UTC()
		return nil
	})
	if IsUnknownTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []RetentionCutoff
	for _, t := range tables {
		if c, ok := latest[t]; ok {
			out = append(out, RetentionCutoff{Table: t, DroppedBefore: c})
		}
	}
	return out, nil
}

// RetentionDefault is the Retention key naming every retained table that
// is not named on its own.
const RetentionDefault = "default"

// Retention says how many days of data each table keeps (the key
// retention_days): {default: 30, spans: 7} keeps a week of spans and a
// month of the rest. A table neither named nor covered by default is kept
// whole. Today's partition is never dropped: a table keeping N days keeps
// the N days before today too.
type Retention map[string]int

// RetainedTables lists the tables retention applies to, each partitioned
// by day.
func RetainedTables() []string { return slices.Clone(retainedTables) }

// ParseRetention reads "default=30,spans=7" (spaces allowed) into a
// Retention; an empty string is an empty Retention. It does not validate.
func ParseRetention(s string) (Retention, error) {
	r := Retention{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		table, days, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("retention %q must be table=days", item)
		}
		n, err := strconv.Atoi(strings.TrimSpace(days))
		if err != nil {
			return nil, fmt.Errorf("retention %q: days must be a whole number", item)
		}
		r[strings.TrimSpace(table)] = n
	}
	return r, nil
}

// Validate names every bad key: each must be default or a retained table,
// and keep at least one day.
func (r Retention) Validate() error {
	var errs []error
	keys := slices.Sorted(maps.Keys(r))
	for _, k := range keys {
		if k != RetentionDefault && !slices.Contains(retainedTables, k) {
			errs = append(errs, fmt.Errorf("retention_days.%s: no such table (want %s or one of %s)", k, RetentionDefault, strings.Join(retainedTables, ", ")))
			continue
		}
		if r[k] < 1 {
			errs = append(errs, fmt.Errorf("retention_days.%s must be at least 1 (days), got %d", k, r[k]))
		}
	}
	return errors.Join(errs...)
}

// Days returns how many days table keeps, or false when it is kept whole.
func (r Retention) Days(table string) (int, bool) {
	if d, ok := r[table]; ok {
		return d, true
	}
	d, ok := r[RetentionDefault]
	return d, ok
}

// cutoffs is the cutoff of each table at now.
func (r Retention) cutoffs(now time.Time) func(string) (time.Time, bool) {
	return func(table string) (time.Time, bool) {
		d, ok := r.Days(table)
		if !ok {
			return time.Time{}, false
		}
		return now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -d), true
	}
}
