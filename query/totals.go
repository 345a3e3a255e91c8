package query

import (
	"context"
	"time"
)

// FunctionTotals returns each function's figures over the whole range
// [Since, Until), whatever the clock: one point per function, starting at
// Since. An alert on "the last 15 minutes" reads exactly those minutes,
// not the quarter hours the clock has begun. It sums the per-step figures
// (steps of q.Step, or as FunctionFigures picks), whose first and last
// steps hold only the part inside the range: counts add up, rates are of
// the sums, InitDurationMs is the mean over every cold start, Concurrency
// the time in invocations over the range's length, memory the highest.
// Duration percentiles do not add up and are left 0.
func (s *Service) FunctionTotals(ctx context.Context, q FunctionQuery) ([]FunctionPoint, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	step := q.Step
	if step == 0 {
		step = max(time.Minute, (q.Until.Sub(q.Since) / 60).Truncate(time.Minute))
		q.Step = step
	}
	points, err := s.FunctionFigures(ctx, q)
	if err != nil {
		return nil, err
	}
	length := q.Until.Sub(q.Since)
	var out []FunctionPoint
	index := map[string]int{}
	var initSum []float64 // per output point: init ms summed over cold starts
	for i := range points {
		p := &points[i]
		j, ok := index[p.FunctionName]
		if !ok {
			j = len(out)
			index[p.FunctionName] = j
			out = append(out, FunctionPoint{Start: q.Since, FunctionName: p.FunctionName})
			initSum = append(initSum, 0)
		}
		t := &out[j]
		t.Invocations += p.Invocations
		t.Errors += p.Errors
		t.Timeouts += p.Timeouts
		t.ColdStarts += p.ColdStarts
		initSum[j] += p.InitDurationMs * float64(p.ColdStarts)
		// Concurrency is the time in invocations over the step.
		t.Concurrency += p.Concurrency * float64(step) / float64(length)
		t.MaxMemoryUsedMB = max(t.MaxMemoryUsedMB, p.MaxMemoryUsedMB)
		t.MemoryConfiguredMB = max(t.MemoryConfiguredMB, p.MemoryConfiguredMB)
	}
	for j := range out {
		t := &out[j]
		if t.Invocations > 0 {
			t.ErrorRate = float64(t.Errors) / float64(t.Invocations)
			t.ColdStartRate = float64(t.ColdStarts) / float64(t.Invocations)
		}
		if t.ColdStarts > 0 {
			t.InitDurationMs = initSum[j] / float64(t.ColdStarts)
		}
	}
	return out, nil
}
