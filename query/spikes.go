package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// SpikeConfig tunes the error-spike detector.
type SpikeConfig struct {
	// Window is the recent span whose error rate is judged.
	Window time.Duration `json:"window" yaml:"window"`
	// Baseline is the span before Window the rate is compared with.
	Baseline time.Duration `json:"baseline" yaml:"baseline"`
	// Step is the bucket width the figures are read in.
	Step time.Duration `json:"step" yaml:"step"`
	// MinInvocations and MinErrors in Window guard quiet functions.
	MinInvocations uint64 `json:"min_invocations" yaml:"min_invocations"`
	MinErrors      uint64 `json:"min_errors" yaml:"min_errors"`
	// MinErrorRate is the lowest current error rate that can fire.
	MinErrorRate float64 `json:"min_error_rate" yaml:"min_error_rate"`
	// Factor is how many times its baseline rate the current rate must
	// reach.
	Factor float64 `json:"factor" yaml:"factor"`
	// Sigmas is how far above the baseline, in binomial standard
	// deviations at the current traffic, the current rate must be.
	Sigmas float64 `json:"sigmas" yaml:"sigmas"`
}

// DefaultSpikeConfig judges the last 5 minutes against the hour before.
func DefaultSpikeConfig() SpikeConfig {
	return SpikeConfig{
		Window: 5 * time.Minute, Baseline: time.Hour, Step: time.Minute,
		MinInvocations: 20, MinErrors: 5, MinErrorRate: 0.05, Factor: 3, Sigmas: 3,
	}
}

// Validate reports what makes the configuration unusable, naming the key.
func (c *SpikeConfig) Validate() error {
	var errs []error
	if c.Step < time.Second || c.Step%time.Second != 0 {
		errs = append(errs, fmt.Errorf("step must be a whole number of seconds, got %s", c.Step))
	}
	if c.Window < c.Step || c.Step > 0 && c.Window%c.Step != 0 {
		errs = append(errs, fmt.Errorf("window must be a positive multiple of step, got %s", c.Window))
	}
	if c.Baseline < c.Window || c.Step > 0 && c.Baseline%c.Step != 0 {
		errs = append(errs, fmt.Errorf("baseline must be a multiple of step and at least window, got %s", c.Baseline))
	}
	if c.MinErrorRate < 0 || c.MinErrorRate > 1 {
		errs = append(errs, fmt.Errorf("min_error_rate must be between 0 and 1, got %g", c.MinErrorRate))
	}
	if c.Factor < 1 {
		errs = append(errs, fmt.Errorf("factor must be at least 1, got %g", c.Factor))
	}
	if c.Sigmas < 0 {
		errs = append(errs, fmt.Errorf("sigmas must not be negative, got %g", c.Sigmas))
	}
	return errors.Join(errs...)
}

// SpikeStatus is the verdict on one function.
type SpikeStatus struct {
	FunctionName        string    `json:"functionName"`
	Firing              bool      `json:"firing"`
	At                  time.Time `json:"at"`
	Invocations         uint64    `json:"invocations"`
	Errors              uint64    `json:"errors"`
	ErrorRate           float64   `json:"errorRate"`
	BaselineInvocations uint64    `json:"baselineInvocations"`
	BaselineErrors      uint64    `json:"baselineErrors"`
	BaselineRate        float64   `json:"baselineRate"`
	// Threshold is the rate the current one had to reach, at most 1.
	Threshold float64 `json:"threshold"`
	Reason    string  `json:"reason"`
	// Partial says At falls inside a step: the window's last step, the
	// current one, is judged with what it holds so far.
	Partial bool `json:"partial,omitempty"`
}

// spikeWindow returns the start of the window judged at now: the last
// Window of whole steps, ending with the step now falls in. When now is
// inside a step (partial), that step counts with what it holds so far, so
// a burst is seen in its first minute.
func spikeWindow(cfg SpikeConfig, now time.Time) (start time.Time, partial bool) {
	end := now
	if cfg.Step > 0 {
		if end = now.Truncate(cfg.Step); end.Before(now) {
			end, partial = end.Add(cfg.Step), true
		}
	}
	return end.Add(-cfg.Window), partial
}

