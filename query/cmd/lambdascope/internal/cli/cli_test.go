package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"go.uber.org/goleak"

	"github.com/lambdascope/lambdascope/internal/testca"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var zone = time.FixedZone("XST", -5*3600)

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(t.Context(), args, Env{
		Stdout:   &out,
		Stderr:   &errOut,
		Getenv:   func(k string) string { return env[k] },
		Now:      time.Now,
		Location: zone,
	})
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: ExitUsage, wantStderr: "Commands:"},
		{name: "root help", args: []string{"--help"}, wantCode: ExitOK, wantStdout: "Examples:"},
		{name: "help command", args: []string{"help"}, wantCode: ExitOK, wantStdout: "lambdascope trace 1-5759e988"},
		{name: "help trace", args: []string{"help", "trace"}, wantCode: ExitOK, wantStdout: "X-Ray"},
		{name: "trace --help", args: []string{"trace", "--help"}, wantCode: ExitOK, wantStdout: "Usage: lambdascope trace"},
		{name: "invocations -h", args: []string{"invocations", "-h"}, wantCode: ExitOK, wantStdout: "--since 7d --output json"},
		{name: "help unknown", args: []string{"help", "bogus"}, wantCode: ExitUsage, wantStderr: `unknown command "bogus"`},
		{name: "unknown command", args: []string{"spans"}, wantCode: ExitUsage, wantStderr: `unknown command "spans"`},
		{name: "unknown command names dropped", args: []string{"spans"}, wantCode: ExitUsage, wantStderr: `dropped, completeness`},
		{name: "unknown flag", args: []string{"--verbose", "trace"}, wantCode: ExitUsage, wantStderr: "-verbose"},
		{name: "trace without ID", args: []string{"trace"}, wantCode: ExitUsage, wantStderr: "exactly one trace ID"},
		{name: "trace with two IDs", args: []string{"trace", "a", "b"}, wantCode: ExitUsage, wantStderr: "exactly one trace ID"},
		{name: "bad trace ID", args: []string{"trace", "xyz"}, wantCode: ExitUsage, wantStderr: "invalid trace ID"},
		{name: "bad color", args: []string{"trace", "--color", "pink", "4bf92f3577b34da6a3ce929d0e0e4736"}, wantCode: ExitUsage, wantStderr: "--color must be"},
		{name: "bad trace output", args: []string{"trace", "--output", "table", "4bf92f3577b34da6a3ce929d0e0e4736"}, wantCode: ExitUsage, wantStderr: "--output must be tree or json"},
		{name: "bad output", args: []string{"invocations", "--output", "yaml"}, wantCode: ExitUsage, wantStderr: "--output must be table or json"},
		{name: "bad since", args: []string{"invocations", "--since", "yesterday"}, wantCode: ExitUsage, wantStderr: "--since must be a duration"},
		{name: "negative since", args: []string{"invocations", "--since", "-1h"}, wantCode: ExitUsage, wantStderr: "--since must be positive"},
		{name: "future since", args: []string{"invocations", "--since", "2999-01-01T00:00:00Z"}, wantCode: ExitUsage, wantStderr: "not in the past"},
		{name: "zero limit", args: []string{"invocations", "--limit", "0"}, wantCode: ExitUsage, wantStderr: "--limit must be between"},
		{name: "huge limit", args: []string{"invocations", "--limit", "1000000"}, wantCode: ExitUsage, wantStderr: "--limit must be between"},
		{name: "stray argument", args: []string{"invocations", "orders"}, wantCode: ExitUsage, wantStderr: "takes no arguments"},
		{name: "bad dsn", args: []string{"--dsn", "http://x", "invocations"}, wantCode: ExitUsage, wantStderr: "--dsn must look like"},
		{name: "bad timeout", args: []string{"invocations", "--timeout", "0s"}, wantCode: ExitUsage, wantStderr: "--timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", r.stdout, tt.wantStdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"30m", now.Add(-30 * time.Minute)},
		{"2h", now.Add(-2 * time.Hour)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"2026-03-14T10:00:00+01:00", time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSince(tt.in, now)
			if err != nil {
				t.Fatalf("parseSince(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("parseSince(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	got := redact("clickhouse://reader:s3cret@ch:9000/lambdascope")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "reader") {
		t.Errorf("redact = %q", got)
	}
}

func TestAgainstClickHouse(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	tr := querytest.WriteTwoFunctionTrace(t, st)
	// Every run opens and closes its own connections; none may outlive it.
	before := goleak.IgnoreCurrent()
	defer goleak.VerifyNone(t, before)

	t.Run("trace by hex ID", func(t *testing.T) {
		r := run(t, map[string]string{EnvDSN: dsn}, "trace", tr.TraceID.String())
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		t.Logf("output:\n%s", r.stdout)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3+4 {
			t.Fatalf("%d lines, want header + 4 spans:\n%s", len(lines), r.stdout)
		}
		wantStart := tr.Start.In(zone).Format("2006-01-02 15:04:05.000 XST")
		if !strings.HasPrefix(lines[1], wantStart) {
			t.Errorf("header %q does not start with the local time %s", lines[1], wantStart)
		}
		for i, want := range []string{"orders (orders-api) · POST /orders", "└─ orders (orders-api) · invoke billing", "   └─ billing · charge", "      └─ billing · UPDATE accounts"} {
			if !strings.HasPrefix(lines[3+i], want) {
				t.Errorf("line %d = %q, want prefix %q", 3+i, lines[3+i], want)
			}
		}
		if !strings.Contains(lines[3], "cold start (init 301ms)") {
			t.Errorf("root line lacks the cold start: %q", lines[3])
		}
		if !strings.Contains(lines[5], "invocation error") {
			t.Errorf("billing line lacks the failed invocation: %q", lines[5])
		}
	})
	t.Run("trace by X-Ray ID and DSN flag after the ID", func(t *testing.T) {
		h := tr.TraceID.String()
		r := run(t, nil, "trace", "1-"+h[:8]+"-"+h[8:], "--dsn", dsn)
		if r.code != ExitOK || !strings.Contains(r.stdout, "Trace "+h) {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("trace as JSON", func(t *testing.T) {
		r := run(t, nil, "--dsn", dsn, "trace", "--output", "json", tr.TraceID.String())
		var got struct {
			SpanCount int `json:"spanCount"`
		}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &got) != nil || got.SpanCount != 4 {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("unknown trace", func(t *testing.T) {
		r := run(t, nil, "--dsn", dsn, "trace", "0af7651916cd43dd8448eb211c80319c")
		want := "lambdascope: trace 0af7651916cd43dd8448eb211c80319c not found in " + dsn +
			": no span of it is stored (if the functions sample traces with LAMBDASCOPE_SAMPLE_RATE, it may have been left out whole)\n"
		if r.code != ExitError || r.stderr != want {
			t.Fatalf("exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
		}
	})
	t.Run("invocations table", func(t *testing.T) {
		r := run(t, map[string]string{EnvDSN: dsn}, "invocations")
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		t.Logf("output:\n%s", r.stdout)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.Contains(lines[1], "req-billing") || !strings.Contains(lines[2], "req-orders") {
			t.Fatalf("want header, req-billing, req-orders; got\n%s", r.stdout)
		}
	})
	t.Run("invocations json for one function", func(t *testing.T) {
		r := run(t, map[string]string{EnvDSN: dsn}, "invocations", "--function", "orders", "--since", "1h", "--output", "json")
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var got []struct {
			RequestID string `json:"requestId"`
			ColdStart bool   `json:"coldStart"`
			TraceID   string `json:"traceId"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.stdout)
		}
		if len(got) != 1 || got[0].RequestID != "req-orders" || !got[0].ColdStart || got[0].TraceID != tr.TraceID.String() {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("invocations over TLS with a private CA", func(t *testing.T) {
		ca := testca.NewCA(t)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = chtest.NewTLSFront(t, ca, u.Host)
		r := run(t, map[string]string{EnvDSN: u.String(), EnvTLSCAFile: ca.File(t)}, "invocations", "--output", "json")
		if r.code != ExitOK || !strings.Contains(r.stdout, "req-orders") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = run(t, map[string]string{EnvDSN: u.String()}, "--tls-ca-file", testca.NewCA(t).File(t), "--timeout", "5s", "invocations")
		if r.code != ExitError || !strings.Contains(r.stderr, "certificate") {
			t.Fatalf("another CA: exit %d, stderr %q", r.code, r.stderr)
		}
		r = run(t, map[string]string{EnvDSN: u.String()}, "--tls-ca-file", filepath.Join(t.TempDir(), "none.pem"), "invocations")
		if r.code != ExitError || !strings.Contains(r.stderr, "cannot use --tls-ca-file: tls.ca_file: open") {
			t.Fatalf("missing CA file: exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("unreachable server", func(t *testing.T) {
		r := run(t, nil, "--dsn", "clickhouse://127.0.0.1:1/lambdascope", "--timeout", "5s", "invocations")
		if r.code != ExitError || !strings.HasPrefix(r.stderr, "lambdascope: cannot connect to ClickHouse at clickhouse://127.0.0.1:1/lambdascope") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// TestReadsOnly checks that pointing the CLI at a database that does not
// exist creates nothing.
func TestReadsOnly(t *testing.T) {
	_, database := chtest.NewDatabase(t)
	conn := chtest.Conn(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "DROP DATABASE "+database); err != nil {
		t.Fatalf("drop database: %v", err)
	}
	dsn := chtest.Server().DSNFor(database)
	r := run(t, nil, "--dsn", dsn, "invocations")
	t.Logf("stderr: %s", r.stderr)
	if r.code != ExitError || !strings.Contains(r.stderr, "no Lambdascope schema") {
		t.Errorf("exit %d, stderr %q against a missing database; want 1 and a hint", r.code, r.stderr)
	}
	var n uint64
	if err := conn.QueryRow(clickhouse.Context(ctx), "SELECT count() FROM system.databases WHERE name = ?", database).Scan(&n); err != nil {
		t.Fatalf("look for database: %v", err)
	}
	if n != 0 {
		t.Errorf("the CLI created database %s", database)
	}
}
