package plugin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/frames"
	"github.com/lambdascope/lambdascope/query"
)

// maxTraceCosts bounds how many traces a cost-per-trace list prices.
const maxTraceCosts = 100

// CostByValues are the rows a cost query can have (costBy; empty is
// "function").
var CostByValues = []string{"function", "version", "day", costByObservability, costByTenant}

func (d *Datasource) queryCost(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	if m.CostBy != "" && !slices.Contains(CostByValues, m.CostBy) {
		return nil, fmt.Errorf("%w: costBy must be function, version or day (or observability, tenant), got %q", ErrInvalidQuery, m.CostBy)
	}
	cq := query.CostQuery{TimeRange: timeRange(q), FunctionName: strings.TrimSpace(m.FunctionName)}
	if err := cq.Validate(); err != nil {
		return nil, err
	}
	if m.CostBy == costByObservability {
		return d.queryObservabilityCost(ctx, cq, m)
	}
	if m.CostBy == costByTenant {
		return d.queryTenantCost(ctx, cq, m)
	}
	view := query.CostView{Names: m.names}
	if m.CostBy == "day" {
		view.Location = d.location()
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	prices := d.settings.PriceList()
	rep, err := svc.CostIn(ctx, &prices, cq, view)
	if err != nil {
		return nil, err
	}
	switch m.CostBy {
	case "version":
		return frames.CostTable(rep, rep.ByVersion, true), nil
	case "day":
		return frames.CostByDay(rep, view.DayZone()), nil
	default:
		return frames.CostTable(rep, rep.ByFunction, false), nil
	}
}

// location is the datasource's default time zone.
func (d *Datasource) location() *time.Location {
	if d.settings.Location == nil {
		return time.UTC
	}
	return d.settings.Location
}

// Formats of a spikes query.
const (
	FormatTable      = "table"
	FormatTimeSeries = "timeSeries"
)

// spikeConfig is the detector's default configuration with the query's
// overrides.
func spikeConfig(m QueryModel) (query.SpikeConfig, error) {
	cfg := query.DefaultSpikeConfig()
	if m.WindowMinutes < 0 || m.BaselineMinutes < 0 || m.MinInvocations < 0 || m.MinErrors < 0 {
		return cfg, fmt.Errorf("%w: windowMinutes, baselineMinutes, minInvocations and minErrors must not be negative", ErrInvalidQuery)
	}
	if m.WindowMinutes > 0 {
		cfg.Window = time.Duration(m.WindowMinutes) * time.Minute
	}
	if m.BaselineMinutes > 0 {
		cfg.Baseline = time.Duration(m.BaselineMinutes) * time.Minute
	}
	if m.MinInvocations > 0 {
		cfg.MinInvocations = uint64(m.MinInvocations)
	}
	if m.MinErrors > 0 {
		cfg.MinErrors = uint64(m.MinErrors)
	}
	if cfg.Baseline > 30*24*time.Hour {
		return cfg, fmt.Errorf("%w: baselineMinutes must be at most 30 days", ErrInvalidQuery)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	return cfg, nil
}

// querySpikes judges every function's error rate against its baseline: as
// a table of verdicts at the end of the range, or as time series of the
// verdict at every step of the range.
func (d *Datasource) querySpikes(ctx context.Context, q backend.DataQuery, m QueryModel) (data.Frames, error) {
	cfg, err := spikeConfig(m)
	if err != nil {
		return nil, err
	}
	r := timeRange(q)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var series []string
	switch m.Format {
	case "", FormatTable:
	case FormatTimeSeries:
		series = m.SpikeSeries
		if len(series) == 0 {
			series = []string{"errorRate", "baselineRate"}
		}
		for _, s := range series {
			if !slices.Contains(frames.SpikeSeriesNames, s) {
				return nil, fmt.Errorf("%w: unknown spike series %q: want one of %s", ErrInvalidQuery, s, strings.Join(frames.SpikeSeriesNames, ", "))
			}
		}
	default:
		return nil, fmt.Errorf("%w: format must be table or timeSeries, got %q", ErrInvalidQuery, m.Format)
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	sel, err := svc.Select(ctx, r, m.names)
	if err != nil {
		return nil, err
	}
	keep := func(fn string) bool { return sel.Keep(fn, "") }
	fn := strings.TrimSpace(m.FunctionName)
	if series == nil {
		statuses, err := svc.Spikes(ctx, cfg, r.Until)
		if err != nil {
			return nil, err
		}
		statuses = slices.DeleteFunc(statuses, func(s query.SpikeStatus) bool {
			return fn != "" && s.FunctionName != fn || !keep(s.FunctionName)
		})
		return data.Frames{frames.SpikeTable(statuses, cfg)}, nil
	}
	every := max(cfg.Step, q.Interval.Truncate(cfg.Step))
	first := r.Since.Truncate(every)
	if first.Before(r.Since) {
		first = first.Add(every)
	}
	points, err := svc.FunctionFigures(ctx, query.FunctionQuery{
		TimeRange:    query.TimeRange{Since: first.Add(-cfg.Window - cfg.Baseline), Until: r.Until},
		FunctionName: fn, Step: cfg.Step,
	})
	if err != nil {
		return nil, err
	}
	points = slices.DeleteFunc(points, func(p query.FunctionPoint) bool { return !keep(p.FunctionName) })
	return frames.SpikeSeries(evaluateSpikes(cfg, points, first, r.Until, every), series, every), nil
}

// evaluateSpikes runs the detector at every step from first to until over
// per-step points, each time on the points of its window and baseline: the
// verdicts per function, in time order, for every function with points.
func evaluateSpikes(cfg query.SpikeConfig, points []query.FunctionPoint, first, until time.Time, every time.Duration) map[string][]query.SpikeStatus {
	byFunction := map[string][]query.FunctionPoint{}
	for _, p := range points {
		byFunction[p.FunctionName] = append(byFunction[p.FunctionName], p)
	}
	out := make(map[string][]query.SpikeStatus, len(byFunction))
	for fn, ps := range byFunction {
		slices.SortStableFunc(ps, func(a, b query.FunctionPoint) int { return a.Start.Compare(b.Start) })
		for t := first; !t.After(until); t = t.Add(every) {
			lo := sort.Search(len(ps), func(i int) bool { return !ps[i].Start.Before(t.Add(-cfg.Window - cfg.Baseline)) })
			hi := sort.Search(len(ps), func(i int) bool { return !ps[i].Start.Before(t) })
			if lo == hi {
				// Quiet: a point that says so keeps the series unbroken
				// for alert rules.
				out[fn] = append(out[fn], query.SpikeStatus{FunctionName: fn, At: t, Threshold: cfg.MinErrorRate,
					Reason: "no invocations in the window or the baseline"})
				continue
			}
			out[fn] = append(out[fn], query.DetectSpikes(cfg, ps[lo:hi], t)...)
		}
	}
	return out
}

// queryRightsize advises on the memory of every function configuration
// seen in the range.
func (d *Datasource) queryRightsize(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	cfg := query.DefaultRightsizeConfig()
	if m.MinInvocations < 0 {
		return nil, fmt.Errorf("%w: minInvocations must not be negative", ErrInvalidQuery)
	}
	if m.MinInvocations > 0 {
		cfg.MinInvocations = uint64(m.MinInvocations)
	}
	r := timeRange(q)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	prices := d.settings.PriceList()
	advice, err := svc.Rightsize(ctx, &prices, cfg, r)
	if err != nil {
		return nil, err
	}
	sel, err := svc.Select(ctx, r, m.names)
	if err != nil {
		return nil, err
	}
	fn := strings.TrimSpace(m.FunctionName)
	advice = slices.DeleteFunc(advice, func(a query.Advice) bool {
		return fn != "" && a.FunctionName != fn || !sel.Keep(a.FunctionName, "")
	})
	return frames.Rightsize(advice, prices.Tables[0].Currency), nil
}

// queryTraceCost prices one trace per invocation when the query names a
// trace, or else the traces found in the range, most expensive first.
func (d *Datasource) queryTraceCost(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	prices := d.settings.PriceList()
	if strings.TrimSpace(m.TraceID) != "" {
		id, err := query.ParseTraceID(m.TraceID)
		if err != nil {
			return nil, err
		}
		svc, err := d.connect(ctx)
		if err != nil {
			return nil, err
		}
		tc, err := svc.TraceCost(ctx, &prices, id)
		if err != nil {
			return nil, err
		}
		return frames.TraceCostInvocations(tc), nil
	}
	if m.Limit < 0 || m.Limit > maxTraceCosts {
		return nil, fmt.Errorf("%w: limit must be between 1 and %d for cost per trace, got %d", ErrInvalidQuery, maxTraceCosts, m.Limit)
	}
	m.Limit = cmp.Or(m.Limit, 20)
	page, err := d.searchTraces(ctx, q, m)
	if err != nil {
		return nil, err
	}
	found := page.Rows
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]query.TraceID, len(found))
	for i, t := range found {
		ids[i] = t.TraceID
	}
	// One read of the invocations for the whole list.
	costs, err := svc.TraceCosts(ctx, &prices, ids, timeRange(q))
	if err != nil {
		return nil, err
	}
	rows := make([]frames.TracePrice, 0, len(found))
	for i, t := range found {
		rows = append(rows, frames.TracePrice{Summary: t, Cost: costs[i]})
	}
	slices.SortStableFunc(rows, func(a, b frames.TracePrice) int { return cmp.Compare(b.Cost.Total, a.Cost.Total) })
	frame := frames.TraceCosts(rows, prices.Tables[0].Currency, d.traceLink())
	limitNotice(frame, len(found), m.Limit, "traces")
	return frame, nil
}
