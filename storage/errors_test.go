package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestWriteErrorsAreClassified makes a real ClickHouse fail writes in each
// way a caller must tell apart, on the block writer and on clickhouse-go,
// and checks the class WriteExports gives each failure.
func TestWriteErrorsAreClassified(t *testing.T) {
	kinds := []error{ErrUnavailable, ErrRefusedRetryable, ErrRefusedPermanent, ErrOutcomeUnknown}
	tests := []struct {
		name string
		// setup breaks the store's database and returns the name of the
		// spans to write; the write must fail with want.
		setup func(t *testing.T, s *Store) string
		want  error
		code  int32
	}{
		{"content refused by a throwIf", func(t *testing.T, s *Store) string {
			exec(t, s, "ALTER TABLE %s.spans ADD COLUMN poison UInt8 MATERIALIZED throwIf(name = 'poison')")
			return "poison"
		}, ErrRefusedPermanent, 395},
		{"column of another type", func(t *testing.T, s *Store) string {
			exec(t, s, "ALTER TABLE %s.spans MODIFY COLUMN name UInt8")
			return "typed"
		}, ErrRefusedPermanent, 0},
		{"table missing", func(t *testing.T, s *Store) string {
			exec(t, s, "RENAME TABLE %[1]s.spans TO %[1]s.spans_away")
			return "missing"
		}, ErrRefusedRetryable, 60},
		{"server closed", func(t *testing.T, s *Store) string {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return "closed"
		}, ErrUnavailable, 0},
	}
	for _, driver := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if driver {
				name += " (clickhouse-go)"
			}
			t.Run(name, func(t *testing.T) {
				s := openStore(t)
				if driver {
					s = openDriverStore(t)
				}
				spanName := tt.setup(t, s)
				f := newFixture(t, "classified")
				f.req.Invocations, f.req.ResourceLogs = nil, nil
				for _, sp := range f.req.ResourceSpans[0].ScopeSpans[0].Spans {
					sp.Name = spanName
				}
				ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
				defer cancel()
				// The deadline bounds the block writer's wait on a column
				// of another type: ch-go returns that error only when the
				// context ends (its reader waits for the next packet).
				_, err := s.WriteExport(ctx, f.req)
				if !errors.Is(err, tt.want) {
					t.Fatalf("WriteExport: %v, want %v", err, tt.want)
				}
				for _, k := range kinds {
					if k != tt.want && errors.Is(err, k) {
						t.Errorf("error %v is also %v", err, k)
					}
				}
				var we *WriteError
				if !errors.As(err, &we) || we.Code != tt.code {
					t.Errorf("WriteError %+v, want code %d", we, tt.code)
				}
				if tt.want == ErrRefusedPermanent && !we.Refused() {
					t.Errorf("a permanent refusal does not say ClickHouse refused it")
				}
			})
		}
	}
}

// TestOutcomeUnknownIsClassified: a connection cut inside the block is
// ErrOutcomeUnknown and nothing else.
func TestOutcomeUnknownIsClassified(t *testing.T) {
	s, px := openBehindProxy(t)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	reqs := variedRequests(9, 4, 300)
	for _, r := range reqs {
		r.ResourceLogs = nil
	}
	px.CutAfter(4000)
	_, err := s.WriteExports(t.Context(), reqs)
	var we *WriteError
	if !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrUnavailable) || !errors.As(err, &we) || we.Refused() {
		t.Fatalf("WriteExports cut inside the block: %v, want ErrOutcomeUnknown alone", err)
	}
}

func exec(t *testing.T, s *Store, format string) {
	t.Helper()
	q := fmt.Sprintf(format, s.Database())
	if err := s.conn.Exec(t.Context(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestReadErrorsAreRecognized makes a real ClickHouse refuse in each way
// the CLI and the plugin explain, and checks that exactly the matching
// predicate says so: the exception codes are known only here.
func TestReadErrorsAreRecognized(t *testing.T) {
	s := openStore(t)
	failing := func(sql string) func(t *testing.T) error {
		return func(t *testing.T) error { return s.conn.Exec(t.Context(), sql) }
	}
	opening := func(dsn string) func(t *testing.T) error {
		return func(t *testing.T) error {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			st, err := OpenReadOnly(ctx, dsn)
			if err == nil {
				_ = st.Close()
			}
			return err
		}
	}
	addr := chtest.Server().Addr()
	tests := []struct {
		name                            string
		fail                            func(t *testing.T) error
		table, database, auth, answered bool
	}{
		{"unknown table", failing("SELECT 1 FROM " + s.Database() + ".no_such_table"), true, false, false, true},
		{"unknown database", failing("SELECT 1 FROM no_such_database.spans"), false, true, false, true},
		{"syntax error", failing("SELEKT 1"), false, false, false, true},
		{"unknown user", opening("clickhouse://nobody@" + addr + "/default"), false, false, true, true},
		{"wrong password", opening("clickhouse://default:wrong@" + addr + "/default"), false, false, true, true},
		{"not reached", opening("clickhouse://127.0.0.1:1/default?dial_timeout=2s"), false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fail(t)
			if err == nil {
				t.Fatal("no error")
			}
			wrapped := fmt.Errorf("read spans: %w", err)
			for _, p := range []struct {
				name string
				is   func(error) bool
				want bool
			}{
				{"IsUnknownTable", IsUnknownTable, tt.table},
				{"IsUnknownDatabase", IsUnknownDatabase, tt.database},
				{"IsAuthRefused", IsAuthRefused, tt.auth},
				{"IsServerError", IsServerError, tt.answered},
			} {
				if got := p.is(wrapped); got != p.want {
					t.Errorf("%s(%v) = %v, want %v", p.name, err, got, p.want)
				}
			}
		})
	}
}
