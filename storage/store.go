package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Store is a connection pool to one ClickHouse database holding the
// Lambdascope schema. It is safe for concurrent use.
type Store struct {
	conn     driver.Conn
	cfg      Config
	database string
	cluster  string
	caps     Capabilities
	logger   *slog.Logger
	// blocks writes the spans and logs blocks (ch-go) and reads a trace's
	// spans; nil on servers with LowCardinality columns, whose spans and
	// logs go through conn like the other tables, and on a read-only
	// store whose database could not be reached on them.
	blocks *blockConns

	rejected atomic.Uint64
	// viewsAtRisk counts rows of failed cluster inserts that views may
	// miss for good (noteViewsAtRisk).
	viewsAtRisk atomic.Uint64
	// traceInvocations is trace_invocations' horizon plus one once read
	// (migration 55; 0 until known): recorded once, it never changes.
	traceInvocations atomic.Uint64

	migrateMu sync.Mutex
	closeOnce sync.Once
	closeErr  error
}

// Open connects to the server named by a native-protocol DSN whose path is
// the database (default "lambdascope"), creates the database if missing and
// detects the server's capabilities. It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg := DefaultConfig()
	cfg.DSN = dsn
	return OpenConfig(ctx, cfg)
}

// OpenReadOnly connects like Open but creates nothing: reads against a
// database that does not exist fail with ClickHouse's unknown-database
// error.
func OpenReadOnly(ctx context.Context, dsn string) (*Store, error) {
	cfg := DefaultConfig()
	cfg.DSN = dsn
	cfg.ReadOnly = true
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open with every connection setting.
func OpenConfig(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("storage config: %w", err)
	}
	opts, err := clickhouse.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("parse dsn: %w", err)
	}
	database := cfg.Database
	if database == "" {
		database = opts.Auth.Database
	}
	if database == "" {
		database = DefaultDatabase
	}
	// Sessions start in the user's default database: ours may not exist yet,
	// and every statement names its tables with the database anyway.
	opts.Auth.Database = ""
	opts.DialTimeout = cfg.DialTimeout
	tlsCfg, err := cfg.TLS.Client()
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		opts.TLS = tlsCfg
	}
	opts.MaxOpenConns = cfg.MaxOpenConns
	if opts.MaxIdleConns > opts.MaxOpenConns || opts.MaxIdleConns == 0 {
		opts.MaxIdleConns = opts.MaxOpenConns
	}

	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	caps, err := detectCapabilities(ctx, conn)
	if err != nil {
		return nil, errors.Join(err, conn.Close())
	}
	s := &Store{conn: conn, cfg: cfg, database: database, cluster: cfg.Cluster, caps: caps, logger: slog.Default().With("component", "storage")}
	if !cfg.ReadOnly {
		if err := conn.Exec(ctx, createDatabaseSQL(database, cfg.Cluster)); err != nil {
			return nil, errors.Join(fmt.Errorf("create database %s: %w", database, err), conn.Close())
		}
		// The block writer encodes every column in its plain type; where
		// the schema has LowCardinality columns the driver, which follows
		// the server's types, writes spans and logs instead.
		if !caps.LowCardinality {
			if s.blocks, err = openBlockConns(ctx, opts, database, cfg.Cluster, cfg.MaxOpenConns); err != nil {
				return nil, errors.Join(fmt.Errorf("open block writer: %w", err), conn.Close())
			}
		}
	} else if !caps.LowCardinality {
		// A read-only store reads a trace's spans on the block
		// connections too where they can be opened; where not (the
		// database does not exist yet, say), it reads them through
		// clickhouse-go, and such reads fail as they always did.
		if blocks, err := openBlockConns(ctx, opts, database, cfg.Cluster, cfg.MaxOpenConns); err == nil {
			s.blocks = blocks
		} else {
			s.logger.Debug("trace reads go through clickhouse-go: block connections not opened", "error", err)
		}
	}
	s.logger.Debug("connected to clickhouse", "version", caps.Version.String(), "database", database,
		"low_cardinality", caps.LowCardinality, "codecs", caps.Codecs, "skip_indexes", caps.SkipIndexes)
	return s, nil
}

func detectCapabilities(ctx context.Context, conn driver.Conn) (Capabilities, error) {
	var raw string
	if err := conn.QueryRow(ctx, selectVersionSQL).Scan(&raw); err != nil {
		return Capabilities{}, fmt.Errorf("query server version: %w", err)
	}
	v, err := ParseVersion(raw)
	if err != nil {
		return Capabilities{}, err
	}
	return CapabilitiesFor(v), nil
}

// Close releases the connections. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.blocks != nil {
			errs = append(errs, s.blocks.close())
		}
		errs = append(errs, s.conn.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close clickhouse: %w", err)
		}
	})
	return s.closeErr
}

// Config is the configuration the store was opened with.
func (s *Store) Config() Config { return s.cfg }

// Database is the database holding the schema.
func (s *Store) Database() string { return s.database }

// Cluster is the cluster the schema spans, "" on a single server.
func (s *Store) Cluster() string { return s.cluster }

// Capabilities is what the connected server supports.
func (s *Store) Capabilities() Capabilities { return s.caps }

// Ping checks that ClickHouse answers on the store's connections, for
// readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	return nil
}
