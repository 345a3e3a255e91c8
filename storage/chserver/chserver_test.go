package chserver_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lambdascope/lambdascope/storage/chserver"
)

func TestStartAnswersQueriesAndStopRemovesData(t *testing.T) {
	t.Setenv(chserver.EnvDSN, "")
	s, err := chserver.Start(t.Context(), chserver.Options{})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	if s.External() {
		t.Fatal("server should have been started here")
	}
	if !strings.HasPrefix(s.DSN(), "clickhouse://127.0.0.1:") {
		t.Fatalf("DSN %q is not on loopback", s.DSN())
	}

	conn := connect(t, s)
	var version string
	if err := conn.QueryRow(t.Context(), "SELECT version()").Scan(&version); err != nil {
		t.Fatalf("select version: %v", err)
	}
	if version == "" {
		t.Fatal("empty server version")
	}
	t.Logf("clickhouse %s at %s", version, s.DSN())
	if err := conn.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	dir, addr := s.Dir(), s.Addr()
	start := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("stopped in %s", time.Since(start))
	if err := s.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data directory %s still exists after Stop (err=%v)", dir, err)
	}
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		_ = c.Close()
		t.Error("native port still accepts connections after Stop")
	}
}

func TestTwoServersRunSideBySide(t *testing.T) {
	t.Setenv(chserver.EnvDSN, "")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	a, err := chserver.Start(ctx, chserver.Options{})
	if err != nil {
		t.Fatalf("start first: %v", err)
	}
	t.Cleanup(func() { _ = a.Stop() })
	b, err := chserver.Start(ctx, chserver.Options{})
	if err != nil {
		t.Fatalf("start second: %v", err)
	}
	t.Cleanup(func() { _ = b.Stop() })
	if a.DSN() == b.DSN() || a.Dir() == b.Dir() {
		t.Fatalf("servers share a port or directory: %s %s / %s %s", a.DSN(), a.Dir(), b.DSN(), b.Dir())
	}
}

func TestExternalDSN(t *testing.T) {
	tests := []struct {
		name    string
		dsn     string
		wantErr bool
	}{
		{"valid", "clickhouse://10.0.0.5:9000/lambdascope", false},
		{"no host", "not a dsn", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(chserver.EnvDSN, tt.dsn)
			s, err := chserver.Start(t.Context(), chserver.Options{})
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), chserver.EnvDSN) {
					t.Fatalf("want an error naming %s, got %v", chserver.EnvDSN, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			if !s.External() || s.DSN() != tt.dsn {
				t.Fatalf("want external server with DSN %q, got external=%v dsn=%q", tt.dsn, s.External(), s.DSN())
			}
			if err := s.Stop(); err != nil {
				t.Fatalf("stop of an external server must be a no-op: %v", err)
			}
		})
	}
}

func TestDSNFor(t *testing.T) {
	t.Setenv(chserver.EnvDSN, "clickhouse://127.0.0.1:9000/default?dial_timeout=1s")
	s, err := chserver.Start(t.Context(), chserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.DSNFor("lambdascope"), "clickhouse://127.0.0.1:9000/lambdascope?dial_timeout=1s"; got != want {
		t.Fatalf("DSNFor = %q, want %q", got, want)
	}
}

// TestMergedPartsAreZstd checks that the launcher's server applies
// config.d/lambdascope-compression.xml: a fresh insert is written with LZ4,
// a merged part with zstd, read from the method byte of the first
// compressed block of a column file (after its 16-byte checksum).
func TestMergedPartsAreZstd(t *testing.T) {
	t.Setenv(chserver.EnvDSN, "")
	ctx := t.Context()
	s, err := chserver.Start(ctx, chserver.Options{})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	conn := connect(t, s)
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.Exec(ctx, "CREATE TABLE default.compressed (k UInt64, v String) ENGINE = MergeTree ORDER BY k"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	insert := func(from uint64) {
		t.Helper()
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO default.compressed (k, v)")
		if err != nil {
			t.Fatalf("prepare insert: %v", err)
		}
		for i := from; i < from+1000; i++ {
			if err := batch.Append(i, strings.Repeat("span ", int(i%7))); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	method := func() byte {
		t.Helper()
		var part string
		if err := conn.QueryRow(ctx, "SELECT name FROM system.parts WHERE database = 'default' AND table = 'compressed' AND active ORDER BY name DESC LIMIT 1").Scan(&part); err != nil {
			t.Fatalf("read part name: %v", err)
		}
		// The launcher's <path> is Dir/data/; tables live in its data/<db>/<table>.
		b, err := os.ReadFile(filepath.Join(s.Dir(), "data", "data", "default", "compressed", part, "v.bin"))
		if err != nil {
			t.Fatalf("read column file: %v", err)
		}
		if len(b) < 17 {
			t.Fatalf("column file of part %s has %d bytes", part, len(b))
		}
		return b[16]
	}
	const lz4, zstd = 0x82, 0x90
	insert(0)
	if got := method(); got != lz4 {
		t.Errorf("fresh part compressed with method %#x, want LZ4 (%#x)", got, lz4)
	}
	insert(1000)
	if err := conn.Exec(ctx, "OPTIMIZE TABLE default.compressed FINAL"); err != nil {
		t.Fatalf("optimize: %v", err)
	}
	if got := method(); got != zstd {
		t.Errorf("merged part compressed with method %#x, want zstd (%#x)", got, zstd)
	}
}

// connect opens a native-protocol connection to s.
func connect(t *testing.T, s *chserver.Server) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(s.DSN())
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return conn
}
