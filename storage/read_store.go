package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TraceSearchMargin is how far before and after the search range a found
// trace's other spans are looked for when it is summarised.
const TraceSearchMargin = 15 * time.Minute

// Limits of TraceSearchFilter.Limit.
const (
	DefaultTraceSearchLimit = 20
	MaxTraceSearchLimit     = 1000
)

// TraceSearchFilter selects traces by their spans: a trace matches when one
// of its spans meets every condition. Since and Until are required.
type TraceSearchFilter struct {
	Since, Until time.Time
	FunctionName string
	ServiceName  string
	SpanName     string
	// StatusCode keeps spans with this OTLP status code; -1 means any.
	StatusCode int32
	// MinDuration and MaxDuration bound the span's duration; 0 = unbounded.
	MinDuration, MaxDuration time.Duration
	// Attributes must all be present on the span with these values.
	Attributes map[string]string
	// ColdStartOnly keeps spans of invocations that were cold starts.
	ColdStartOnly bool
	// Offset skips that many traces (paging), newest first.
	Offset int
	Limit  int
}

// TraceSummaryRecord sums up one found trace.
type TraceSummaryRecord struct {
	TraceID     [16]byte
	Start, End  time.Time
	Spans       uint64
	ErrorSpans  uint64
	RootName    string
	RootSource  string
	HasRoot     bool
	SourceNames []string
}

// SearchTraces returns summaries of the traces matching f, newest first.
func (s *Store) SearchTraces(ctx context.Context, f TraceSearchFilter) ([]TraceSummaryRecord, error) {
	if f.Since.IsZero() || f.Until.IsZero() || !f.Until.After(f.Since) {
		return nil, errors.New("search traces: since and until are required and until must be after since")
	}
	f.Limit = limitBetween(f.Limit, DefaultTraceSearchLimit, MaxTraceSearchLimit)
	f.Offset = max(f.Offset, 0)
	query, args := traceSearchSQL(s.database, f)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, readErr("query trace search", err)
	}
	defer rows.Close()
	var out []TraceSummaryRecord
	for rows.Next() {
		var (
			r                    TraceSummaryRecord
			id                   string
			first, last          uint64
			firstName, firstSrc  string
			rootName, rootSource string
		)
		if err := rows.Scan(&id, &first, &last, &r.Spans, &r.ErrorSpans, &rootName, &rootSource,
			&firstName, &firstSrc, &r.SourceNames); err != nil {
			return nil, readErr("scan trace summary", err)
		}
		copy(r.TraceID[:], id)
		r.Start, r.End = unixTime(first), unixTime(last)
		r.RootName, r.RootSource, r.HasRoot = rootName, rootSource, rootName != "" || rootSource != ""
		if !r.HasRoot {
			r.RootName, r.RootSource = firstName, firstSrc
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr("read trace search", err)
	}
	return out, nil
}

// SpanEdgeFilter selects the spans edges are derived from.
type SpanEdgeFilter struct {
	Since, Until time.Time
}

// SpanEdgeRecord is the calls from one source (function or service) to
// another, or to a downstream resource, in a time range.
type SpanEdgeRecord struct {
	Caller, Callee string
	// Resource is true when Callee is named by a client span's attributes
	// (a database, queue, peer service) rather than by its own spans.
	Resource bool
	Calls    uint64
	Errors   uint64
	// DurationP50/P95/P99 are of the callee's spans (the call as the callee
	// saw it) or, for a resource, of the client spans.
	DurationP50, DurationP95, DurationP99 time.Duration
}

// setDurations takes the p50, p95 and p99 from a quantiles result.
func (r *SpanEdgeRecord) setDurations(qs []float64) {
	r.DurationP50 = time.Duration(quantileAt(qs, 0))
	r.DurationP95 = time.Duration(quantileAt(qs, 1))
	r.DurationP99 = time.Duration(quantileAt(qs, 2))
}

