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

// A local day that straddles the end of a UTC month puts each invocation's
// GB-seconds and requests in the tier group and free tier of its own UTC
// month, as AWS bills them, and still shows both under the local day. In
// Tokyo, 1 November runs from 31 October 15:00 UTC: one invocation of it
// falls in October (UTC), one in November.
func TestCostInTiersByUTCMonth(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	monthEnd := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	writeInvocation(t, st, "payments", "", "req-oct", monthEnd.Add(-4*time.Hour))
	writeInvocation(t, st, "payments", "", "req-nov", monthEnd.Add(3*time.Hour))
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	localDay := time.Date(2026, 11, 1, 0, 0, 0, 0, tokyo)
	prices := query.DefaultPrices()
	q := query.CostQuery{TimeRange: query.TimeRange{Since: localDay, Until: localDay.AddDate(0, 0, 1)}}
	rep, err := query.NewService(st).CostIn(t.Context(), &prices, q, query.CostView{Location: tokyo})
	if err != nil {
		t.Fatalf("CostIn: %v", err)
	}
	if len(rep.ByDay) != 1 || !rep.ByDay[0].Day.Equal(localDay) || rep.ByDay[0].Invocations != 2 {
		t.Errorf("by day = %+v, want both invocations under %s", rep.ByDay, localDay)
	}
	// 10 ms at 128 MB each.
	const gbs = 0.010 * 128 / 1024
	tiers := map[string]float64{}
	for _, g := range rep.Tiers {
		tiers[g.Month] += g.GBSeconds
	}
	if len(tiers) != 2 || tiers["2026-10"] != gbs || tiers["2026-11"] != gbs {
		t.Errorf("tier groups = %v, want %g GB-s in each of 2026-10 and 2026-11", tiers, gbs)
	}
	free := map[string]uint64{}
	for _, l := range rep.FreeTier {
		free[l.Month] += l.Requests
	}
	if len(free) != 2 || free["2026-10"] != 1 || free["2026-11"] != 1 {
		t.Errorf("free tier requests by month = %v, want one in each of 2026-10 and 2026-11", free)
	}
}
