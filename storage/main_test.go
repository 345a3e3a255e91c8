package storage

import (
	"testing"

	"github.com/lambdascope/lambdascope/storage/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// openStore opens a migrated store on a fresh database, closed at cleanup.
func openStore(t testing.TB) *Store {
	t.Helper()
	dsn, _ := chtest.NewDatabase(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// openBehindProxy opens a store of a fresh database through a proxy that
// the test cuts or drops, closed when the test ends; it does not migrate.
func openBehindProxy(t *testing.T) (*Store, *chtest.Proxy) {
	t.Helper()
	_, db := chtest.NewDatabase(t)
	px := chtest.NewProxy(t, chtest.Server().Addr())
	s, err := Open(t.Context(), "clickhouse://"+px.Addr()+"/"+db)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, px
}
