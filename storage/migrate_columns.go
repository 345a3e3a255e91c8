package storage

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// addColumnsStatement matches a migration's ALTER TABLE that adds columns
// without IF NOT EXISTS, as migrations render it for servers before 20.3
// (11, 13, 16, 56, 57): the database and table.
var addColumnsStatement = regexp.MustCompile(`^ALTER TABLE ([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)(?: ON CLUSTER [A-Za-z0-9_]+)?\s+ADD COLUMN `)

// addedColumn is one column an ALTER TABLE adds.
var addedColumn = regexp.MustCompile(`ADD COLUMN ([A-Za-z0-9_]+) `)

// addColumnsWait bounds how long a rerun waits for the servers that lack
// columns another server has to get them from an ALTER ... ON CLUSTER
// still in the distributed DDL queue.
const addColumnsWait = 2 * time.Minute

// execMigrationStatement runs one statement of a migration. An ALTER TABLE
// that adds columns without IF NOT EXISTS (ClickHouse before 20.3) runs
// only where the columns are missing: a migration cut short after it
// (a cluster's ALTER ... ON CLUSTER that timed out while the servers went
// on with it, a later statement that failed) is not recorded as done, and
// its rerun would fail on "column already exists" for ever. The columns
// are looked up on every shard; when each has them all the ALTER is
// skipped, otherwise it runs, and a failure is overcome when every shard
// then has them (the servers that had them refuse it; those that had not
// add them, or get them from the earlier ALTER still queued).
func (s *Store) execMigrationStatement(ctx context.Context, stmt string) error {
	m := addColumnsStatement.FindStringSubmatch(stmt)
	if m == nil || strings.Contains(stmt, "IF NOT EXISTS") {
		return s.conn.Exec(ctx, stmt)
	}
	db, table := m[1], m[2]
	var cols []string
	for _, c := range addedColumn.FindAllStringSubmatch(stmt, -1) {
		cols = append(cols, c[1])
	}
	missing, err := s.missingColumns(ctx, db, table, cols)
	if err != nil {
		return err
	}
	if missing == "" {
		s.logger.Info("schema migration: columns there already on every server; not adding them again",
			"table", db+"."+table, "columns", cols)
		return nil
	}
	execErr := s.conn.Exec(ctx, stmt)
	if execErr == nil {
		return nil
	}
	// The servers that had the columns refuse the ALTER; wait, within a
	// bound, for the others to have them.
	deadline := time.Now().Add(addColumnsWait)
	for {
		missing, err = s.missingColumns(ctx, db, table, cols)
		if err != nil {
			return fmt.Errorf("%w (then: %w)", execErr, err)
		}
		if missing == "" {
			s.logger.Info("schema migration: columns added on the servers that lacked them; the others had them already",
				"table", db+"."+table, "columns", cols, "err", execErr)
			return nil
		}
		if !strings.Contains(execErr.Error(), "already exists") || time.Now().After(deadline) {
			return fmt.Errorf("%w (%s)", execErr, missing)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%s): %w", execErr, missing, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// missingColumns says which of cols table lacks on how many shards of the
// cluster (on the server itself when there is none), or "" when every
// shard has them all.
func (s *Store) missingColumns(ctx context.Context, db, table string, cols []string) (string, error) {
	shards := uint64(1)
	if s.cluster != "" {
		if err := s.conn.QueryRow(ctx, clusterShardsSQL, s.cluster).Scan(&shards); err != nil {
			return "", fmt.Errorf("count the shards of cluster %s: %w", s.cluster, err)
		}
	}
	rows, err := s.conn.Query(ctx, presentColumnsSQL(s.cluster), db, table, cols)
	if err != nil {
		return "", fmt.Errorf("look up columns of %s.%s: %w", db, table, err)
	}
	defer rows.Close()
	have := map[string]uint64{}
	for rows.Next() {
		var (
			name string
			n    uint64
		)
		if err := rows.Scan(&name, &n); err != nil {
			return "", fmt.Errorf("look up columns of %s.%s: %w", db, table, err)
		}
		have[name] = n
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("look up columns of %s.%s: %w", db, table, err)
	}
	var missing []string
	for _, c := range cols {
		if have[c] < shards {
			missing = append(missing, fmt.Sprintf("%s on %d of %d shards", c, have[c], shards))
		}
	}
	return strings.Join(missing, ", "), nil
}
