package collector_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// telemetrygen finds OpenTelemetry's load generator, installed pinned into
// .tools/bin by deploy/scripts/install-test-tools.sh (make test-tools; make test runs
// it). LAMBDASCOPE_TELEMETRYGEN names another binary. Under CI=true a
// missing binary fails the test.
func telemetrygen(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("LAMBDASCOPE_TELEMETRYGEN")
	if bin == "" {
		bin = filepath.Join("..", ".tools", "bin", "telemetrygen")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("telemetrygen not installed (%v); run make test-tools", err)
		}
		t.Skipf("telemetrygen not installed (%v); make test-tools installs it", err)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestTelemetrygenInterop sends traces, logs and metrics with
// OpenTelemetry's telemetrygen over OTLP gRPC and OTLP/HTTP to the
// collector and counts what ClickHouse holds: exactly what was sent, each
// item once.
func TestTelemetrygenInterop(t *testing.T) {
	bin := telemetrygen(t)
	h := start(t)
	const workers, perWorker, childSpans = 2, 150, 2
	tests := []struct {
		signal string
		http   bool
		args   []string
		table  string
		want   int
	}{
		{"traces", false, []string{"--traces", fmt.Sprint(perWorker), "--child-spans", fmt.Sprint(childSpans)}, "spans", workers * perWorker * (1 + childSpans)},
		{"traces", true, []string{"--traces", fmt.Sprint(perWorker), "--child-spans", fmt.Sprint(childSpans)}, "spans", workers * perWorker * (1 + childSpans)},
		{"logs", false, []string{"--logs", fmt.Sprint(perWorker)}, "logs", workers * perWorker},
		{"logs", true, []string{"--logs", fmt.Sprint(perWorker)}, "logs", workers * perWorker},
		{"metrics", false, []string{"--metrics", fmt.Sprint(perWorker)}, "metric_points", workers * perWorker},
		{"metrics", true, []string{"--metrics", fmt.Sprint(perWorker)}, "metric_points", workers * perWorker},
	}
	for _, tt := range tests {
		transport, addr := "grpc", h.srv.Addr()
		if tt.http {
			transport, addr = "http", h.srv.HTTPAddr()
		}
		t.Run(tt.signal+"/"+transport, func(t *testing.T) {
			service := "telemetrygen-" + tt.signal + "-" + transport
			args := append([]string{tt.signal,
				"--otlp-endpoint", addr, "--otlp-insecure",
				"--otlp-header", `authorization="Bearer ` + apiKey + `"`,
				"--service", service,
				"--workers", fmt.Sprint(workers), "--rate", "0",
			}, tt.args...)
			if tt.http {
				args = append(args, "--otlp-http")
			}
			cmd := exec.CommandContext(t.Context(), bin, args...)
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("telemetrygen %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			// A failed trace export is only logged (by OpenTelemetry's
			// error handler); telemetrygen still exits 0.
			if m := exportFailure.FindString(string(out)); m != "" {
				t.Fatalf("telemetrygen reported a failed export (%q):\n%s", m, out)
			}
			// Acknowledged means stored or in the WAL: wait for the rows,
			// then hold them to the exact count.
			var got uint64
			waitFor(t, fmt.Sprintf("%d rows of %s in %s", tt.want, service, tt.table), time.Minute, func() bool {
				got = countRows(t, h, tt.table, service)
				return got >= uint64(tt.want)
			})
			if got != uint64(tt.want) {
				t.Errorf("%s holds %d rows of %s, want exactly %d", tt.table, got, service, tt.want)
			}
			if tt.table == "spans" {
				var distinct, traces uint64
				row := chtest.ConnTo(t, h.store.Config().DSN).QueryRow(t.Context(),
					"SELECT uniqExact(trace_id, span_id), uniqExact(trace_id) FROM "+h.store.Database()+".spans WHERE service_name = ?", service)
				if err := row.Scan(&distinct, &traces); err != nil {
					t.Fatalf("count distinct spans: %v", err)
				}
				if distinct != uint64(tt.want) || traces != workers*perWorker {
					t.Errorf("spans of %s: %d distinct in %d traces, want %d in %d", service, distinct, traces, tt.want, workers*perWorker)
				}
			}
		})
	}
}

// exportFailure matches what telemetrygen writes when an export fails:
// its own log lines at ERROR or FATAL, or the SDK's error handler's line
// ("traces export: ...").
var exportFailure = regexp.MustCompile(`\t(ERROR|FATAL)\t.*|(traces|logs|metrics) export: .*`)

// countRows counts the rows of service in table.
func countRows(t *testing.T, h *harness, table, service string) uint64 {
	t.Helper()
	var n uint64
	// table is one of the test's constants, never input.
	if err := chtest.ConnTo(t, h.store.Config().DSN).QueryRow(t.Context(), "SELECT count() FROM "+h.store.Database()+"."+table+" WHERE service_name = ?", service).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// TestTelemetrygenFullWALLosesNothing fills a small WAL while ClickHouse
// is "down" (the gate of the hostile tests holds every insert back) with
// telemetrygen's traces over gRPC and HTTP at once: the collector refuses
// with a retryable answer (RESOURCE_EXHAUSTED with RetryInfo, 429 with
// Retry-After), telemetrygen's exporters retry, and once ClickHouse is
// back every span is stored exactly once.
func TestTelemetrygenFullWALLosesNothing(t *testing.T) {
	bin := telemetrygen(t)
	srv, gate := startGated(t, func(c *collector.Config) {
		c.WAL.Dir = t.TempDir()
		c.WAL.MaxBytes = 2 << 20
		c.WAL.SegmentBytes = 1 << 20
	})
	const workers, perWorker, childSpans = 2, 150, 2
	want := uint64(workers * perWorker * (1 + childSpans))
	pad := strings.Repeat("p", 4<<10)
	type run struct {
		service string
		out     []byte
		err     error
	}
	runs := make(chan run, 2)
	for _, transport := range []string{"grpc", "http"} {
		addr := srv.Addr()
		if transport == "http" {
			addr = srv.HTTPAddr()
		}
		service := "telemetrygen-full-wal-" + transport
		args := []string{"traces",
			"--otlp-endpoint", addr, "--otlp-insecure",
			"--otlp-header", `authorization="Bearer ` + apiKey + `"`,
			"--service", service,
			"--workers", fmt.Sprint(workers), "--rate", "0",
			"--traces", fmt.Sprint(perWorker), "--child-spans", fmt.Sprint(childSpans),
			"--telemetry-attributes", `pad="` + pad + `"`,
			"--timeout", "3m",
		}
		if transport == "http" {
			args = append(args, "--otlp-http")
		}
		go func() {
			cmd := exec.CommandContext(t.Context(), bin, args...)
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			runs <- run{service, out, err}
		}()
	}
	// ClickHouse is "down": the WAL takes 2 MiB, then refuses.
	waitFor(t, "requests refused by the full WAL", 2*time.Minute, func() bool { return srv.Stats().FailedBatches >= 4 })
	gate.open.Store(true)
	for range 2 {
		r := <-runs
		if r.err != nil {
			t.Fatalf("telemetrygen for %s: %v\n%s", r.service, r.err, r.out)
		}
		if m := exportFailure.FindString(string(r.out)); m != "" {
			t.Fatalf("telemetrygen for %s reported a failed export (%q):\n%s", r.service, m, r.out)
		}
		var rows, distinct uint64
		waitFor(t, fmt.Sprintf("%d spans of %s", want, r.service), time.Minute, func() bool {
			row := chtest.ConnTo(t, gate.store.Config().DSN).QueryRow(t.Context(),
				"SELECT count(), uniqExact(trace_id, span_id) FROM "+gate.store.Database()+".spans WHERE service_name = ?", r.service)
			if err := row.Scan(&rows, &distinct); err != nil {
				t.Fatalf("count spans: %v", err)
			}
			return rows >= want
		})
		if rows != want || distinct != want {
			t.Errorf("%s: %d rows, %d distinct spans stored; want %d of each", r.service, rows, distinct, want)
		}
	}
	if st := srv.Stats(); st.FailedBatches < 4 {
		t.Fatalf("only %d requests were refused: the WAL was never full", st.FailedBatches)
	}
}
