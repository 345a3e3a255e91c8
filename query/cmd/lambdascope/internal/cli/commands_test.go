package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query/querytest"
)

func TestTableCommandUsage(t *testing.T) {
	tests := []struct {
		name                   string
		args                   []string
		env                    map[string]string
		wantCode               int
		wantStdout, wantStderr string
	}{
		{name: "root lists commands", args: []string{"help"}, wantStdout: "rightsize"},
		{name: "search help", args: []string{"search", "--help"}, wantStdout: "--attr http.route=/orders"},
		{name: "help functions", args: []string{"help", "functions"}, wantStdout: "--figures --function orders"},
		{name: "logs help", args: []string{"logs", "-h"}, wantStdout: "--request-id"},
		{name: "cost help", args: []string{"help", "cost"}, wantStdout: "never subtracted"},
		{name: "rightsize help", args: []string{"rightsize", "--help"}, wantStdout: "--headroom"},
		{name: "spikes help", args: []string{"help", "spikes"}, wantStdout: "--alertmanager http://alertmanager:9093"},
		{name: "bad output", args: []string{"search", "--output", "yaml"}, wantCode: ExitUsage, wantStderr: "--output must be table, json or csv"},
		{name: "bad attr", args: []string{"search", "--attr", "novalue"}, wantCode: ExitUsage, wantStderr: "want key=value"},
		{name: "bad until", args: []string{"search", "--until", "soon"}, wantCode: ExitUsage, wantStderr: "--until must be a duration"},
		{name: "since after until", args: []string{"search", "--since", "1h", "--until", "2h"}, wantCode: ExitUsage, wantStderr: "--since must be before --until"},
		{name: "retention help says dry run", args: []string{"retention", "--help"}, wantStdout: "deletes nothing (a\ndry run)"},
		{name: "retention help lists tables", args: []string{"help", "retention"}, wantStdout: "spans, logs, invocations"},
		{name: "root lists retention", args: []string{"help"}, wantStdout: "retention"},
		{name: "retention without days", args: []string{"retention"}, wantCode: ExitUsage, wantStderr: "retention needs --days"},
		{name: "retention of an unknown table", args: []string{"retention", "--days", "span=7"}, wantCode: ExitUsage, wantStderr: "retention_days.span: no such table"},
		{name: "retention of zero days from env", args: []string{"retention"}, env: map[string]string{EnvRetentionDays: "default=0"}, wantCode: ExitUsage, wantStderr: "retention_days.default must be at least 1"},
		{name: "retention not table=days", args: []string{"retention", "--days", "30"}, wantCode: ExitUsage, wantStderr: `"30" must be table=days`},
		{name: "retention with arguments", args: []string{"retention", "--days", "spans=7", "now"}, wantCode: ExitUsage, wantStderr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stdout %q / stderr %q; want %q / %q", r.stdout, r.stderr, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestTableCommandsAgainstClickHouse(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	tr := querytest.WriteTwoFunctionTrace(t, st)
	before := goleak.IgnoreCurrent()
	defer goleak.VerifyNone(t, before)
	env := map[string]string{EnvDSN: dsn}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		// wantLines are substrings, one per output line after the header.
		wantLines  []string
		wantStderr string
	}{
		{name: "search", args: []string{"search"}, wantLines: []string{tr.TraceID.String() + "  orders POST /orders"}},
		{name: "search errors", args: []string{"search", "--status", "error"}, wantLines: nil},
		{name: "search hostile", args: []string{"search", "--function", "' OR 1=1 --", "--attr", "a') OR 1=1 --=x"}, wantLines: nil},
		{name: "search bad status", args: []string{"search", "--status", "broken"}, wantCode: ExitError, wantStderr: "status must be ok, error or unset"},
		{name: "functions", args: []string{"functions"}, wantLines: []string{"billing", "orders"}},
		{name: "functions map", args: []string{"functions", "--map"}, wantLines: []string{"orders  billing  function  1"}},
		{name: "functions figures", args: []string{"functions", "--figures", "--function", "orders", "--since", "10m", "--step", "10m"}},
		{name: "cost", args: []string{"cost", "--since", "1h"}, wantLines: []string{"orders", "billing", "TOTAL"}},
		{name: "cost by tiers", args: []string{"cost", "--since", "1h", "--by", "tiers"}, wantLines: []string{"arm64", "x86_64"}},
		{name: "cost by free", args: []string{"cost", "--since", "1h", "--by", "free"}, wantLines: []string{"123456789012"}},
		{name: "cost of a trace", args: []string{"cost", tr.TraceID.String()}, wantLines: []string{"billing", "orders", "TOTAL"}},
		{name: "cost bad by", args: []string{"cost", "--by", "week"}, wantCode: ExitUsage, wantStderr: "--by must be"},
		{name: "rightsize", args: []string{"rightsize", "--min-invocations", "1"}, wantLines: []string{"orders", "billing"}},
		{name: "spikes", args: []string{"spikes"}},
		{name: "spikes notify without watch", args: []string{"spikes", "--alertmanager", "http://x"}, wantCode: ExitUsage, wantStderr: "need --watch"},
		{name: "logs", args: []string{"logs", "--grep", "' OR 1=1 --"}, wantLines: nil},
		{name: "logs bad trace", args: []string{"logs", "--trace", "zz"}, wantCode: ExitUsage, wantStderr: "--trace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, env, tt.args...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.wantCode, tt.wantStderr)
			}
			if tt.wantCode != ExitOK {
				return
			}
			t.Logf("output:\n%s", r.stdout)
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if tt.wantLines == nil {
				return
			}
			if len(lines) != 1+len(tt.wantLines) {
				t.Fatalf("%d lines, want a header and %d", len(lines), len(tt.wantLines))
			}
			for i, want := range tt.wantLines {
				if !strings.Contains(lines[1+i], want) {
					t.Errorf("line %d = %q, want %q in it", 1+i, lines[1+i], want)
				}
			}
		})
	}

	t.Run("search json in the user's zone", func(t *testing.T) {
		r := run(t, env, "search", "--output", "json")
		var got []struct {
			TraceID string `json:"traceId"`
			Start   string `json:"start"`
		}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &got) != nil || len(got) != 1 || got[0].TraceID != tr.TraceID.String() ||
			!strings.HasSuffix(got[0].Start, "-05:00") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("cost csv", func(t *testing.T) {
		r := run(t, env, "cost", "--since", "1h", "--output", "csv")
		recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if r.code != ExitOK || err != nil || len(recs) != 3 || recs[0][0] != "function" {
			t.Fatalf("exit %d, csv %v (%v), stderr %q", r.code, recs, err, r.stderr)
		}
	})
}

