package querybench

import (
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// connOf is a connection of the test's own to st's server, for the SQL
// the store does not offer (generating, dropping caches, counting parts).
func connOf(t testing.TB, st *storage.Store) clickhouse.Conn {
	t.Helper()
	return chtest.ConnTo(t, st.Config().DSN)
}
