package query_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
)

// TestCostIn cuts a cost report by the days of a time zone and by name
// filters, over invocations either side of a UTC midnight: payments (of
// service shop) at 23:30 and 00:30 UTC, billing at 00:40 UTC.
func TestCostIn(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	midnight := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	writeInvocation(t, st, "payments", "shop", "req-pay-1", midnight.Add(-30*time.Minute))
	writeInvocation(t, st, "payments", "shop", "req-pay-2", midnight.Add(30*time.Minute))
	writeInvocation(t, st, "billing", "", "req-bill-1", midnight.Add(40*time.Minute))
	svc := query.NewService(st)
	prices := query.DefaultPrices()
	q := query.CostQuery{TimeRange: query.TimeRange{Since: midnight.Add(-12 * time.Hour), Until: midnight.Add(12 * time.Hour)}}
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	sv := func(op, v string) query.NameFilter {
		return query.NameFilter{Key: query.NameKeyService, Operator: op, Value: v}
	}

	tests := []struct {
		name     string
		view     query.CostView
		wantDays map[string]uint64 // day (in the view's zone) → invocations
		wantFns  []string
	}{
		{"UTC days", query.CostView{}, map[string]uint64{"2026-03-01": 1, "2026-03-02": 2}, []string{"billing", "payments"}},
		{"UTC named", query.CostView{Location: time.UTC}, map[string]uint64{"2026-03-01": 1, "2026-03-02": 2}, []string{"billing", "payments"}},
		{"days east of UTC", query.CostView{Location: kolkata}, map[string]uint64{"2026-03-02": 3}, []string{"billing", "payments"}},
		{"days west of UTC", query.CostView{Location: newYork}, map[string]uint64{"2026-03-01": 3}, []string{"billing", "payments"}},
		{"a service", query.CostView{Names: names(t, sv("=", "shop"))}, map[string]uint64{"2026-03-01": 1, "2026-03-02": 1}, []string{"payments"}},
		{"a service left out, local days", query.CostView{Location: kolkata, Names: names(t, sv("!=", "shop"))},
			map[string]uint64{"2026-03-02": 1}, []string{"billing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := svc.CostIn(t.Context(), &prices, q, tt.view)
			if err != nil {
				t.Fatalf("CostIn: %v", err)
			}
			zone := tt.view.DayZone()
			got := map[string]uint64{}
			for _, l := range rep.ByDay {
				if h, m, _ := l.Day.In(zone).Clock(); h != 0 || m != 0 {
					t.Errorf("day %s does not start at midnight in %s", l.Day, zone)
				}
				got[l.Day.In(zone).Format("2006-01-02")] += l.Invocations
			}
			if len(got) != len(tt.wantDays) {
				t.Errorf("days %v, want %v", got, tt.wantDays)
			}
			for d, n := range tt.wantDays {
				if got[d] != n {
					t.Errorf("days %v, want %v", got, tt.wantDays)
					break
				}
			}
			var fns []string
			for _, l := range rep.ByFunction {
				fns = append(fns, l.FunctionName)
			}
			slices.Sort(fns)
			if !slices.Equal(fns, tt.wantFns) {
				t.Errorf("functions %v, want %v", fns, tt.wantFns)
			}
		})
	}

	t.Run("local days are bounded", func(t *testing.T) {
		long := query.CostQuery{TimeRange: query.TimeRange{Since: midnight.Add(-401 * 24 * time.Hour), Until: midnight}}
		if _, err := svc.CostIn(t.Context(), &prices, long, query.CostView{Location: kolkata}); !errors.Is(err, query.ErrInvalidFilter) {
			t.Errorf("err = %v, want ErrInvalidFilter", err)
		}
	})
}