// SpanEdges derives call edges from the raw spans: a span whose parent was
// emitted by another source is a call from that source, and a client span
// naming a downstream resource is a call to that resource.
func (s *Store) SpanEdges(ctx context.Context, f SpanEdgeFilter) ([]SpanEdgeRecord, error) {
	if f.Since.IsZero() || f.Until.IsZero() || !f.Until.After(f.Since) {
		return nil, errors.New("read span edges: since and until are required and until must be after since")
	}
	var out []SpanEdgeRecord
	for _, q := range []struct {
		build    func(string, SpanEdgeFilter) (string, []any)
		resource bool
	}{{spanEdgesSQL, false}, {resourceCallsSQL, true}} {
		query, args := q.build(s.database, f)
		err := s.scanAll(ctx, "span edges", query, args, func(rows driver.Rows) error {
			var (
				r  SpanEdgeRecord
				qs []float64
			)
			if err := rows.Scan(&r.Caller, &r.Callee, &r.Calls, &r.Errors, &qs); err != nil {
				return err
			}
			r.Resource = q.resource
			r.setDurations(qs)
			out = append(out, r)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ServiceMapEdges returns the calls each client or producer span names,
// per caller (function, else service), callee and kind of callee (see
// migration 10): the whole hours and minutes after the views' horizon from
// the service_map_hours and service_map_minutes views, the rest (the ragged
// edges, older time, a server without the horizon) from the raw spans,
// computed the same way, all merged in one query. Durations are the
// caller's view of the call; the quantiles are t-digest estimates.
func (s *Store) ServiceMapEdges(ctx context.Context, f SpanEdgeFilter) ([]SpanEdgeRecord, error) {
	if f.Since.IsZero() || f.Until.IsZero() || !f.Until.After(f.Since) {
		return nil, errors.New("read service map: since and until are required and until must be after since")
	}
	parts, err := s.serviceMapParts(ctx, f)
	if err != nil {
		return nil, err
	}
	query, args := serviceMapSQL(s.database, parts)
	var out []SpanEdgeRecord
	err = s.scanAll(ctx, "service map", query, args, func(rows driver.Rows) error {
		var (
			r        SpanEdgeRecord
			resource uint8
			qs       []float64
		)
		if err := rows.Scan(&r.Caller, &r.Callee, &resource, &r.Calls, &r.Errors, &qs); err != nil {
			return err
		}
		r.Resource = resource != 0
		r.setDurations(qs)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// serviceMapParts splits f's range by where it is read from: the whole
// hours that start after the service_map horizon from service_map_hours,
// the other whole minutes after it from service_map_minutes, the rest from
// raw spans. Everything is raw when no horizon is known (a schema older
// than migration 10, or another server of a cluster).
func (s *Store) serviceMapParts(ctx context.Context, f SpanEdgeFilter) (serviceMapParts, error) {
	all := serviceMapParts{raw: []timeRange{{f.Since, f.Until}}}
	horizon, ok, err := s.viewHorizon(ctx, "service_map")
	if err != nil || !ok {
		return all, err
	}
	// whole is the part of f's range made of whole units of sec seconds
	// that start after the horizon.
	whole := func(sec int64) (timeRange, bool) {
		first := (ceilUnix(f.Since) + sec - 1) / sec * sec
		if horizon > 0 {
			first = max(first, (int64(horizon/1e9)/sec+1)*sec)
		}
		last := f.Until.Unix() / sec * sec
		return timeRange{time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()}, first < last
	}
	minutes, ok := whole(60)
	if !ok {
		return all, nil
	}
	var p serviceMapParts
	if hours, ok := whole(3600); ok {
		p.hours = []timeRange{hours}
		p.minutes = nonEmpty(timeRange{minutes.since, hours.since}, timeRange{hours.until, minutes.until})
	} else {
		p.minutes = []timeRange{minutes}
	}
	p.raw = nonEmpty(timeRange{f.Since, minutes.since}, timeRange{minutes.until, f.Until})
	return p, nil
}

func nonEmpty(rs ...timeRange) []timeRange {
	var out []timeRange
	for _, r := range rs {
		if r.since.Before(r.until) {
			out = append(out, r)
		}
	}
	return out
}

// UsageFilter selects invocations for the aggregates over them. Since and
// Until are required; the other fields are optional.
type UsageFilter struct {
	Since, Until    time.Time
	FunctionName    string
	FunctionVersion string
	AccountID       string
	Region          string
}

func (f UsageFilter) check(action string) error {
	if f.Since.IsZero() || f.Until.IsZero() || !f.Until.After(f.Since) {
		return fmt.Errorf("%s: since and until are required and until must be after since", action)
	}
	return nil
}

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

// viewHorizon is the horizon recorded for view; ok is false when none is
// (a schema older than migration 8, or another server of a cluster).
func (s *Store) viewHorizon(ctx context.Context, view string) (horizon uint64, ok bool, err error) {
	query, args := viewHorizonSQL(s.database, view)
	var n uint64
	err = s.conn.QueryRow(ctx, query, args...).Scan(&horizon, &n)
	if ex, isEx := errors.AsType[*clickhouse.Exception](err); isEx && ex.Code == errCodeUnknownTable {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, readErr("read view horizon", err)
	}
	return horizon, n > 0, nil
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

// BilledEstimateRecord counts the invocations of one function version on
// one UTC day whose billed duration the platform did not report; the usage
// records price them at the stored estimate, the duration rounded up to
// 1 ms.
type BilledEstimateRecord struct {
	Day                           time.Time
	AccountID, Region             string
	FunctionName, FunctionVersion string
	Invocations                   uint64
	BilledDurationMs              uint64
}

// BilledEstimates lists, per day, function and version, the invocations of
// the range whose billed duration is an estimate. It reads the raw
// invocations.
func (s *Store) BilledEstimates(ctx context.Context, f UsageFilter) ([]BilledEstimateRecord, error) {
	if err := f.check("read billed estimates"); err != nil {
		return nil, err
	}
	query, args := billedEstimatesSQL(s.database, f)
	var out []BilledEstimateRecord
	err := s.scanAll(ctx, "billed estimates", query, args, func(rows driver.Rows) error {
		var r BilledEstimateRecord
		if err := rows.Scan(&r.Day, &r.AccountID, &r.Region, &r.FunctionName, &r.FunctionVersion,
			&r.Invocations, &r.BilledDurationMs); err != nil {
			return err
		}
		r.Day = r.Day.UTC()
		out = append(out, r)
		return nil
	})
	return out, err
}

// UsageRecord is what one function configuration was billed for on one
// UTC day.
type UsageRecord struct {
	Day                              time.Time
	AccountID, Region                string
	FunctionName, FunctionVersion    string
	Architecture                     string
	MemorySizeMB, EphemeralStorageMB uint32
	// InitializationType is on-demand, provisioned-concurrency or
	// snap-start (empty when the platform did not say).
	InitializationType               string
	Invocations                      uint64
	BilledDurationMs                 uint64
	BilledInitDurationMs, DurationMs float64
	MaxMemoryUsedMB                  uint32
}

// Usage sums billed duration and requests per day, account, region,
// function, version, architecture, memory and ephemeral storage.
//
// Whole UTC days are read from the usage_daily view when the view holds
// every invocation of the day: the day starts after the view's horizon
// (migration 8), or its count for the day equals the raw table's, which a
// count over the raw rows checks. A view covers only the
// rows inserted after it exists, so days with older rows, and the partial
// days at the edges of the range, are summed from the raw invocations. The
// pieces cover disjoint days: the rows are those of summing the raw table
// over the whole range.
func (s *Store) Usage(ctx context.Context, f UsageFilter) ([]UsageRecord, error) {
	if err := f.check("read usage"); err != nil {
		return nil, err
	}
	from, to := ceilDay(f.Since), f.Until.UTC().Truncate(24*time.Hour)
	if !from.Before(to) {
		return s.usagePart(ctx, f)
	}
	// A horizon exists from migration 8 on, so the view (migration 6) does.
	horizon, known, err := s.viewHorizon(ctx, "usage_daily")
	if err != nil {
		return nil, err
	}
	if !known {
		if ok, err := s.usageDailyApplied(ctx); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			return s.usagePart(ctx, f)
		}
	}
	days := f
	days.Since, days.Until = from, to
	query, args := usageDailySQL(s.database, days)
	viewRows, err := s.scanUsage(ctx, query, args)
	if err != nil {
		return nil, err
	}
	// Days after the view's horizon are whole in the view; the others are
	// checked against a count of the raw rows.
	checkTo := to
	if known {
		checkTo = from
		if horizon > 0 {
			checkTo = ceilDay(time.Unix(0, int64(horizon)+1))
			if checkTo.Before(from) {
				checkTo = from
			}
			if checkTo.After(to) {
				checkTo = to
			}
		}
	}
	rawCounts := map[time.Time]uint64{}
	if from.Before(checkTo) {
		counted := days
		counted.Until = checkTo
		if rawCounts, err = s.dayCounts(ctx, counted); err != nil {
			return nil, err
		}
	}
	viewCounts := map[time.Time]uint64{}
	for _, r := range viewRows {
		viewCounts[r.Day] += r.Invocations
	}
	whole := func(d time.Time) bool { return !d.Before(checkTo) || viewCounts[d] == rawCounts[d] }

	// Raw ranges: the edges and every run of days the view does not hold
	// whole.
	var ranges [][2]time.Time
	if f.Since.Before(from) {
		ranges = append(ranges, [2]time.Time{f.Since, from})
	}
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		if whole(d) {
			continue
		}
		if n := len(ranges); n > 0 && ranges[n-1][1].Equal(d) {
			ranges[n-1][1] = d.AddDate(0, 0, 1)
		} else {
			ranges = append(ranges, [2]time.Time{d, d.AddDate(0, 0, 1)})
		}
	}
	if to.Before(f.Until) {
		if n := len(ranges); n > 0 && ranges[n-1][1].Equal(to) {
			ranges[n-1][1] = f.Until
		} else {
			ranges = append(ranges, [2]time.Time{to, f.Until})
		}
	}

	var out []UsageRecord
	for _, r := range viewRows {
		if whole(r.Day) {
			out = append(out, r)
		}
	}
	for _, rg := range ranges {
		part := f
		part.Since, part.Until = rg[0], rg[1]
		rows, err := s.usagePart(ctx, part)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	// No two pieces share a day: the order by day keeps each piece's order
	// by the rest of the key.
	slices.SortStableFunc(out, func(a, b UsageRecord) int { return a.Day.Compare(b.Day) })
	return out, nil
}

// usagePart sums the usage of a range that is not whole days: whole hours
// after the usage_hourly view's horizon from the view, the rest from the
// raw invocations, merged into one row per day and configuration.
func (s *Store) usagePart(ctx context.Context, f UsageFilter) ([]UsageRecord, error) {
	horizon, known, err := s.viewHorizon(ctx, "usage_hourly")
	if err != nil {
		return nil, err
	}
	lo, hi := ceilHour(f.Since), f.Until.UTC().Truncate(time.Hour)
	if known && horizon > 0 {
		if after := ceilHour(time.Unix(0, int64(horizon)+1)); after.After(lo) {
			lo = after
		}
	}
	if !known || !lo.Before(hi) {
		return s.usageRaw(ctx, f)
	}
	var out []UsageRecord
	for _, part := range []struct {
		since, until time.Time
		build        func(string, UsageFilter) (string, []any)
	}{
		{f.Since, lo, usageSQL},
		{lo, hi, usageHourlySQL},
		{hi, f.Until, usageSQL},
	} {
		if !part.since.Before(part.until) {
			continue
		}
		pf := f
		pf.Since, pf.Until = part.since, part.until
		query, args := part.build(s.database, pf)
		rows, err := s.scanUsage(ctx, query, args)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return mergeUsage(out), nil
}

// mergeUsage sums the records that share a day and configuration, and
// orders them as the SQL does: by day, then the rest of the key.
func mergeUsage(recs []UsageRecord) []UsageRecord {
	key := func(r UsageRecord) UsageRecord {
		return UsageRecord{Day: r.Day, AccountID: r.AccountID, Region: r.Region, FunctionName: r.FunctionName,
			FunctionVersion: r.FunctionVersion, Architecture: r.Architecture, MemorySizeMB: r.MemorySizeMB,
			EphemeralStorageMB: r.EphemeralStorageMB, InitializationType: r.InitializationType}
	}
	at := map[UsageRecord]int{}
	var out []UsageRecord
	for _, r := range recs {
		k := key(r)
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, r)
			continue
		}
		m := &out[i]
		m.Invocations += r.Invocations
		m.BilledDurationMs += r.BilledDurationMs
		m.BilledInitDurationMs += r.BilledInitDurationMs
		m.DurationMs += r.DurationMs
		m.MaxMemoryUsedMB = max(m.MaxMemoryUsedMB, r.MaxMemoryUsedMB)
	}
	slices.SortFunc(out, func(a, b UsageRecord) int {
		return cmp.Or(a.Day.Compare(b.Day), strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.Region, b.Region),
			strings.Compare(a.FunctionName, b.FunctionName), strings.Compare(a.FunctionVersion, b.FunctionVersion),
			strings.Compare(a.Architecture, b.Architecture), cmp.Compare(a.MemorySizeMB, b.MemorySizeMB),
			cmp.Compare(a.EphemeralStorageMB, b.EphemeralStorageMB), strings.Compare(a.InitializationType, b.InitializationType))
	})
	return out
}

// ceilHour is t rounded up to a whole UTC hour.
func ceilHour(t time.Time) time.Time {
	h := t.UTC().Truncate(time.Hour)
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h
}

// usageRaw sums the raw invocations of the filter's range.
func (s *Store) usageRaw(ctx context.Context, f UsageFilter) ([]UsageRecord, error) {
	query, args := usageSQL(s.database, f)
	return s.scanUsage(ctx, query, args)
}

func (s *Store) scanUsage(ctx context.Context, query string, args []any) ([]UsageRecord, error) {
	var out []UsageRecord
	err := s.scanAll(ctx, "usage", query, args, func(rows driver.Rows) error {
		var r UsageRecord
		if err := rows.Scan(&r.Day, &r.AccountID, &r.Region, &r.FunctionName, &r.FunctionVersion,
			&r.Architecture, &r.MemorySizeMB, &r.EphemeralStorageMB, &r.InitializationType,
			&r.Invocations, &r.BilledDurationMs, &r.BilledInitDurationMs, &r.DurationMs, &r.MaxMemoryUsedMB); err != nil {
			return err
		}
		r.Day = r.Day.UTC()
		out = append(out, r)
		return nil
	})
	return out, err
}

// usageDailyApplied tells whether the usage_daily view exists.
func (s *Store) usageDailyApplied(ctx context.Context) (bool, error) {
	query, args := usageDailyAppliedSQL(s.database)
	var n uint64
	if err := s.conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return false, readErr("read usage view migration", err)
	}
	return n > 0, nil
}

// dayCounts counts the raw invocations per UTC day of the filter.
func (s *Store) dayCounts(ctx context.Context, f UsageFilter) (map[time.Time]uint64, error) {
	query, args := dayCountsSQL(s.database, f)
	out := map[time.Time]uint64{}
	err := s.scanAll(ctx, "invocations per day", query, args, func(rows driver.Rows) error {
		var (
			day time.Time
			n   uint64
		)
		if err := rows.Scan(&day, &n); err != nil {
			return err
		}
		out[day.UTC()] = n
		return nil
	})
	return out, err
}

// ceilDay is t rounded up to a UTC midnight.
func ceilDay(t time.Time) time.Time {
	d := t.UTC().Truncate(24 * time.Hour)
	if d.Before(t) {
		d = d.AddDate(0, 0, 1)
	}
	return d
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

// scanAll runs query and calls scan for each row.
func (s *Store) scanAll(ctx context.Context, what, query string, args []any, scan func(driver.Rows) error) error {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return readErr("query "+what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return readErr("scan "+what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return readErr("read "+what, err)
	}
	return nil
}

func quantileAt(q []float64, i int) float64 {
	if i < 0 || i >= len(q) || q[i] != q[i] {
		return 0
	}
	return q[i]
}

func limitBetween(n, def, most int) int {
	switch {
	case n <= 0:
		return def
	case n > most:
		return most
	default:
		return n
	}
}

// FunctionTriggers maps each function to the faas.trigger values of its
// spans in the range.
func (s *Store) FunctionTriggers(ctx context.Context, f SpanEdgeFilter) (map[string][]string, error) {
	if f.Since.IsZero() || f.Until.IsZero() || !f.Until.After(f.Since) {
		return nil, errors.New("read function triggers: since and until are required and until must be after since")
	}
	query, args := functionTriggersSQL(s.database, f)
	out := map[string][]string{}
	err := s.scanAll(ctx, "function triggers", query, args, func(rows driver.Rows) error {
		var (
			fn       string
			triggers []string
		)
		if err := rows.Scan(&fn, &triggers); err != nil {
			return err
		}
		out[fn] = triggers
		return nil
	})
	return out, err
}

// SnapStartRecord is what the SnapStart invocations of one function
// configuration did on one UTC day: how many restores (cold starts) there
// were and the runtime that pays or is free of SnapStart's charges.
type SnapStartRecord struct {
	Day                              time.Time
	AccountID, Region                string
	FunctionName, FunctionVersion    string
	Architecture                     string
	MemorySizeMB, EphemeralStorageMB uint32
	Runtime                          string
	Invocations, Restores            uint64
}

// SnapStartUsage counts, per day and function configuration, the
// invocations of environments restored from a SnapStart snapshot and the
// restores among them. It reads the raw invocations.
func (s *Store) SnapStartUsage(ctx context.Context, f UsageFilter) ([]SnapStartRecord, error) {
	if err := f.check("read SnapStart usage"); err != nil {
		return nil, err
	}
	query, args := snapStartUsageSQL(s.database, f)
	var out []SnapStartRecord
	err := s.scanAll(ctx, "SnapStart usage", query, args, func(rows driver.Rows) error {
		var r SnapStartRecord
		if err := rows.Scan(&r.Day, &r.AccountID, &r.Region, &r.FunctionName, &r.FunctionVersion, &r.Architecture,
			&r.MemorySizeMB, &r.EphemeralStorageMB, &r.Runtime, &r.Invocations, &r.Restores); err != nil {
			return err
		}
		r.Day = r.Day.UTC()
		out = append(out, r)
		return nil
	})
	return out, err
}

// TenantRecord is what the invocations of one tenant of a function in
// tenant isolation mode did in a range, per configuration.
type TenantRecord struct {
	TenantID                         string
	AccountID, Region                string
	FunctionName                     string
	Architecture                     string
	MemorySizeMB, EphemeralStorageMB uint32
	InitializationType               string
	Invocations, ColdStarts, Errors  uint64
	BilledDurationMs                 uint64
}

// TenantUsage sums the invocations of the range that name a tenant per
// tenant and function configuration. It reads the raw invocations; an
// invocation without a tenant is left out.
func (s *Store) TenantUsage(ctx context.Context, f UsageFilter) ([]TenantRecord, error) {
	if err := f.check("read tenant usage"); err != nil {
		return nil, err
	}
	query, args := tenantUsageSQL(s.database, f)
	var out []TenantRecord
	err := s.scanAll(ctx, "tenant usage", query, args, func(rows driver.Rows) error {
		var r TenantRecord
		if err := rows.Scan(&r.TenantID, &r.AccountID, &r.Region, &r.FunctionName, &r.Architecture, &r.MemorySizeMB,
			&r.EphemeralStorageMB, &r.InitializationType, &r.Invocations, &r.ColdStarts, &r.Errors, &r.BilledDurationMs); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Limits of DurableFilter.Limit.
const (
	DefaultDurableLimit = 100
	MaxDurableLimit     = 1000
)

// DurableFilter selects the durable executions whose invocations started
// in [Since, Until).
type DurableFilter struct {
	Since, Until time.Time
	FunctionName string
	// Limit bounds the executions returned, the latest first.
	Limit int
}

// DurableExecutionRecord is what the spans of one durable execution's
// invocations say of it. The extension gives every invocation of an
// execution the trace derived from the execution's ARN and an inferred
// span carrying aws.lambda.durable.*.
type DurableExecutionRecord struct {
	TraceID           [16]byte
	ExecutionARN      string
	AccountID, Region string
	FunctionName      string
	// Invocations counts the inferred spans (one per invocation), Replays
	// those that resumed the execution.
	Invocations, Replays uint64
	// Operations is the most checkpointed operations handed to one
	// invocation.
	Operations uint64
	Start, End time.Time
}

// DurableExecutions lists the durable executions of the range, latest
// first, from their invocations' inferred spans.
func (s *Store) DurableExecutions(ctx context.Context, f DurableFilter) ([]DurableExecutionRecord, error) {
	if err := (UsageFilter{Since: f.Since, Until: f.Until}).check("read durable executions"); err != nil {
		return nil, err
	}
	f.Limit = limitBetween(f.Limit, DefaultDurableLimit, MaxDurableLimit)
	query, args := durableExecutionsSQL(s.database, f)
	var out []DurableExecutionRecord
	err := s.scanAll(ctx, "durable executions", query, args, func(rows driver.Rows) error {
		var r DurableExecutionRecord
		var trace string
		var startNs, endNs uint64
		if err := rows.Scan(&trace, &r.ExecutionARN, &r.AccountID, &r.Region, &r.FunctionName, &r.Invocations, &r.Replays,
			&r.Operations, &startNs, &endNs); err != nil {
			return err
		}
		copy(r.TraceID[:], trace)
		r.Start, r.End = time.Unix(0, int64(startNs)).UTC(), time.Unix(0, int64(endNs)).UTC()
		out = append(out, r)
		return nil
	})
	return out, err
}
