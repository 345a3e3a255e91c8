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

// Kinds of annotations an annotations query marks.
const (
	AnnotationErrorSpikes     = "errorSpikes"
	AnnotationColdStartStorms = "coldStartStorms"
	AnnotationDeployments     = "deployments"
)

// defaultMinColdStarts is how many cold starts in a minute make a storm.
const defaultMinColdStarts = 10

// deploymentLookback is how far before the range a version must not have
// run for its first invocation in the range to count as a deployment.
const deploymentLookback = 30 * 24 * time.Hour

// queryAnnotations marks, per function, the periods the error spike
// detector fired, the minutes with at least minColdStarts cold starts
// (consecutive ones as one period), or the first invocation of each
// version (deployments).
func (d *Datasource) queryAnnotations(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	r := timeRange(q)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if m.MinColdStarts < 0 {
		return nil, fmt.Errorf("%w: minColdStarts must not be negative", ErrInvalidQuery)
	}
	fn := strings.TrimSpace(m.FunctionName)
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	sel, err := svc.Select(ctx, r, m.names)
	if err != nil {
		return nil, err
	}
	keep := func(f string) bool { return (fn == "" || f == fn) && sel.Keep(f, "") }
	var out []frames.Annotation
	switch m.Annotation {
	case AnnotationErrorSpikes:
		out, err = d.spikeAnnotations(ctx, svc, r, m, fn)
	case AnnotationColdStartStorms:
		out, err = coldStartAnnotations(ctx, svc, r, fn, uint64(cmp.Or(m.MinColdStarts, defaultMinColdStarts)))
	case AnnotationDeployments:
		out, err = deploymentAnnotations(ctx, svc, r, fn)
	default:
		return nil, fmt.Errorf("%w: annotation must be %s, %s or %s, got %q", ErrInvalidQuery,
			AnnotationErrorSpikes, AnnotationColdStartStorms, AnnotationDeployments, m.Annotation)
	}
	if err != nil {
		return nil, err
	}
	out = slices.DeleteFunc(out, func(a frames.Annotation) bool { return !keep(a.Tags[len(a.Tags)-1]) })
	slices.SortStableFunc(out, func(a, b frames.Annotation) int { return a.Time.Compare(b.Time) })
	return frames.Annotations(out), nil
}

// spikeAnnotations are the periods the detector fired, one per run of
// firing steps, titled with the function and told with the verdict at the
// highest error rate of the run.
func (d *Datasource) spikeAnnotations(ctx context.Context, svc *query.Service, r query.TimeRange, m QueryModel, fn string) ([]frames.Annotation, error) {
	cfg, err := spikeConfig(m)
	if err != nil {
		return nil, err
	}
	first := r.Since.Truncate(cfg.Step)
	if first.Before(r.Since) {
		first = first.Add(cfg.Step)
	}
	points, err := svc.FunctionFigures(ctx, query.FunctionQuery{
		TimeRange: query.TimeRange{Since: first.Add(-cfg.Window - cfg.Baseline), Until: r.Until}, FunctionName: fn, Step: cfg.Step,
	})
	if err != nil {
		return nil, err
	}
	var out []frames.Annotation
	for f, statuses := range evaluateSpikes(cfg, points, first, r.Until, cfg.Step) {
		var run []query.SpikeStatus
		flush := func() {
			if len(run) == 0 {
				return
			}
			peak := slices.MaxFunc(run, func(a, b query.SpikeStatus) int { return cmp.Compare(a.ErrorRate, b.ErrorRate) })
			out = append(out, frames.Annotation{Time: run[0].At, TimeEnd: run[len(run)-1].At,
				Title: "Error spike: " + f, Text: peak.Reason, Tags: []string{"lambdascope", "error-spike", f}})
			run = run[:0]
		}
		for _, s := range statuses {
			if s.Firing {
				run = append(run, s)
				continue
			}
			flush()
		}
		flush()
	}
	return out, nil
}

// coldStartAnnotations are the minutes with at least min cold starts of a
// function, consecutive minutes as one period.
func coldStartAnnotations(ctx context.Context, svc *query.Service, r query.TimeRange, fn string, minColdStarts uint64) ([]frames.Annotation, error) {
	points, err := svc.FunctionFigures(ctx, query.FunctionQuery{TimeRange: r, FunctionName: fn, Step: time.Minute})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(points, func(a, b query.FunctionPoint) int {
		return cmp.Or(cmp.Compare(a.FunctionName, b.FunctionName), a.Start.Compare(b.Start))
	})
	var out []frames.Annotation
	var cur *frames.Annotation
	var coldStarts, minutes uint64
	flush := func() {
		if cur != nil {
			cur.Text = fmt.Sprintf("%d cold starts in %d minute(s)", coldStarts, minutes)
			out = append(out, *cur)
			cur = nil
		}
	}
	for _, p := range points {
		if p.ColdStarts < minColdStarts {
			continue
		}
		if cur != nil && (cur.Tags[2] != p.FunctionName || !cur.TimeEnd.Equal(p.Start)) {
			flush()
		}
		if cur == nil {
			cur = &frames.Annotation{Time: p.Start, Title: "Cold-start storm: " + p.FunctionName,
				Tags: []string{"lambdascope", "cold-starts", p.FunctionName}}
			coldStarts, minutes = 0, 0
		}
		cur.TimeEnd = p.Start.Add(time.Minute)
		coldStarts += p.ColdStarts
		minutes++
	}
	flush()
	return out, nil
}

// deploymentAnnotations mark the first invocation of each version of a
// function in the range that had not run in the 30 days before it.
func deploymentAnnotations(ctx context.Context, svc *query.Service, r query.TimeRange, fn string) ([]frames.Annotation, error) {
	firsts, err := svc.VersionsFirstSeen(ctx, query.TimeRange{Since: r.Since.Add(-deploymentLookback), Until: r.Until}, fn)
	if err != nil {
		return nil, err
	}
	var out []frames.Annotation
	for _, v := range firsts {
		if v.FirstSeen.Before(r.Since) {
			continue
		}
		out = append(out, frames.Annotation{Time: v.FirstSeen, Title: "Deployed: " + v.FunctionName + " " + v.Version,
			Text: fmt.Sprintf("Version %s of %s ran for the first time (not seen in the %d days before).", v.Version, v.FunctionName, int(deploymentLookback.Hours()/24)),
			Tags: []string{"lambdascope", "deployment", v.FunctionName}})
	}
	return out, nil
}
