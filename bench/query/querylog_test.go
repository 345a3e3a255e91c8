package querybench

import (
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query/querytest"
)

// TestSummarizeCountsEachColdQueryOnce holds the summary to the mean of
// each kind, each query text once (a warm read repeats the cold one's
// text), and to leaving out what is not a read of a trace.
func TestSummarizeCountsEachColdQueryOnce(t *testing.T) {
	q := func(text string, files uint64, d time.Duration) loggedQuery {
		return loggedQuery{text: text, cost: QueryCost{Files: files, Reads: files, Duration: d, CPU: d / 2}}
	}
	got := summarize([]loggedQuery{
		q("SELECT _part, toStartOfHour(start_time) ... 'aa'", 30, 10*time.Millisecond),
		q("SELECT start_unix_nano, account_id ... 'r1'", 128, 40*time.Millisecond),
		q("SELECT trace_id, span_id, parent_span_id ... 'aa'", 48, 20*time.Millisecond),
		q("SELECT _part, toStartOfHour(start_time) ... 'aa'", 0, time.Millisecond), // warm
		q("SELECT count() FROM db.spans", 90, 70*time.Millisecond),
		q("SELECT _part, toStartOfHour(start_time) ... 'bb'", 40, 30*time.Millisecond),
		q("SELECT start_unix_nano, account_id ... 'r2'", 64, 20*time.Millisecond),
		q("SELECT start_unix_nano, function_name, request_id, shown ... 'r3'", 24, 6*time.Millisecond),
	})
	want := map[string]QueryCost{
		kindLayout:      {Files: 35, Reads: 35, Duration: 20 * time.Millisecond, CPU: 10 * time.Millisecond},
		kindWide:        {Files: 48, Reads: 48, Duration: 20 * time.Millisecond, CPU: 10 * time.Millisecond},
		kindInvocations: {Files: 72, Reads: 72, Duration: 22 * time.Millisecond, CPU: 11 * time.Millisecond},
	}
	counts := map[string]int{kindLayout: 2, kindWide: 1, kindInvocations: 3}
	if len(got) != len(want) {
		t.Fatalf("got %d kinds %v, want %d", len(got), got, len(want))
	}
	for _, k := range got {
		if k.Mean != want[k.Kind] || k.Count != counts[k.Kind] {
			t.Errorf("%s: %d queries, mean %+v; want %d, %+v", k.Kind, k.Count, k.Mean, counts[k.Kind], want[k.Kind])
		}
		if !strings.HasPrefix(k.String(), k.Kind+": ") {
			t.Errorf("line %q does not name its kind", k.String())
		}
	}
}

// TestTraceReadCostsSaysWhenNothingWasLogged: with no trace read in the
// log (or no log at all), the figures are an error that says why, not an
// empty report.
func TestTraceReadCostsSaysWhenNothingWasLogged(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	_, err := TraceReadCosts(t.Context(), connOf(t, st), st.Database(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "query_log") && !strings.Contains(err.Error(), "log_queries") {
		t.Fatalf("error %v, want one naming query_log or log_queries", err)
	}
}

func TestWithSetting(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"clickhouse://127.0.0.1:9000/db", "clickhouse://127.0.0.1:9000/db?log_queries=1"},
		{"clickhouse://127.0.0.1:9000/db?dial_timeout=5s", "clickhouse://127.0.0.1:9000/db?dial_timeout=5s&log_queries=1"},
		{"clickhouse://127.0.0.1:9000/db?log_queries=0", "clickhouse://127.0.0.1:9000/db?log_queries=1"},
	} {
		if got := withSetting(tt.in, "log_queries", "1"); got != tt.want {
			t.Errorf("withSetting(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