func TestSpikesWatchPostsToWebhook(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	// 30 invocations of "api" in the last two minutes, half failed, and
	// no history: the spike fires against the 5% floor.
	var invs []*ingestv1.Invocation
	now := time.Now().Truncate(time.Minute).Add(-90 * time.Second)
	for i := range 30 {
		status := "success"
		if i%2 == 0 {
			status = "error"
		}
		invs = append(invs, &ingestv1.Invocation{RequestId: fmt.Sprintf("req-%02d", i), StartTimeUnixNano: uint64(now.Add(time.Duration(i) * time.Second).UnixNano()),
			DurationMs: 10, BilledDurationMs: 10, MemorySizeMb: 128, Status: status})
	}
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{BatchId: []byte("spike-batch-0001"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "api", Version: "1"}, Invocations: invs}); err != nil {
		t.Fatalf("write invocations: %v", err)
	}
	before := goleak.IgnoreCurrent()
	defer goleak.VerifyNone(t, before)
	var posts atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var body struct {
			Alerts []struct {
				Status string `json:"status"`
			} `json:"alerts"`
		}
		if json.NewDecoder(r.Body).Decode(&body) == nil && len(body.Alerts) == 1 && body.Alerts[0].Status == "firing" {
			posts.Add(1)
		}
	}))
	defer hook.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	code := Run(ctx, []string{"--dsn", dsn, "spikes", "--watch", "--interval", "200ms", "--webhook", hook.URL}, Env{
		Stdout: &out, Stderr: &errOut, Now: time.Now, Location: zone,
	})
	if code != ExitOK || errOut.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	// The webhook hears of the change once, however many evaluations ran.
	if posts.Load() != 1 || !strings.Contains(out.String(), "FIRING api") {
		t.Errorf("%d firing posts, output %q; want one and a FIRING line", posts.Load(), out.String())
	}
}
