// Package testconn hands storage's test packages (storagetest) the
// connection of a storage.Store, which no package outside storage reaches:
// they write generated data and wait for merges with SQL of their own.
// storage sets Of when it is loaded.
package testconn

import "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

// Store is a storage.Store, as far as this package can name it.
type Store interface{ Database() string }

// Of is the connection of st, a *storage.Store, and false for anything
// else.
var Of func(st Store) (driver.Conn, bool)
