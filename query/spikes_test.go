package query_test

import (
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
)

// series builds per-minute points of one function ending at now: base
// minutes of baseline traffic then the window's minutes.
func series(fn string, now time.Time, baseInv, baseErr uint64, winInv, winErr uint64, cfg query.SpikeConfig) []query.FunctionPoint {
	var out []query.FunctionPoint
	n := int((cfg.Baseline + cfg.Window) / cfg.Step)
	w := int(cfg.Window / cfg.Step)
	for i := range n {
		p := query.FunctionPoint{FunctionName: fn, Start: now.Add(-time.Duration(n-i) * cfg.Step)}
		if i >= n-w {
			p.Invocations, p.Errors = winInv, winErr
		} else {
			p.Invocations, p.Errors = baseInv, baseErr
		}
		out = append(out, p)
	}
	return out
}

func TestDetectSpikes(t *testing.T) {
	cfg := query.DefaultSpikeConfig()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		points []query.FunctionPoint
		firing bool
	}{
		// 100/min with 1% errors, then 20% for 5 minutes: 100 of 500.
		{"real spike", series("api", now, 100, 1, 100, 20, cfg), true},
		// A quiet function: 2/min, 3 errors in 10 invocations (30%) is a
		// blip under the traffic guard.
		{"quiet blip", series("cron", now, 2, 0, 2, 1, cfg), false},
		// Always 10% errors: high, but its normal.
		{"steady high rate", series("flaky", now, 100, 10, 100, 10, cfg), false},
		// Doubling from 1% to 2%: under the 3× factor and 5% floor.
		{"small rise", series("api", now, 100, 1, 100, 2, cfg), false},
		// No baseline traffic, then 50% errors at 20/min: fires.
		{"new function failing", series("new", now, 0, 0, 20, 10, cfg), true},
		// Few errors: 4 in 500 stays under min_errors.
		{"few errors", append(series("api", now, 100, 0, 100, 0, cfg), query.FunctionPoint{FunctionName: "api", Start: now.Add(-time.Minute), Invocations: 0, Errors: 4}), false},
		// A spike that ended before the window is not current.
		{"old spike", series("api", now.Add(-30*time.Minute), 100, 1, 100, 50, cfg), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := query.DetectSpikes(cfg, tt.points, now)
			if len(got) != 1 {
				t.Fatalf("got %d statuses: %+v", len(got), got)
			}
			if got[0].Firing != tt.firing {
				t.Errorf("firing = %v, want %v: %s", got[0].Firing, tt.firing, got[0].Reason)
			}
			if got[0].Reason == "" {
				t.Error("no reason given")
			}
		})
	}
}

func TestSpikeThresholdAtMostOne(t *testing.T) {
	cfg := query.DefaultSpikeConfig()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	// A baseline of 70 % errors times the factor is over 100 %.
	got := query.DetectSpikes(cfg, series("api", now, 100, 70, 100, 100, cfg), now)
	if len(got) != 1 {
		t.Fatalf("got %d statuses: %+v", len(got), got)
	}
	if got[0].Threshold != 1 {
		t.Errorf("threshold = %v, want 1 (no rate passes 100 %%)", got[0].Threshold)
	}
	if !got[0].Firing {
		t.Errorf("every call failing against a 70 %% baseline does not fire: %s", got[0].Reason)
	}
}

func TestSpikeConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*query.SpikeConfig)
		want   string
	}{
		{"default", func(*query.SpikeConfig) {}, ""},
		{"step", func(c *query.SpikeConfig) { c.Step = 1500 * time.Millisecond }, "step must be a whole number of seconds"},
		{"window", func(c *query.SpikeConfig) { c.Window = 90 * time.Second }, "window must be a positive multiple of step"},
		{"baseline", func(c *query.SpikeConfig) { c.Baseline = time.Minute }, "baseline must be a multiple of step and at least window"},
		{"factor", func(c *query.SpikeConfig) { c.Factor = 0.5 }, "factor must be at least 1"},
		{"rate", func(c *query.SpikeConfig) { c.MinErrorRate = 2 }, "min_error_rate must be between 0 and 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := query.DefaultSpikeConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}
