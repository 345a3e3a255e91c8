package storage

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// dayPartitionID is the partition ID of a table partitioned by
// toDate(...): YYYYMMDD.
var dayPartitionID = regexp.MustCompile(`^\d{8}$`)

// DroppedPartition is one day of one table removed by DropBefore.
type DroppedPartition struct {
	Table string
	Day   time.Time
}

// retainedTables are the tables, all partitioned by day, that retention
// applies to. trace_index holds only traces stored before migration 7 (its
// view is gone since migration 15), so its old days still go.
var retainedTables = []string{
	"spans", "logs", "invocations", "metric_points", "trace_index", "usage_daily",
	"trace_windows", "function_figures", "usage_hourly", "service_map_minutes",
	"service_map_hours", "span_links", "ingest_losses",
}

// DropBefore removes, from every table in retainedTables, every daily
// partition whose whole day lies before cutoff (UTC). Dropping partitions is
// how retention works on every server version, TTL or not.
//
// In cluster mode it lists the partitions of this server's _local tables
// and drops each ON CLUSTER, so every shard loses the same days; a day that
// only other shards hold is dropped by a later run against one of them.
func (s *Store) DropBefore(ctx context.Context, cutoff time.Time) ([]DroppedPartition, error) {
	cutoffDay := cutoff.UTC().Truncate(24 * time.Hour)
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
	var victims []DroppedPartition
	var ids []string
	for rows.Next() {
		var table, id string
		if err := rows.Scan(&table, &id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan partition: %w", err)
		}
		if !dayPartitionID.MatchString(id) {
			continue
		}
		day, err := time.Parse("20060102", id)
		if err != nil || !day.Before(cutoffDay) {
			continue
		}
		victims = append(victims, DroppedPartition{Table: table, Day: day})
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	for i, v := range victims {
		if !identifierPattern.MatchString(v.Table) {
			return victims[:i], fmt.Errorf("drop partition: table name %q is not an identifier", v.Table)
		}
		if err := s.conn.Exec(ctx, dropPartitionSQL(s.database, v.Table, s.cluster), ids[i]); err != nil {
			return victims[:i], fmt.Errorf("drop partition %s of %s: %w", ids[i], v.Table, err)
		}
		s.logger.Info("dropped partition", "table", v.Table, "day", ids[i], "database", s.database)
	}
	return victims, nil
}
