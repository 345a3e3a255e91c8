package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/frames"
	"github.com/lambdascope/lambdascope/query"
)

func (d *Datasource) traceLink() frames.TraceLink {
	return frames.TraceLink{DatasourceUID: d.uid, DatasourceName: d.name}
}

func timeRange(q backend.DataQuery) query.TimeRange {
	return query.TimeRange{Since: q.TimeRange.From, Until: q.TimeRange.To}
}

// limitNotice warns that a list stopped at its limit.
func limitNotice(f *data.Frame, got, limit int, what string) {
	if got >= limit {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("Showing the newest %d %s; narrow the time range or raise the limit to see more.", limit, what)})
	}
}

func millisDuration(name string, ms float64) (time.Duration, error) {
	if ms < 0 {
		return 0, fmt.Errorf("%w: %s must not be negative", ErrInvalidQuery, name)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

func (d *Datasource) querySearch(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	minD, err := millisDuration("minDurationMs", m.MinDurationMs)
	if err != nil {
		return nil, err
	}
	maxD, err := millisDuration("maxDurationMs", m.MaxDurationMs)
	if err != nil {
		return nil, err
	}
	f := query.TraceSearch{
		Since: q.TimeRange.From, Until: q.TimeRange.To,
		FunctionName: strings.TrimSpace(m.FunctionName), ServiceName: strings.TrimSpace(m.ServiceName),
		SpanName: m.SpanName, Status: m.Status, MinDuration: minD, MaxDuration: maxD,
		Attributes: m.Attributes, ColdStartOnly: m.ColdStartOnly, Limit: m.Limit,
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	_, svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	found, err := svc.SearchTraces(ctx, f)
	if err != nil {
		return nil, err
	}
	frame := frames.TraceSearch(found, d.traceLink())
	limit := f.Limit
	if limit == 0 {
		limit = query.DefaultSearchLimit
	}
	limitNotice(frame, len(found), limit, "traces")
	return frame, nil
}

func (d *Datasource) queryServiceMap(ctx context.Context, q backend.DataQuery) (data.Frames, error) {
	r := timeRange(q)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	_, svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	m, err := svc.ServiceMap(ctx, r)
	if err != nil {
		return nil, err
	}
	return frames.ServiceMap(m), nil
}

// metricsStep is the bucket width of a metrics query: the query's own, or
// the panel's interval, never under a second.
func metricsStep(q backend.DataQuery, m QueryModel) (time.Duration, error) {
	if m.StepSeconds < 0 {
		return 0, fmt.Errorf("%w: stepSeconds must not be negative", ErrInvalidQuery)
	}
	if m.StepSeconds > 0 {
		return time.Duration(m.StepSeconds) * time.Second, nil
	}
	return max(time.Minute, q.Interval.Truncate(time.Second)), nil
}

func (d *Datasource) queryMetrics(ctx context.Context, q backend.DataQuery, m QueryModel) (data.Frames, error) {
	names := m.Metrics
	if len(names) == 0 {
		names = []string{"invocations"}
	}
	metrics := make([]frames.Metric, 0, len(names))
	for _, n := range names {
		mt, ok := frames.MetricByName(n)
		if !ok {
			return nil, fmt.Errorf("%w: unknown metric %q: want one of %s", ErrInvalidQuery, n, strings.Join(frames.MetricNames(), ", "))
		}
		metrics = append(metrics, mt)
	}
	step, err := metricsStep(q, m)
	if err != nil {
		return nil, err
	}
	fq := query.FunctionQuery{TimeRange: timeRange(q), FunctionName: strings.TrimSpace(m.FunctionName), Step: step}
	if err := fq.Validate(); err != nil {
		return nil, err
	}
	_, svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	points, err := svc.FunctionFigures(ctx, fq)
	if err != nil {
		return nil, err
	}
	if len(m.excludeFunctions) > 0 {
		points = slices.DeleteFunc(points, func(p query.FunctionPoint) bool { return slices.Contains(m.excludeFunctions, p.FunctionName) })
	}
	return frames.FunctionMetrics(points, metrics), nil
}

func (d *Datasource) queryLogs(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	lq := query.LogQuery{
		Since: q.TimeRange.From, Until: q.TimeRange.To, FunctionName: strings.TrimSpace(m.FunctionName),
		RequestID: strings.TrimSpace(m.RequestID), Text: m.Text, Limit: m.Limit,
	}
	if strings.TrimSpace(m.TraceID) != "" {
		id, err := query.ParseTraceID(m.TraceID)
		if err != nil {
			return nil, err
		}
		lq.TraceID = id
	}
	_, svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	lines, err := svc.Logs(ctx, lq)
	if err != nil {
		return nil, err
	}
	frame := frames.Logs(lines, d.traceLink())
	limit := lq.Limit
	if limit == 0 {
		limit = query.DefaultLogLimit
	}
	limitNotice(frame, len(lines), limit, "log lines")
	return frame, nil
}

func (d *Datasource) queryCatalog(ctx context.Context, q backend.DataQuery) (*data.Frame, error) {
	r := timeRange(q)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	_, svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	fns, err := svc.Functions(ctx, r)
	if err != nil {
		return nil, err
	}
	return frames.Catalog(fns), nil
}

func (d *Datasource) queryCost(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	switch m.CostBy {
	case "", "function", "version", "day":
	default:
		return nil, fmt.Errorf("%w: costBy must be function, version or day, got %q", ErrInvalidQuery, m.CostBy)
	}
	cq := query.CostQuery{TimeRange: timeRange(q), FunctionName: strings.TrimSpace(m.FunctionName)}
	if err := cq.Validate(); err != nil {
		return nil, err
	}
	_, svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	prices := query.DefaultPrices()
	rep, err := svc.Cost(ctx, &prices, cq)
	if err != nil {
		return nil, err
	}
	switch m.CostBy {
	case "version":
		return frames.CostTable(rep, rep.ByVersion, true), nil
	case "day":
		return frames.CostByDay(rep), nil
	default:
		return frames.CostTable(rep, rep.ByFunction, false), nil
	}
}
