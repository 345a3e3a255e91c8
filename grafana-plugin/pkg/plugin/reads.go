package plugin

import (
	"cmp"
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

// filterCapNotice warns that the ad hoc filters saw only the newest rows,
// when the read stopped at its maximum.
func filterCapNotice(f *data.Frame, capped bool, maxRead int, what string) {
	if capped {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("The ad hoc filters were applied to the newest %d %s only; narrow the time range to see older ones.", maxRead, what)})
	}
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
	page, err := d.searchTraces(ctx, q, m)
	if err != nil {
		return nil, err
	}
	frame := frames.TraceSearch(page.Rows, d.traceLink())
	limitNotice(frame, len(page.Rows), cmp.Or(m.Limit, query.DefaultSearchLimit), "traces")
	filterCapNotice(frame, page.Capped, query.MaxSearchLimit, "traces")
	return frame, nil
}

// searchTraces finds the traces of a search that pass its ad hoc filters,
// at most its limit.
func (d *Datasource) searchTraces(ctx context.Context, q backend.DataQuery, m QueryModel) (query.Page[query.TraceSummary], error) {
	var none query.Page[query.TraceSummary]
	minD, err := millisDuration("minDurationMs", m.MinDurationMs)
	if err != nil {
		return none, err
	}
	maxD, err := millisDuration("maxDurationMs", m.MaxDurationMs)
	if err != nil {
		return none, err
	}
	f := query.TraceSearch{
		Since: q.TimeRange.From, Until: q.TimeRange.To,
		FunctionName: strings.TrimSpace(m.FunctionName), ServiceName: strings.TrimSpace(m.ServiceName),
		SpanName: m.SpanName, Status: m.Status, MinDuration: minD, MaxDuration: maxD,
		Attributes: m.Attributes, ColdStartOnly: m.ColdStartOnly, Limit: m.Limit,
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return none, err
	}
	return svc.SearchTracesPage(ctx, f, m.names)
}

func (d *Datasource) queryServiceMap(ctx context.Context, q backend.DataQuery, qm QueryModel) (data.Frames, error) {
	r := timeRange(q)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	m, err := svc.ServiceMap(ctx, r)
	if err != nil {
		return nil, err
	}
	sel, err := svc.Select(ctx, r, qm.names)
	if err != nil {
		return nil, err
	}
	return frames.ServiceMap(sel.ServiceMap(m)), nil
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
	if m.WholeRange {
		for _, mt := range metrics {
			if strings.HasPrefix(mt.Name, "durationP") {
				return nil, fmt.Errorf("%w: %s cannot be read over the whole range (percentiles of steps do not add up); use a step", ErrInvalidQuery, mt.Name)
			}
		}
		if m.StepSeconds == 0 {
			fq.Step = 0 // picked from the range, not the panel
		}
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	read := svc.FunctionFigures
	if m.WholeRange {
		read = svc.FunctionTotals
	}
	points, err := read(ctx, fq)
	if err != nil {
		return nil, err
	}
	sel, err := svc.Select(ctx, fq.TimeRange, m.names)
	if err != nil {
		return nil, err
	}
	points = slices.DeleteFunc(points, func(p query.FunctionPoint) bool { return !sel.Keep(p.FunctionName, "") })
	if m.WholeRange {
		return frames.FunctionTotals(points, metrics, fq.TimeRange), nil
	}
	return frames.FunctionMetrics(points, metrics, fq.TimeRange, step), nil
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
	limit := cmp.Or(lq.Limit, query.DefaultLogLimit)
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	page, err := svc.LogsPage(ctx, lq, m.names)
	if err != nil {
		return nil, err
	}
	frame := frames.Logs(page.Rows, d.traceLink())
	limitNotice(frame, len(page.Rows), limit, "log lines")
	filterCapNotice(frame, page.Capped, query.MaxLogLimit, "log lines")
	return frame, nil
}

// maxLogVolumeBuckets bounds the steps of a log volume: the panel's
// interval widens to keep within it.
const maxLogVolumeBuckets = 2000

// queryLogsVolume counts the lines a logs query finds per step and level,
// for the histogram Explore draws above them.
func (d *Datasource) queryLogsVolume(ctx context.Context, q backend.DataQuery, m QueryModel) (data.Frames, error) {
	r := timeRange(q)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	lq := query.LogQuery{Since: r.Since, Until: r.Until, FunctionName: strings.TrimSpace(m.FunctionName),
		RequestID: strings.TrimSpace(m.RequestID), Text: m.Text}
	if strings.TrimSpace(m.TraceID) != "" {
		id, err := query.ParseTraceID(m.TraceID)
		if err != nil {
			return nil, err
		}
		lq.TraceID = id
	}
	step := max(time.Second, q.Interval.Truncate(time.Second))
	if minStep := (r.Until.Sub(r.Since) / maxLogVolumeBuckets).Truncate(time.Second) + time.Second; step < minStep {
		step = minStep
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	points, err := svc.LogVolume(ctx, lq, step)
	if err != nil {
		return nil, err
	}
	sel, err := svc.Select(ctx, r, m.names)
	if err != nil {
		return nil, err
	}
	points = slices.DeleteFunc(points, func(p query.LogVolumePoint) bool { return !sel.Keep(p.FunctionName, "") })
	return frames.LogVolume(points, r, step), nil
}

func (d *Datasource) queryCatalog(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	r := timeRange(q)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	fns, err := svc.Functions(ctx, r)
	if err != nil {
		return nil, err
	}
	fns = slices.DeleteFunc(fns, func(f query.FunctionInfo) bool { return !m.names.Keep(f.FunctionName, f.ServiceName) })
	return frames.Catalog(fns), nil
}
