package querytest

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lambdascope/lambdascope/storage"
)

// openConn opens a connection of the generator's own to the server of st,
// with the configuration st was opened with: the generator writes with
// INSERT ... SELECT, which storage does not offer, and the store has no
// door to its connections. Sessions start in the user's default database;
// tables are named with st.Database(). The caller closes it.
func openConn(ctx context.Context, st *storage.Store) (driver.Conn, error) {
	cfg := st.Config()
	opts, err := clickhouse.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("parse dsn: %w", err)
	}
	opts.Auth.Database = ""
	tlsCfg, err := cfg.TLS.Client()
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		opts.TLS = tlsCfg
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("ping clickhouse: %w", err)
	}
	return conn, nil
}
