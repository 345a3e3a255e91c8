package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query/querytest"
)

// TestWhereAndTimeZone runs the commands with --where (the plugin's ad
// hoc filters) and cost --by day --tz over a trace in which orders calls
// billing.
func TestWhereAndTimeZone(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	tr := querytest.WriteTwoFunctionTrace(t, st)
	env := map[string]string{EnvDSN: dsn}
	east, err := time.LoadLocation("Etc/GMT-14") // UTC+14
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		// want and wantNot are substrings of stdout (or of stderr when
		// the command fails).
		want, wantNot []string
	}{
		{name: "search a function", args: []string{"search", "--where", "function=~bill.*"}, want: []string{tr.TraceID.String()}},
		{name: "search a function left out", args: []string{"search", "--where", "function!=billing"}, want: []string{"No traces found."}},
		{name: "functions", args: []string{"functions", "--where", "function!=orders"}, want: []string{"\nbilling "}, wantNot: []string{"\norders "}},
		{name: "functions map", args: []string{"functions", "--map", "--where", "function!=orders"}, want: []string{"No calls found."}},
		{name: "functions figures", args: []string{"functions", "--figures", "--where", "function=billing", "--since", "10m", "--step", "10m"},
			want: []string{"billing"}, wantNot: []string{"orders"}},
		{name: "invocations", args: []string{"invocations", "--where", "function=billing"}, want: []string{"req-billing"}, wantNot: []string{"req-orders"}},
		{name: "logs", args: []string{"logs", "--where", "service=~.*"}},
		{name: "cost", args: []string{"cost", "--since", "1h", "--where", "function!=orders"}, want: []string{"billing", "TOTAL"}, wantNot: []string{"orders"}},
		{name: "cost by tiers", args: []string{"cost", "--since", "1h", "--by", "tiers", "--where", "function=orders"}, want: []string{"arm64"}, wantNot: []string{"x86_64"}},
		{name: "rightsize", args: []string{"rightsize", "--min-invocations", "1", "--where", "function=~bill.*"}, want: []string{"billing"}, wantNot: []string{"orders"}},
		{name: "spikes", args: []string{"spikes", "--where", "function=orders"}},
		{name: "completeness", args: []string{"completeness", "--where", "function=orders"}},
		{name: "cost by day in UTC", args: []string{"cost", "--since", "1h", "--by", "day"},
			want: []string{"DAY (UTC)", tr.Start.UTC().Format("2006-01-02")}},
		{name: "cost by day in a zone", args: []string{"cost", "--since", "1h", "--by", "day", "--tz", "Etc/GMT-14"},
			want: []string{"DAY (Etc/GMT-14)", tr.Start.In(east).Format("2006-01-02")}},
		{name: "bad key", args: []string{"search", "--where", "route=/orders"}, wantCode: ExitUsage, want: []string{"key must be function or service"}},
		{name: "bad operator", args: []string{"invocations", "--where", "function"}, wantCode: ExitUsage, want: []string{"an operator"}},
		{name: "bad regexp", args: []string{"logs", "--where", "service=~a(b"}, wantCode: ExitUsage, want: []string{"missing closing )"}},
		{name: "where on durable executions", args: []string{"cost", "--by", "durable", "--where", "function=orders"}, wantCode: ExitUsage, want: []string{"--where does not apply to --by durable"}},
		{name: "cost by observability unfiltered", args: []string{"cost", "--since", "1h", "--by", "observability", "--output", "csv"},
			want: []string{"billing", "orders"}},
		{name: "cost by observability", args: []string{"cost", "--since", "1h", "--by", "observability", "--where", "function=billing", "--output", "csv"},
			want: []string{"billing"}, wantNot: []string{"orders"}},
		{name: "where on a trace's cost", args: []string{"cost", "--where", "function=orders", tr.TraceID.String()}, wantCode: ExitUsage,
			want: []string{"--by, --function and --where do not apply"}},
		{name: "tz without days", args: []string{"cost", "--tz", "Europe/Berlin"}, wantCode: ExitUsage, want: []string{"--tz applies to --by day only"}},
		{name: "bad tz", args: []string{"cost", "--by", "day", "--tz", "Mars/Olympus"}, wantCode: ExitUsage, want: []string{"--tz must be an IANA time zone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, env, tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			out := r.stdout
			if tt.wantCode != ExitOK {
				out = r.stderr
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q, want %q in it", out, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output %q, want no %q in it", out, w)
				}
			}
		})
	}
}
