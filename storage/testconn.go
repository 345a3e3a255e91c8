package storage

import (
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lambdascope/lambdascope/storage/internal/testconn"
)

// The test-data generator of storagetest writes SQL of its own through the
// store's connection, which nothing outside storage reaches but through
// this internal hook.
func init() {
	testconn.Of = func(st testconn.Store) (driver.Conn, bool) {
		s, ok := st.(*Store)
		if !ok || s == nil {
			return nil, false
		}
		return s.conn, true
	}
}
