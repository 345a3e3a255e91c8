package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// MaxLocalDays bounds a cost report by the days of a zone other than UTC,
// which reads every day on its own.
const MaxLocalDays = 400

// CostView is how a cost report is cut: by the days of which zone, and
// over which functions.
type CostView struct {
	// Location is the zone whose days ByDay and the tier months group by;
	// nil is UTC.
	Location *time.Location
	// Names keep the usage of the functions they select; GB-second tiers
	// then apply to that usage only.
	Names NameFilters
}

// DayZone is the zone the report's days are in: Location, or UTC.
func (v CostView) DayZone() *time.Location {
	if v.local() {
		return v.Location
	}
	return time.UTC
}

func (v CostView) local() bool { return v.Location != nil && v.Location.String() != time.UTC.String() }

// CostIn is Cost cut by v. In a zone other than UTC each of its days in
// the range is read on its own and its rows are shown under the day's
// start there, so that ByDay groups by the days of that zone; tiered
// prices and the free tier still group by the UTC month of the
// invocations, as AWS bills them.
func (s *Service) CostIn(ctx context.Context, prices *Prices, q CostQuery, v CostView) (*CostReport, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if v.local() && q.Until.Sub(q.Since) > MaxLocalDays*24*time.Hour {
		return nil, fmt.Errorf("%w: a daily cost report in time zone %s covers at most %d days", ErrInvalidFilter, v.Location, MaxLocalDays)
	}
	var rows []UsageRow
	var est []storage.BilledEstimateRecord
	for _, d := range costDays(q.TimeRange, v) {
		r, e, err := s.usageOf(ctx, storage.UsageFilter{Since: d.from, Until: d.to, FunctionName: q.FunctionName})
		if err != nil {
			return nil, err
		}
		if v.local() {
			for i := range r {
				r[i].ReportDay = d.day
			}
			for i := range e {
				e[i].Day = d.day
			}
		}
		rows, est = append(rows, r...), append(est, e...)
	}
	if !v.Names.IsZero() {
		sel, err := s.Select(ctx, q.TimeRange, v.Names)
		if err != nil {
			return nil, err
		}
		rows = slices.DeleteFunc(rows, func(r UsageRow) bool { return !sel.Keep(r.FunctionName, "") })
		est = slices.DeleteFunc(est, func(e storage.BilledEstimateRecord) bool { return !sel.Keep(e.FunctionName, "") })
	}
	rep := PriceUsage(prices, rows, q.Since, q.Until)
	markEstimates(rep, est)
	if err := s.markRetained(ctx, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// costDay is a part of a cost report's range read on its own, and the day
// its rows are dated at (zero: their own UTC days).
type costDay struct{ from, to, day time.Time }

// costDays cuts r into the days of v's zone, or leaves it whole for UTC.
func costDays(r TimeRange, v CostView) []costDay {
	if !v.local() {
		return []costDay{{from: r.Since, to: r.Until}}
	}
	var days []costDay
	for from := r.Since; from.Before(r.Until); {
		l := from.In(v.Location)
		day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, v.Location)
		to := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, v.Location)
		if to.After(r.Until) {
			to = r.Until
		}
		days = append(days, costDay{from: from, to: to, day: day})
		from = to
	}
	return days
}

// usageOf reads the priced usage of f, SnapStart restores and streamed
// bytes attached, and
// its invocations whose billed duration is an estimate.
func (s *Service) usageOf(ctx context.Context, f storage.UsageFilter) ([]UsageRow, []storage.BilledEstimateRecord, error) {
	cu, err := s.store.CostUsage(ctx, f)
	if err != nil {
		return nil, nil, fmt.Errorf("read usage: %w", err)
	}
	rows := usageRows(cu.Usage)
	AttachRestores(rows, cu.SnapStart)
	rows = AttachStreaming(rows, cu.Streaming)
	return rows, cu.Estimates, nil
}
