package query

import (
	"context"
	"fmt"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// LogVolumePoint counts the log lines of one function and severity in one
// step.
type LogVolumePoint struct {
	Start        time.Time `json:"start"`
	FunctionName string    `json:"functionName"`
	// SeverityNumber and Severity are the records' own (OTLP number, text);
	// both are empty for a line that names no level in its record.
	SeverityNumber uint8  `json:"severityNumber"`
	Severity       string `json:"severity"`
	Lines          uint64 `json:"lines"`
}

// LogVolume counts the lines Logs would find for q (its limit aside) per
// step, function and severity: the histogram of a log search. Levels come
// from the records only; a JSON line's own level field is not read here.
func (s *Service) LogVolume(ctx context.Context, q LogQuery, step time.Duration) ([]LogVolumePoint, error) {
	if q.Since.IsZero() || q.Until.IsZero() || !q.Since.Before(q.Until) {
		return nil, fmt.Errorf("%w: a log volume needs a time range, since before until", ErrInvalidFilter)
	}
	if step < time.Second || step%time.Second != 0 {
		return nil, fmt.Errorf("%w: step must be a whole number of seconds, got %s", ErrInvalidFilter, step)
	}
	f := storage.LogFilter{FunctionName: q.FunctionName, Since: q.Since, Until: q.Until, RequestID: q.RequestID,
		TraceID: q.TraceID, Contains: q.Text}
	if !q.TraceID.IsZero() {
		ids, err := s.traceRequestIDs(ctx, q)
		if err != nil {
			return nil, err
		}
		f.TraceRequestIDs = ids
	}
	recs, err := s.store.LogVolume(ctx, f, step)
	if err != nil {
		return nil, fmt.Errorf("read log volume: %w", err)
	}
	out := make([]LogVolumePoint, len(recs))
	for i, r := range recs {
		out[i] = LogVolumePoint{Start: r.Start, FunctionName: r.FunctionName, SeverityNumber: r.SeverityNumber,
			Severity: r.SeverityText, Lines: r.Records}
	}
	return out, nil
}
