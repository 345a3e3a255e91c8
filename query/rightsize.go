package query

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// RightsizeConfig tunes the memory advice.
type RightsizeConfig struct {
	// Headroom is added to the highest memory used before rounding up.
	Headroom float64 `json:"headroom" yaml:"headroom"`
	// StepMB is the granularity of the suggested size.
	StepMB uint32 `json:"step_mb" yaml:"step_mb"`
	// MinInvocations is how many invocations a configuration needs
	// before it gets advice.
	MinInvocations uint64 `json:"min_invocations" yaml:"min_invocations"`
	// PressureFraction of the configured memory used means the function
	// is close to running out of memory.
	PressureFraction float64 `json:"pressure_fraction" yaml:"pressure_fraction"`
}

// DefaultRightsizeConfig keeps 30% headroom above the highest use, in steps
// of 64 MB, after 100 invocations, and warns above 90% use.
func DefaultRightsizeConfig() RightsizeConfig {
	return RightsizeConfig{Headroom: 0.3, StepMB: 64, MinInvocations: 100, PressureFraction: 0.9}
}

// Validate reports what makes the configuration unusable, naming the key.
func (c *RightsizeConfig) Validate() error {
	switch {
	case c.Headroom < 0 || c.Headroom > 10:
		return fmt.Errorf("headroom must be between 0 and 10, got %g", c.Headroom)
	case c.StepMB == 0:
		return fmt.Errorf("step_mb must be positive")
	case c.PressureFraction <= 0 || c.PressureFraction > 1:
		return fmt.Errorf("pressure_fraction must be in (0, 1], got %g", c.PressureFraction)
	}
	return nil
}

// Lambda's memory limits.
const (
	MinMemoryMB = 128
	MaxMemoryMB = 10240
)

// Advice actions.
const (
	AdviceDecrease = "decrease"
	AdviceIncrease = "increase"
	AdviceKeep     = "keep"
)

// Advice is the memory suggestion for one function configuration.
type Advice struct {
	AccountID       string  `json:"accountId"`
	Region          string  `json:"region"`
	FunctionName    string  `json:"functionName"`
	Architecture    string  `json:"architecture"`
	ConfiguredMB    uint32  `json:"configuredMB"`
	MaxUsedMB       uint32  `json:"maxUsedMB"`
	P99UsedMB       float64 `json:"p99UsedMB"`
	SuggestedMB     uint32  `json:"suggestedMB"`
	Action          string  `json:"action"`
	Invocations     uint64  `json:"invocations"`
	DurationP95Ms   float64 `json:"durationP95Ms"`
	MonthlyCostNow  float64 `json:"monthlyCostNow"`
	MonthlyCostThen float64 `json:"monthlyCostSuggested"`
	// MonthlySaving is MonthlyCostNow - MonthlyCostThen (negative for an
	// increase).
	MonthlySaving float64 `json:"monthlySaving"`
	Reason        string  `json:"reason"`
}

// monthSeconds is the length of the month the advice projects to.
const monthSeconds = 30 * 24 * 3600

// Advise turns memory profiles into advice. The projected monthly cost
// scales what was billed in the observed window to 30 days at the
// first-tier price, and assumes the duration stays the same at the
// suggested size (true for functions bound by I/O, optimistic for those
// bound by CPU, which Lambda gives less of with less memory).
func Advise(prices *Prices, cfg RightsizeConfig, profiles []storage.MemoryProfileRecord, window time.Duration) []Advice {
	out := []Advice{}
	for _, p := range profiles {
		if p.Invocations < cfg.MinInvocations || p.MemorySizeMB == 0 {
			continue
		}
		t, _ := prices.For(p.Region)
		rate := archPrices(t, p.Architecture).firstTierPrice()
		need := float64(p.MaxMemoryUsedMB) * (1 + cfg.Headroom)
		suggested := uint32(math.Ceil(need/float64(cfg.StepMB))) * cfg.StepMB
		suggested = min(max(suggested, MinMemoryMB), MaxMemoryMB)
		a := Advice{
			AccountID: p.AccountID, Region: p.Region, FunctionName: p.FunctionName, Architecture: p.Architecture,
			ConfiguredMB: p.MemorySizeMB, MaxUsedMB: p.MaxMemoryUsedMB, P99UsedMB: p.MemoryUsedP99MB,
			Invocations: p.Invocations, DurationP95Ms: p.DurationMsP95,
		}
		scale := float64(monthSeconds) / max(window.Seconds(), 1)
		seconds := float64(p.BilledDurationMs) / 1000 * scale
		a.MonthlyCostNow = seconds * float64(p.MemorySizeMB) / 1024 * rate
		pressure := float64(p.MaxMemoryUsedMB) >= cfg.PressureFraction*float64(p.MemorySizeMB)
		switch {
		case pressure && suggested > p.MemorySizeMB:
			a.Action, a.SuggestedMB = AdviceIncrease, suggested
			a.Reason = fmt.Sprintf("used %d of %d MB; close to running out of memory", p.MaxMemoryUsedMB, p.MemorySizeMB)
		case suggested < p.MemorySizeMB:
			a.Action, a.SuggestedMB = AdviceDecrease, suggested
			a.Reason = fmt.Sprintf("never used more than %d of %d MB", p.MaxMemoryUsedMB, p.MemorySizeMB)
		default:
			a.Action, a.SuggestedMB = AdviceKeep, p.MemorySizeMB
			a.Reason = "memory fits its use"
		}
		a.MonthlyCostThen = seconds * float64(a.SuggestedMB) / 1024 * rate
		if prices.onManagedInstances(p.AccountID, p.Region, p.FunctionName) {
			// Its duration is not billed: memory changes what fits on
			// the fleet's instances, not a price per GB-second.
			a.MonthlyCostNow, a.MonthlyCostThen = 0, 0
			a.Reason += "; runs on Managed Instances, whose memory is not billed by duration"
		}
		a.MonthlySaving = a.MonthlyCostNow - a.MonthlyCostThen
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Advice) int {
		return cmp.Or(cmp.Compare(b.MonthlySaving, a.MonthlySaving), cmp.Compare(a.FunctionName, b.FunctionName))
	})
	return out
}

// Rightsize reads the memory profiles of the range and advises on them.
func (s *Service) Rightsize(ctx context.Context, prices *Prices, cfg RightsizeConfig, r TimeRange) ([]Advice, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rightsize config: %w", err)
	}
	profiles, err := s.store.MemoryProfiles(ctx, storage.UsageFilter{Since: r.Since, Until: r.Until})
	if err != nil {
		return nil, fmt.Errorf("read memory profiles: %w", err)
	}
	return Advise(prices, cfg, profiles, r.Until.Sub(r.Since)), nil
}
