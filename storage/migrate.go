package storage

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationName is NNNN_description.sql; NNNN is the version.
var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// migration is one schema version, rendered for one server.
type migration struct {
	Version    uint32
	Name       string
	Statements []string
}

// migrationSteps are the parts of a migration that SQL alone cannot do,
// run after its statements; each can run again after a stop part-way.
var migrationSteps = map[uint32]func(*Store, context.Context) error{
	spansLayoutVersion:       (*Store).rebuildSpans,
	traceHoursByMonthVersion: (*Store).rebuildTraceHours,
}

// templateData is what migration templates see.
type templateData struct {
	Database     string
	Capabilities Capabilities
	// Cluster is the ClickHouse cluster the schema spans; empty on a
	// single server.
	Cluster string
}

// localSuffix names the per-shard table behind a Distributed table in
// cluster mode.
const localSuffix = "_local"

func templateFuncs(db string, caps Capabilities, cluster string) template.FuncMap {
	return template.FuncMap{
		// lc wraps a type in LowCardinality where the server has it.
		"lc": func(typ string) string {
			if caps.LowCardinality {
				return "LowCardinality(" + typ + ")"
			}
			return typ
		},
		// codec appends a column codec where the server has codecs.
		"codec": func(spec string) string {
			if caps.Codecs {
				return " CODEC(" + spec + ")"
			}
			return ""
		},
		// local is the qualified name of the table that holds a table's
		// rows on this server: the table itself, or its _local shard table
		// in cluster mode.
		"local": func(table string) string {
			if cluster != "" {
				return db + "." + table + localSuffix
			}
			return db + "." + table
		},
		// onCluster makes DDL run on every server of the cluster.
		"onCluster": func() string {
			if cluster != "" {
				return " ON CLUSTER " + cluster
			}
			return ""
		},
		// engine is a MergeTree-family engine, replicated in cluster mode
		// with the conventional {shard}/{replica} macros.
		"engine": func(family, table string) string {
			if cluster != "" {
				return "Replicated" + family + "('/clickhouse/tables/{shard}/" + db + "/" + table + localSuffix + "', '{replica}')"
			}
			return family + "()"
		},
		// distributed renders, in cluster mode only, the Distributed table
		// that readers and writers use under the table's plain name.
		"distributed": func(table, shardingKey string) string {
			if cluster == "" {
				return ""
			}
			return createDistributedSQL(db, table, cluster, shardingKey)
		},
	}
}

// renderMigrations renders every embedded migration for one database and
// server, ordered by version.
func renderMigrations(database string, caps Capabilities, cluster string) ([]migration, error) {
	if !identifierPattern.MatchString(database) {
		return nil, fmt.Errorf("render migrations: database %q must match %s", database, identifierPattern)
	}
	if cluster != "" && !identifierPattern.MatchString(cluster) {
		return nil, fmt.Errorf("render migrations: cluster %q must match %s", cluster, identifierPattern)
	}
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_description.sql", e.Name())
		}
		version, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil || version == 0 {
			return nil, fmt.Errorf("migration file %s: version must be a positive number", e.Name())
		}
		src, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		tmpl, err := template.New(e.Name()).Funcs(templateFuncs(database, caps, cluster)).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("parse migration %s: %w", e.Name(), err)
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, templateData{Database: database, Capabilities: caps, Cluster: cluster}); err != nil {
			return nil, fmt.Errorf("render migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{Version: uint32(version), Name: m[2], Statements: splitStatements(b.String())})
	}
	slices.SortFunc(out, func(a, b migration) int { return int(a.Version) - int(b.Version) })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// splitStatements cuts a rendered file into statements at lines ending in
// ";" and drops comment lines and blank statements: the server runs one
// statement per query.
func splitStatements(sql string) []string {
	var (
		out []string
		cur []string
	)
	flush := func() {
		stmt := strings.TrimSpace(strings.Join(cur, "\n"))
		cur = cur[:0]
		if stmt != "" {
			out = append(out, stmt)
		}
	}
	for line := range strings.SplitSeq(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		if strings.HasSuffix(trimmed, ";") {
			cur = append(cur, strings.TrimSuffix(strings.TrimRight(line, " \t"), ";"))
			flush()
			continue
		}
		cur = append(cur, strings.TrimRight(line, " \t"))
	}
	flush()
	return out
}

// LatestVersion is the schema version Migrate brings a database to.
func LatestVersion() uint32 {
	ms, err := renderMigrations(DefaultDatabase, Capabilities{}, "")
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// Migrate applies every migration the database has not recorded in
// schema_migrations, in version order, and records each one. Running it
// again is a no-op. Statements are idempotent (IF NOT EXISTS; on servers
// without it for ADD COLUMN, execMigrationStatement adds only missing
// columns), so two processes migrating at once end in the same schema,
// and a migration cut short runs again.
func (s *Store) Migrate(ctx context.Context) error {
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()

	ms, err := renderMigrations(s.database, s.caps, s.cluster)
	if err != nil {
		return err
	}
	if err := s.conn.Exec(ctx, createMigrationsTableSQL(s.database)); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := s.appliedVersions(ctx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		for i, stmt := range m.Statements {
			if err := s.execMigrationStatement(ctx, stmt); err != nil {
				return fmt.Errorf("apply migration %d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if step := migrationSteps[m.Version]; step != nil {
			if err := step(s, ctx); err != nil {
				return fmt.Errorf("apply migration %d_%s: %w", m.Version, m.Name, err)
			}
		}
		if err := s.recordMigration(ctx, m); err != nil {
			return err
		}
		s.logger.Info("applied schema migration", "version", m.Version, "name", m.Name, "database", s.database)
	}
	return nil
}

// recordMigration inserts the version row. It goes through a prepared
// batch: 18.16 does not answer an INSERT ... VALUES sent as a plain query by
// the native driver.
func (s *Store) recordMigration(ctx context.Context, m migration) error {
	batch, err := s.conn.PrepareBatch(ctx, insertMigrationSQL(s.database))
	if err != nil {
		return fmt.Errorf("prepare record of migration %d_%s: %w", m.Version, m.Name, err)
	}
	if err := batch.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
		return errors.Join(fmt.Errorf("append record of migration %d_%s: %w", m.Version, m.Name, err), batch.Abort())
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("record migration %d_%s: %w", m.Version, m.Name, err)
	}
	return nil
}

// SchemaVersion is the highest migration recorded in the database, 0 when
// none is.
func (s *Store) SchemaVersion(ctx context.Context) (uint32, error) {
	applied, err := s.appliedVersions(ctx)
	if err != nil {
		return 0, err
	}
	var latest uint32
	for v := range applied {
		latest = max(latest, v)
	}
	return latest, nil
}

func (s *Store) appliedVersions(ctx context.Context) (map[uint32]bool, error) {
	var exists uint64
	if err := s.conn.QueryRow(ctx, migrationsTableExistsSQL, s.database).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look up schema_migrations: %w", err)
	}
	applied := map[uint32]bool{}
	if exists == 0 {
		return applied, nil
	}
	rows, err := s.conn.Query(ctx, selectMigrationsSQL(s.database))
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("scan schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}
