package storage

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"go.uber.org/goleak"

	"github.com/lambdascope/lambdascope/storage/chtest"
)

func TestOpenDetectsServerAndCreatesDatabase(t *testing.T) {
	_, fresh := chtest.NewDatabase(t)
	dropConn := chtest.Conn(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	name := fresh + "_created"
	s, err := Open(t.Context(), chtest.Server().DSNFor(name))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { dropDatabase(t, dropConn, name) })

	if s.Database() != name {
		t.Errorf("Database() = %q, want %q", s.Database(), name)
	}
	var raw string
	if err := s.conn.QueryRow(t.Context(), "SELECT version()").Scan(&raw); err != nil {
		t.Fatalf("query version: %v", err)
	}
	want, err := ParseVersion(raw)
	if err != nil {
		t.Fatalf("ParseVersion(%q): %v", raw, err)
	}
	if got := s.Capabilities(); got != CapabilitiesFor(want) {
		t.Errorf("Capabilities() = %+v, want %+v", got, CapabilitiesFor(want))
	}
	var n uint64
	if err := s.conn.QueryRow(t.Context(), "SELECT count() FROM system.databases WHERE name = ?", name).Scan(&n); err != nil {
		t.Fatalf("look up database: %v", err)
	}
	if n != 1 {
		t.Errorf("database %s exists %d times after Open, want 1", name, n)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenDefaultsDatabase(t *testing.T) {
	dropConn := chtest.Conn(t)
	cfg := DefaultConfig()
	cfg.DSN = chtest.Server().DSNFor("")
	s, err := OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("OpenConfig: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		dropDatabase(t, dropConn, DefaultDatabase)
	})
	if s.Database() != DefaultDatabase {
		t.Errorf("Database() = %q, want %q", s.Database(), DefaultDatabase)
	}
}

// dropDatabase removes a database a test created outside chtest.NewDatabase.
func dropDatabase(t *testing.T, conn driver.Conn, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		t.Errorf("drop database %s: %v", name, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DSN = "clickhouse://127.0.0.1:1/db"
	if s, err := OpenConfig(t.Context(), cfg); err == nil {
		_ = s.Close()
		t.Fatal("OpenConfig to a closed port succeeded")
	}
}

// TestPing: Ping says whether ClickHouse answers on the store's
// connections.
func TestPing(t *testing.T) {
	s, px := openBehindProxy(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping with ClickHouse up: %v", err)
	}
	px.Cut()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping with ClickHouse cut off: no error")
	}
}
