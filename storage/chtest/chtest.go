// Package chtest gives tests a real ClickHouse: one throwaway server per
// test package, started from TestMain, and a fresh database per test.
//
// A package whose tests need ClickHouse fails when none can be had; it never
// passes by skipping. NewTLSFront puts the server behind TLS with a
// certificate authority made up by internal/testca, as a secure native
// port would be;
// NewProxy puts a proxy in front of it that cuts, drops or mutes
// connections on demand, for fault tests.
package chtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lambdascope/lambdascope/internal/testload"
	"github.com/lambdascope/lambdascope/storage/chserver"
)

var (
	server  *chserver.Server
	counter atomic.Int64
)

// Main starts one server for the package (or uses
// LAMBDASCOPE_CLICKHOUSE_DSN), runs the tests and stops it. Call it from
// TestMain: func TestMain(m *testing.M) { chtest.Main(m) }.
//
// A worker process of go test -fuzz runs only the fuzz target, which
// needs no server: it starts none, so that the workers start at once and
// a server that fails to start (or starts slowly) on a loaded machine does
// not end a fuzzing run without an input to show for it.
func Main(m *testing.M) { os.Exit(run(m)) }

// runner is what run needs of testing.M.
type runner interface{ Run() int }

// run is Main without the exit: it returns the tests' exit code.
func run(m runner) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if fuzzWorker() {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	s, err := chserver.Start(ctx, chserver.Options{})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: these tests need a real ClickHouse and none could be started: %v\n", err)
		return 1
	}
	server = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop clickhouse: %v\n", err)
	}
	server = nil
	return code
}

// fuzzWorker says the test binary runs as a worker of go test -fuzz
// (testing's -test.fuzzworker flag).
func fuzzWorker() bool {
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

// Server is the package's server; Main must have run.
func Server() *chserver.Server {
	if server == nil {
		panic("chtest: call chtest.Main from TestMain before using the server")
	}
	return server
}

// DSN is the native-protocol DSN of the package's server (default database).
func DSN() string { return Server().DSN() }

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// NewDatabase creates an empty database with a unique name for one test,
// drops it when the test ends, and returns a DSN whose path is that
// database, with the database name.
func NewDatabase(t testing.TB) (dsn, database string) {
	t.Helper()
	name := strings.ToLower(unsafeChars.ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	database = fmt.Sprintf("t%d_%d_%s", os.Getpid(), counter.Add(1), name)
	conn := Conn(t)
	// DROP DATABASE waits for the tables' merges to stop: on a loaded
	// machine that takes a while.
	bound := testload.Scale(30*time.Second, 5*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE DATABASE "+database); err != nil {
		t.Fatalf("create test database %s: %v", database, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database); err != nil {
			t.Errorf("drop test database %s: %v", database, err)
		}
	})
	return Server().DSNFor(database), database
}

// Conn opens a connection to the package's server (default database),
// closed when the test ends.
func Conn(t testing.TB) clickhouse.Conn {
	t.Helper()
	return ConnTo(t, DSN())
}

// ConnTo is a connection of the test's own to the server of dsn (a
// store's Config().DSN), opened at the first call of a test and closed
// when it ends: for SQL that storage does not offer, as tests check or
// break tables (the store has no door to its connections). Name tables
// with their database.
func ConnTo(t testing.TB, dsn string) clickhouse.Conn {
	t.Helper()
	key := connKey{t, dsn}
	if c, ok := conns.Load(key); ok {
		return c.(clickhouse.Conn)
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("open clickhouse %s: %v", opts.Addr, err)
	}
	conns.Store(key, conn)
	t.Cleanup(func() {
		conns.Delete(key)
		_ = conn.Close()
	})
	return conn
}

// conns are the connections ConnTo opened, by test and DSN.
var conns sync.Map

type connKey struct {
	t   testing.TB
	dsn string
}
