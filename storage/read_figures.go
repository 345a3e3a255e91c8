package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// FunctionBucketRecord is one function's figures over one time bucket.
type FunctionBucketRecord struct {
	Start        time.Time
	FunctionName string
	Invocations  uint64
	// Errors counts every status but success (error, timeout, failure).
	Errors     uint64
	Timeouts   uint64
	ColdStarts uint64
	// InitDurationMs is the mean init duration of the cold starts.
	InitDurationMs                              float64
	DurationMsP50, DurationMsP95, DurationMsP99 float64
	// DurationMsSum is the time spent in invocations, for the mean and the
	// concurrency estimate.
	DurationMsSum                       float64
	MaxMemoryUsedMB, MemoryConfiguredMB uint32
}

// MaxBuckets bounds the buckets FunctionBuckets returns per function.
const MaxBuckets = 100_000

// FunctionBuckets aggregates invocations per function per step (whole
// seconds, at least one) in the filter's range. At whole-minute steps the
// buckets the function_figures view holds whole are read from it, when it
// is dense enough to be faster (figuresViewRange); the duration quantiles
// of those buckets are t-digest estimates, everything else is the same.
func (s *Store) FunctionBuckets(ctx context.Context, f UsageFilter, step time.Duration) ([]FunctionBucketRecord, error) {
	if err := f.check("read function figures"); err != nil {
		return nil, err
	}
	if step < time.Second || step%time.Second != 0 {
		return nil, fmt.Errorf("read function figures: step must be a whole number of seconds, got %s", step)
	}
	if f.Until.Sub(f.Since)/step > MaxBuckets {
		return nil, fmt.Errorf("read function figures: step %s makes more than %d buckets", step, MaxBuckets)
	}
	lo, hi, err := s.figuresViewRange(ctx, f, step)
	if err != nil {
		return nil, err
	}
	if !lo.Before(hi) {
		return s.functionBuckets(ctx, f, step, functionBucketsSQL)
	}
	// Buckets wholly inside [lo, hi) come from the view, the others from
	// the raw table: each bucket from one source, so nothing is merged.
	var out []FunctionBucketRecord
	for _, part := range []struct {
		since, until time.Time
		build        func(string, UsageFilter, time.Duration) (string, []any)
	}{
		{f.Since, lo, functionBucketsSQL},
		{lo, hi, functionFiguresSQL},
		{hi, f.Until, functionBucketsSQL},
	} {
		if !part.since.Before(part.until) {
			continue
		}
		pf := f
		pf.Since, pf.Until = part.since, part.until
		recs, err := s.functionBuckets(ctx, pf, step, part.build)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	slices.SortStableFunc(out, func(a, b FunctionBucketRecord) int {
		if c := strings.Compare(a.FunctionName, b.FunctionName); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
	return out, nil
}

// figuresViewRange is the part of f's range the function_figures view can
// answer at this step: whole buckets that start after the view's horizon.
// It is empty when the step is not whole minutes or no horizon is known.
func (s *Store) figuresViewRange(ctx context.Context, f UsageFilter, step time.Duration) (lo, hi time.Time, err error) {
	if step%time.Minute != 0 {
		return time.Time{}, time.Time{}, nil
	}
	horizon, ok, err := s.viewHorizon(ctx, "function_figures")
	if err != nil || !ok {
		return time.Time{}, time.Time{}, err
	}
	if dense, err := s.figuresViewDense(ctx); err != nil || !dense {
		return time.Time{}, time.Time{}, err
	}
	sec := int64(step / time.Second)
	first := ceilUnix(f.Since)
	first = (first + sec - 1) / sec * sec
	// The first bucket boundary whose start is after the horizon.
	after := (int64(horizon/1e9)/sec + 1) * sec
	if horizon == 0 {
		after = 0
	}
	last := f.Until.Unix() / sec * sec
	return time.Unix(max(first, after), 0).UTC(), time.Unix(last, 0).UTC(), nil
}

// figuresViewMinDensity is how many invocations a function_figures row must
// hold on average for the view to be read. A t-digest state costs more to
// merge than a raw row does to aggregate: at one invocation per function
// and minute the view is no faster than the raw table (docs/benchmarks.md,
// "Query"), and slower once the edges are read from raw rows beside it.
const figuresViewMinDensity = 2

// figuresViewDense tells whether the function_figures view holds at least
// figuresViewMinDensity invocations per row, from the row counts of the
// server's active parts.
func (s *Store) figuresViewDense(ctx context.Context) (bool, error) {
	query, args := partRowsSQL(s.database, "invocations", "function_figures")
	rows := map[string]uint64{}
	err := s.scanAll(ctx, "part rows", query, args, func(r driver.Rows) error {
		var (
			table string
			n     uint64
		)
		if err := r.Scan(&table, &n); err != nil {
			return err
		}
		rows[strings.TrimSuffix(table, localSuffix)] += n
		return nil
	})
	if err != nil {
		return false, err
	}
	view := rows["function_figures"]
	return view > 0 && rows["invocations"] >= figuresViewMinDensity*view, nil
}

func (s *Store) functionBuckets(ctx context.Context, f UsageFilter, step time.Duration,
	build func(string, UsageFilter, time.Duration) (string, []any)) ([]FunctionBucketRecord, error) {
	query, args := build(s.database, f, step)
	var out []FunctionBucketRecord
	err := s.scanAll(ctx, "function figures", query, args, func(rows driver.Rows) error {
		var (
			r      FunctionBucketRecord
			bucket uint64
			qs     []float64
		)
		if err := rows.Scan(&bucket, &r.FunctionName, &r.Invocations, &r.Errors, &r.Timeouts, &r.ColdStarts,
			&r.InitDurationMs, &qs, &r.DurationMsSum, &r.MaxMemoryUsedMB, &r.MemoryConfiguredMB); err != nil {
			return err
		}
		r.Start = time.Unix(int64(bucket), 0).UTC()
		r.DurationMsP50, r.DurationMsP95, r.DurationMsP99 = quantileAt(qs, 0), quantileAt(qs, 1), quantileAt(qs, 2)
		if r.ColdStarts == 0 {
			r.InitDurationMs = 0 // avgIf over nothing is nan
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// FunctionInfoRecord is what was seen of one function in one account and
// region.
type FunctionInfoRecord struct {
	FunctionName, AccountID, Region string
	ServiceName, Runtime            string
	Architecture                    string
	MemorySizeMB                    uint32
	Versions                        []string
	FirstSeen, LastSeen             time.Time
	Invocations, Errors             uint64
}

// FunctionCatalog lists every function with invocations in the range, with
// its latest runtime, architecture and memory.
func (s *Store) FunctionCatalog(ctx context.Context, f UsageFilter) ([]FunctionInfoRecord, error) {
	if err := f.check("read function catalog"); err != nil {
		return nil, err
	}
	query, args := functionCatalogSQL(s.database, f)
	var out []FunctionInfoRecord
	err := s.scanAll(ctx, "function catalog", query, args, func(rows driver.Rows) error {
		var (
			r           FunctionInfoRecord
			first, last uint64
		)
		if err := rows.Scan(&r.FunctionName, &r.AccountID, &r.Region, &r.ServiceName, &r.Runtime,
			&r.Architecture, &r.MemorySizeMB, &r.Versions, &first, &last, &r.Invocations, &r.Errors); err != nil {
			return err
		}
		r.FirstSeen, r.LastSeen = unixTime(first), unixTime(last)
		out = append(out, r)
		return nil
	})
	return out, err
}

// MemoryProfileRecord describes how one function configuration used its
// memory and time.
type MemoryProfileRecord struct {
	AccountID, Region, FunctionName, Architecture string
	MemorySizeMB                                  uint32
	Invocations, BilledDurationMs                 uint64
	MaxMemoryUsedMB                               uint32
	MemoryUsedP99MB                               float64
	DurationMsP95, DurationMsMean                 float64
	FirstSeen, LastSeen                           time.Time
}

// MemoryProfiles aggregates memory use and duration per function
// configuration.
func (s *Store) MemoryProfiles(ctx context.Context, f UsageFilter) ([]MemoryProfileRecord, error) {
	if err := f.check("read memory profiles"); err != nil {
		return nil, err
	}
	query, args := memoryProfileSQL(s.database, f)
	var out []MemoryProfileRecord
	err := s.scanAll(ctx, "memory profiles", query, args, func(rows driver.Rows) error {
		var (
			r           MemoryProfileRecord
			first, last uint64
		)
		if err := rows.Scan(&r.AccountID, &r.Region, &r.FunctionName, &r.Architecture, &r.MemorySizeMB,
			&r.Invocations, &r.BilledDurationMs, &r.MaxMemoryUsedMB, &r.MemoryUsedP99MB,
			&r.DurationMsP95, &r.DurationMsMean, &first, &last); err != nil {
			return err
		}
		r.FirstSeen, r.LastSeen = unixTime(first), unixTime(last)
		out = append(out, r)
		return nil
	})
	return out, err
}
