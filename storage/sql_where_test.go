package storage

import (
	"testing"
	"time"
)

// hostileValues are filter values that would change a query built by
// concatenation.
var hostileValues = []string{
	"' OR 1=1 --",
	`\' OR 1=1 --`,
	`"; DROP TABLE spans; --`,
	"a') OR ('1'='1",
	"x\\",
	"name`) UNION ALL SELECT * FROM system.tables --",
}

func TestReadSQLTextDoesNotDependOnValues(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	until := since.Add(time.Hour)
	builders := []struct {
		name  string
		build func(v string) (string, []any)
	}{
		{"trace search", func(v string) (string, []any) {
			return traceSearchSQL("db", TraceSearchFilter{
				Since: since, Until: until, FunctionName: v, ServiceName: v, SpanName: v, StatusCode: 2,
				MinDuration: time.Millisecond, MaxDuration: time.Second, Attributes: map[string]string{v: v},
				ColdStartOnly: true, Limit: 10,
			}, nil)
		}},
		{"function buckets", func(v string) (string, []any) {
			return functionBucketsSQL("db", UsageFilter{Since: since, Until: until, FunctionName: v, FunctionVersion: v, AccountID: v, Region: v}, time.Minute)
		}},
		{"snapstart usage", func(v string) (string, []any) {
			return snapStartUsageSQL("db", UsageFilter{Since: since, Until: until, FunctionName: v, FunctionVersion: v, AccountID: v, Region: v})
		}},
		{"durable executions", func(v string) (string, []any) {
			return durableExecutionsSQL("db", DurableFilter{Since: since, Until: until, FunctionName: v, Limit: 10})
		}},
		{"tenant usage", func(v string) (string, []any) {
			return tenantUsageSQL("db", UsageFilter{Since: since, Until: until, FunctionName: v, FunctionVersion: v, AccountID: v, Region: v})
		}},
		{"catalog", func(v string) (string, []any) {
			return functionCatalogSQL("db", UsageFilter{Since: since, Until: until, FunctionName: v, AccountID: v})
		}},
		{"usage", func(v string) (string, []any) {
			return usageSQL("db", UsageFilter{Since: since, Until: until, FunctionName: v, Region: v})
		}},
		{"usage from the daily view", func(v string) (string, []any) {
			return usageDailySQL("db", UsageFilter{Since: since.Truncate(24 * time.Hour), Until: until.AddDate(0, 0, 1).Truncate(24 * time.Hour),
				FunctionName: v, FunctionVersion: v, AccountID: v, Region: v})
		}},
		{"usage from the hourly view", func(v string) (string, []any) {
			return usageHourlySQL("db", UsageFilter{Since: since.Truncate(time.Hour), Until: until.Truncate(time.Hour),
				FunctionName: v, FunctionVersion: v, AccountID: v, Region: v})
		}},
		{"function figures from the view", func(v string) (string, []any) {
			return functionFiguresSQL("db", UsageFilter{Since: since, Until: until, FunctionName: v, FunctionVersion: v, AccountID: v, Region: v}, time.Hour)
		}},
		{"view horizon", func(v string) (string, []any) { return viewHorizonSQL("db", v) }},
		{"invocations per day", func(v string) (string, []any) {
			return dayCountsSQL("db", UsageFilter{Since: since, Until: until, FunctionName: v, Region: v})
		}},
		{"memory profiles", func(v string) (string, []any) {
			return memoryProfileSQL("db", UsageFilter{Since: since, Until: until, FunctionName: v})
		}},
	}
	for _, b := range builders {
		t.Run(b.name, func(t *testing.T) {
			want, _ := b.build("plain")
			for _, v := range hostileValues {
				got, args := b.build(v)
				if got != want {
					t.Errorf("value %q changed the SQL text:\n%s", v, got)
				}
				found := false
				for _, a := range args {
					if a == v {
						found = true
					}
				}
				if !found {
					t.Errorf("value %q is not among the bound arguments %v", v, args)
				}
			}
		})
	}
}

// FuzzReadSQLText checks that no filter value changes the SQL text of a
// trace search or a usage read.
func FuzzReadSQLText(f *testing.F) {
	for _, v := range hostileValues {
		f.Add(v, v)
	}
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	until := since.Add(time.Hour)
	search := func(fn, attr string) string {
		q, _ := traceSearchSQL("db", TraceSearchFilter{Since: since, Until: until, FunctionName: fn, SpanName: fn,
			StatusCode: -1, Attributes: map[string]string{attr: fn}, Limit: 5}, nil)
		return q
	}
	usage := func(fn string) string {
		q, _ := usageSQL("db", UsageFilter{Since: since, Until: until, FunctionName: fn, Region: fn})
		return q
	}
	wantSearch, wantUsage := search("a", "b"), usage("a")
	f.Fuzz(func(t *testing.T, fn, attr string) {
		if fn == "" || attr == "" {
			return // an empty filter is no filter: other text by design
		}
		if got := search(fn, attr); got != wantSearch {
			t.Errorf("search text changed for %q, %q:\n%s", fn, attr, got)
		}
		if got := usage(fn); got != wantUsage {
			t.Errorf("usage text changed for %q:\n%s", fn, got)
		}
	})
}
