package query

import (
	"context"
	"fmt"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// VersionFirstSeen is when one version of a function was first invoked in
// a range.
type VersionFirstSeen struct {
	FunctionName string    `json:"functionName"`
	Version      string    `json:"version"`
	FirstSeen    time.Time `json:"firstSeen"`
}

// VersionsFirstSeen lists every version invoked in the range (of one
// function, when named) with its first invocation there: a version first
// seen after the range began was deployed then, if the range reaches back
// far enough.
func (s *Service) VersionsFirstSeen(ctx context.Context, r TimeRange, functionName string) ([]VersionFirstSeen, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	recs, err := s.store.VersionsFirstSeen(ctx, storage.UsageFilter{Since: r.Since, Until: r.Until, FunctionName: functionName})
	if err != nil {
		return nil, fmt.Errorf("read versions first seen: %w", err)
	}
	out := make([]VersionFirstSeen, len(recs))
	for i, rec := range recs {
		out[i] = VersionFirstSeen{FunctionName: rec.FunctionName, Version: rec.FunctionVersion, FirstSeen: rec.FirstSeen}
	}
	return out, nil
}

// Tenants lists the tenants (tenant isolation mode) of the invocations in
// the range, of one function when named, sorted, at most
// DefaultPickerLimit.
func (s *Service) Tenants(ctx context.Context, r TimeRange, functionName string) ([]string, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	out, err := s.store.Tenants(ctx, storage.UsageFilter{Since: r.Since, Until: r.Until, FunctionName: functionName}, DefaultPickerLimit)
	if err != nil {
		return nil, fmt.Errorf("read tenants: %w", err)
	}
	return out, nil
}
