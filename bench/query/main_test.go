package querybench

import (
	"net/url"
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
	return chtest.ConnTo(t, withReadTimeout(st.Config().DSN))
}

// withReadTimeout gives dsn an hour's read timeout unless it names one:
// the bulk generator's INSERT … SELECT of a million rows answers only once
// they are written, which on a loaded machine outlasts clickhouse-go's
// default and failed the generation of the 100 M set.
func withReadTimeout(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn // ConnTo reports it
	}
	q := u.Query()
	if q.Get("read_timeout") == "" {
		q.Set("read_timeout", "1h")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// withSetting gives dsn a setting the server applies to each of its
// queries; a DSN that does not parse is left as it is, for the store to
// report.
func withSetting(dsn, name, value string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}
