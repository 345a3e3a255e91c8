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
	"github.com/lambdascope/lambdascope/storage"
)

// maxLocalDays bounds a daily cost report in a time zone other than UTC,
// which reads every day on its own.
const maxLocalDays = 400

// maxTraceCosts bounds how many traces a cost-per-trace list prices.
const maxTraceCosts = 100

func (d *Datasource) queryCost(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	switch m.CostBy {
	case "", "function", "version", "day", costByObservability, costByTenant:
	default:
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
	loc := d.location()
	localDays := m.CostBy == "day" && loc.String() != time.UTC.String()
	if localDays && cq.Until.Sub(cq.Since) > maxLocalDays*24*time.Hour {
		return nil, fmt.Errorf("%w: a daily cost report in time zone %s covers at most %d days", ErrInvalidQuery, loc, maxLocalDays)
	}
	st, svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	prices := d.settings.PriceList()
	var rep *query.CostReport
	if !m.names.post && !localDays {
		if rep, err = svc.Cost(ctx, &prices, cq); err != nil {
			return nil, err
		}
	} else {
		rows, err := usageRows(ctx, st, cq, loc, localDays)
		if err != nil {
			return nil, err
		}
		if m.names.post {
			svcOf, err := d.servicesOf(ctx, svc, cq.TimeRange, m.names)
			if err != nil {
				return nil, err
			}
			rows = slices.DeleteFunc(rows, func(r query.UsageRow) bool { return !m.names.keep(r.FunctionName, svcOf[r.FunctionName]) })
		}
		rep = query.PriceUsage(&prices, rows, cq.Since, cq.Until)
	}
	switch m.CostBy {
	case "version":
		return frames.CostTable(rep, rep.ByVersion, true), nil
	case "day":
		if !localDays {
			loc = time.UTC
		}
		return frames.CostByDay(rep, loc), nil
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

// usageRows reads the usage of q. With localDays each day of loc is read on
// its own and its rows are dated at the day's start in loc, so that a cost
// report groups by the days of that zone rather than by UTC days. (Tiered
// prices still group by UTC month of that instant: the first local day of
// a month east of UTC counts towards the month before.)
func usageRows(ctx context.Context, st *storage.Store, q query.CostQuery, loc *time.Location, localDays bool) ([]query.UsageRow, error) {
	type span struct {
		from, to, day time.Time
	}
	spans := []span{{from: q.Since, to: q.Until}}
	if localDays {
		spans = spans[:0]
		for from := q.Since; from.Before(q.Until); {
			l := from.In(loc)
			day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
			to := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
			if to.After(q.Until) {
				to = q.Until
			}
			spans = append(spans, span{from: from, to: to, day: day})
			from = to
		}
	}
	var rows []query.UsageRow
	for _, s := range spans {
		f := storage.UsageFilter{Since: s.from, Until: s.to, FunctionName: q.FunctionName}
		recs, err := st.Usage(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("read usage: %w", err)
		}
		snaps, err := st.SnapStartUsage(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("read SnapStart usage: %w", err)
		}
		part := make([]query.UsageRow, 0, len(recs))
		for _, r := range recs {
			part = append(part, query.UsageRow{
				Day: r.Day, AccountID: r.AccountID, Region: r.Region, FunctionName: r.FunctionName, Version: r.FunctionVersion,
				Architecture: r.Architecture, MemorySizeMB: r.MemorySizeMB, EphemeralStorageMB: r.EphemeralStorageMB,
				InitializationType: r.InitializationType, Invocations: r.Invocations, BilledDurationMs: r.BilledDurationMs,
				BilledInitDurationMs: r.BilledInitDurationMs, DurationMs: r.DurationMs, MaxMemoryUsedMB: r.MaxMemoryUsedMB,
			})
		}
		query.AttachRestores(part, snaps)
		for i := range part {
			if localDays {
				part[i].Day = s.day
			}
		}
		rows = append(rows, part...)
	}
	return rows, nil
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
	_, svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	svcOf, err := d.servicesOf(ctx, svc, r, m.names)
	if err != nil {
		return nil, err
	}
	keep := func(fn string) bool { return m.names.keep(fn, svcOf[fn]) }
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
	_, svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	prices := d.settings.PriceList()
	advice, err := svc.Rightsize(ctx, &prices, cfg, r)
	if err != nil {
		return nil, err
	}
	svcOf, err := d.servicesOf(ctx, svc, r, m.names)
	if err != nil {
		return nil, err
	}
	fn := strings.TrimSpace(m.FunctionName)
	advice = slices.DeleteFunc(advice, func(a query.Advice) bool {
		return fn != "" && a.FunctionName != fn || !m.names.keep(a.FunctionName, svcOf[a.FunctionName])
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
		_, svc, err := d.connect(ctx)
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
	found, _, _, err := d.searchTraces(ctx, q, m)
	if err != nil {
		return nil, err
	}
	_, svc, err := d.connect(ctx)
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

// filterServiceMap keeps the part of m the name filters select: an edge
// stays when no end is excluded (!=, !~) and, for each = or =~ filter, one
// end is selected; a node stays when an edge kept it or it passes the
// filters itself. Function filters judge function nodes, service filters
// service nodes and the services of function nodes.
func filterServiceMap(m *query.ServiceMap, n nameFilters, svcOf map[string]string) *query.ServiceMap {
	kinds := make(map[string]string, len(m.Nodes))
	for _, node := range m.Nodes {
		kinds[node.Name] = node.Kind
	}
	hits := func(mt nameMatcher, service bool, name string) bool {
		switch {
		case !service:
			return kinds[name] == query.NodeFunction && mt.hit(name)
		case kinds[name] == query.NodeService:
			return mt.hit(name)
		case kinds[name] == query.NodeFunction:
			return mt.hit(svcOf[name])
		}
		return false
	}
	all := func(fn func(mt nameMatcher, service bool) bool) bool {
		for _, mt := range n.function {
			if !fn(mt, false) {
				return false
			}
		}
		for _, mt := range n.service {
			if !fn(mt, true) {
				return false
			}
		}
		return true
	}
	out := &query.ServiceMap{Nodes: []query.MapNode{}, Edges: []query.MapEdge{}}
	onEdge := map[string]bool{}
	for _, e := range m.Edges {
		keep := all(func(mt nameMatcher, service bool) bool {
			a, b := hits(mt, service, e.Caller), hits(mt, service, e.Callee)
			if mt.negative() {
				return !a && !b
			}
			return a || b
		})
		if keep {
			out.Edges = append(out.Edges, e)
			onEdge[e.Caller], onEdge[e.Callee] = true, true
		}
	}
	for _, node := range m.Nodes {
		keep := onEdge[node.Name] || all(func(mt nameMatcher, service bool) bool {
			return hits(mt, service, node.Name) != mt.negative()
		})
		if keep {
			out.Nodes = append(out.Nodes, node)
		}
	}
	return out
}
