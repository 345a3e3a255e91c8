package query

import (
	"context"
	"fmt"

	"github.com/lambdascope/lambdascope/storage"
)

// DroppedLogs is how many log records Lambda dropped for one function over
// a range because the extension did not take them in time
// (platform.logsDropped), as the extension counted them.
type DroppedLogs struct {
	FunctionName string `json:"functionName"`
	Records      uint64 `json:"records"`
	// Environments counts the execution environments that dropped some.
	Environments uint64 `json:"environments"`
}

// LogsDropped lists the functions that lost log records over the range,
// most first. An environment that started before the range counts only
// what it reported dropping between its first and last report in the
// range.
func (s *Service) LogsDropped(ctx context.Context, r TimeRange, functionName string) ([]DroppedLogs, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	recs, err := s.store.LogsDropped(ctx, storage.UsageFilter{Since: r.Since, Until: r.Until, FunctionName: functionName})
	if err != nil {
		return nil, fmt.Errorf("read dropped logs: %w", err)
	}
	out := make([]DroppedLogs, len(recs))
	for i, rec := range recs {
		out[i] = DroppedLogs{FunctionName: rec.FunctionName, Records: rec.Records, Environments: rec.Environments}
	}
	return out, nil
}