// DetectSpikes judges each function's error rate in the Window up to now
// against its rate in the Baseline before that, from per-step points. When
// now falls inside a step, the window is the steps up to and including
// that one (its point holding what happened until now) and the verdicts
// are marked Partial.
func DetectSpikes(cfg SpikeConfig, points []FunctionPoint, now time.Time) []SpikeStatus {
	winStart, partial := spikeWindow(cfg, now)
	baseStart := winStart.Add(-cfg.Baseline)
	type sums struct{ inv, errs, baseInv, baseErrs uint64 }
	by := map[string]*sums{}
	for _, p := range points {
		s := by[p.FunctionName]
		if s == nil {
			s = &sums{}
			by[p.FunctionName] = s
		}
		switch {
		case !p.Start.Before(winStart) && p.Start.Before(now):
			s.inv, s.errs = s.inv+p.Invocations, s.errs+p.Errors
		case !p.Start.Before(baseStart) && p.Start.Before(winStart):
			s.baseInv, s.baseErrs = s.baseInv+p.Invocations, s.baseErrs+p.Errors
		}
	}
	out := make([]SpikeStatus, 0, len(by))
	for fn, s := range by {
		st := SpikeStatus{FunctionName: fn, At: now, Invocations: s.inv, Errors: s.errs,
			BaselineInvocations: s.baseInv, BaselineErrors: s.baseErrs, Partial: partial}
		if s.inv > 0 {
			st.ErrorRate = float64(s.errs) / float64(s.inv)
		}
		// A baseline with too little traffic to judge by counts as error
		// free: only the fixed floor and the guards apply.
		if s.baseInv >= cfg.MinInvocations {
			st.BaselineRate = float64(s.baseErrs) / float64(s.baseInv)
		}
		sigma := math.Sqrt(st.BaselineRate * (1 - st.BaselineRate) / float64(max(s.inv, 1)))
		// No rate passes 100 %: a high baseline asks for every call to fail.
		st.Threshold = min(1, max(cfg.MinErrorRate, st.BaselineRate*cfg.Factor, st.BaselineRate+cfg.Sigmas*sigma))
		switch {
		case s.inv < cfg.MinInvocations:
			st.Reason = fmt.Sprintf("too little traffic: %d invocations (need %d)", s.inv, cfg.MinInvocations)
		case s.errs < cfg.MinErrors:
			st.Reason = fmt.Sprintf("too few errors: %d (need %d)", s.errs, cfg.MinErrors)
		case st.ErrorRate < st.Threshold:
			st.Reason = fmt.Sprintf("error rate %.1f%% below threshold %.1f%%", 100*st.ErrorRate, 100*st.Threshold)
		default:
			st.Firing = true
			st.Reason = fmt.Sprintf("error rate %.1f%% (%d of %d) against a baseline of %.1f%%",
				100*st.ErrorRate, s.errs, s.inv, 100*st.BaselineRate)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b SpikeStatus) int { return cmp.Compare(a.FunctionName, b.FunctionName) })
	return out
}

// Spikes reads the figures of the last Window+Baseline up to now and
// judges every function at now: the current step, when now falls inside
// one, counts with what it holds so far (the verdicts are Partial), so a
// burst shows in its first minute.
func (s *Service) Spikes(ctx context.Context, cfg SpikeConfig, now time.Time) ([]SpikeStatus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("spike config: %w", err)
	}
	winStart, _ := spikeWindow(cfg, now)
	points, err := s.FunctionFigures(ctx, FunctionQuery{
		TimeRange: TimeRange{Since: winStart.Add(-cfg.Baseline), Until: now},
		Step:      cfg.Step,
	})
	if err != nil {
		return nil, err
	}
	return DetectSpikes(cfg, points, now), nil
}
