package storage

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

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
	parts := hourParts(f, horizon, known, usageSQL, usageHourlySQL)
	var out []UsageRecord
	for _, part := range parts {
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
	out := mergeBy(recs, key, func(m *UsageRecord, r UsageRecord) {
		m.Invocations += r.Invocations
		m.BilledDurationMs += r.BilledDurationMs
		m.BilledInitDurationMs += r.BilledInitDurationMs
		m.DurationMs += r.DurationMs
		m.MaxMemoryUsedMB = max(m.MaxMemoryUsedMB, r.MaxMemoryUsedMB)
	})
	slices.SortFunc(out, func(a, b UsageRecord) int {
		return cmp.Or(a.Day.Compare(b.Day), strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.Region, b.Region),
			strings.Compare(a.FunctionName, b.FunctionName), strings.Compare(a.FunctionVersion, b.FunctionVersion),
			strings.Compare(a.Architecture, b.Architecture), cmp.Compare(a.MemorySizeMB, b.MemorySizeMB),
			cmp.Compare(a.EphemeralStorageMB, b.EphemeralStorageMB), strings.Compare(a.InitializationType, b.InitializationType))
	})
	return out
}

// sqlBuilder builds a read of the rows of a filter.
type sqlBuilder func(db string, f UsageFilter) (string, []any)

// readPart is a part of a range and how it is read.
type readPart struct {
	since, until time.Time
	build        sqlBuilder
}

// hourParts cuts f's range into the whole hours that start after an
// hourly view's horizon, read with view, and the non-empty parts before
// and after them, read with raw. Without a recorded horizon, or without
// such an hour, the whole range is one raw part.
func hourParts(f UsageFilter, horizon uint64, known bool, raw, view sqlBuilder) []readPart {
	lo, hi := ceilHour(f.Since), f.Until.UTC().Truncate(time.Hour)
	if known && horizon > 0 {
		if after := ceilHour(time.Unix(0, int64(horizon)+1)); after.After(lo) {
			lo = after
		}
	}
	if !known || !lo.Before(hi) {
		return []readPart{{f.Since, f.Until, raw}}
	}
	var out []readPart
	for _, p := range []readPart{{f.Since, lo, raw}, {lo, hi, view}, {hi, f.Until, raw}} {
		if p.since.Before(p.until) {
			out = append(out, p)
		}
	}
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

// CostUsage is everything a cost report prices over a range: the usage,
// the SnapStart invocations and restores, and the invocations whose billed
// duration is an estimate, each as Usage, SnapStartUsage and
// BilledEstimates give them.
type CostUsage struct {
	Usage     []UsageRecord
	SnapStart []SnapStartRecord
	Estimates []BilledEstimateRecord
	// Streaming is what StreamingUsage reads.
	Streaming []StreamingRecord
}

// CostUsage reads what Usage, SnapStartUsage and BilledEstimates read, in
// one pass over the cost_hours view (migration 30) for the whole hours of
// f's range that start after the view's horizon. The rest (the partial
// hours at the edges, and the hours before the horizon) is read by those
// three; the records are those of the raw invocations over the whole
// range, merged where a day spans two parts.
func (s *Store) CostUsage(ctx context.Context, f UsageFilter) (CostUsage, error) {
	if err := f.check("read cost usage"); err != nil {
		return CostUsage{}, err
	}
	horizon, known, err := s.viewHorizon(ctx, "cost_hours")
	if err != nil {
		return CostUsage{}, err
	}
	var out CostUsage
	// The parts hourParts would read raw (no builder here) are read by
	// Usage, SnapStartUsage and BilledEstimates.
	for _, part := range hourParts(f, horizon, known, nil, costHoursSQL) {
		pf := f
		pf.Since, pf.Until = part.since, part.until
		if part.build == nil {
			err = s.costUsageElsewhere(ctx, pf, &out)
		} else {
			err = s.costUsageFromView(ctx, pf, &out)
		}
		if err != nil {
			return CostUsage{}, err
		}
	}
	out.Usage = mergeUsage(out.Usage)
	out.SnapStart = mergeSnapStart(out.SnapStart)
	out.Estimates = mergeEstimates(out.Estimates)
	if out.Streaming, err = s.StreamingUsage(ctx, f); err != nil {
		return CostUsage{}, err
	}
	return out, nil
}

// StreamingRecord counts the invocations of one function version on one
// UTC day whose response went beyond StreamFreeBytes (only a streamed one
// can), and the bytes beyond it, which Lambda charges per GB.
type StreamingRecord struct {
	Day                           time.Time
	AccountID, Region             string
	FunctionName, FunctionVersion string
	Streamed                      uint64
	BilledBytes                   uint64
}

// StreamingUsage lists, per UTC day and function version, the invocations
// whose response went beyond StreamFreeBytes and the bytes beyond it, from
// the record's produced_bytes (platform.runtimeDone's producedBytes) or,
// when larger (runtimeDone lost), response_size (the Runtime API proxy's
// count). The
// whole hours after the streaming_hours view's horizon (migration 39) are
// read from the view, the rest from the raw invocations.
func (s *Store) StreamingUsage(ctx context.Context, f UsageFilter) ([]StreamingRecord, error) {
	if err := f.check("read streaming usage"); err != nil {
		return nil, err
	}
	horizon, known, err := s.viewHorizon(ctx, "streaming_hours")
	if err != nil {
		return nil, err
	}
	var out []StreamingRecord
	for _, part := range hourParts(f, horizon, known, streamingSQL, streamingHoursSQL) {
		pf := f
		pf.Since, pf.Until = part.since, part.until
		query, args := part.build(s.database, pf)
		err := s.scanAll(ctx, "streaming usage", query, args, func(rows driver.Rows) error {
			var r StreamingRecord
			if err := rows.Scan(&r.Day, &r.AccountID, &r.Region, &r.FunctionName, &r.FunctionVersion,
				&r.Streamed, &r.BilledBytes); err != nil {
				return err
			}
			r.Day = r.Day.UTC()
			out = append(out, r)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	key := func(r StreamingRecord) StreamingRecord {
		r.Streamed, r.BilledBytes = 0, 0
		return r
	}
	out = mergeBy(out, key, func(m *StreamingRecord, r StreamingRecord) {
		m.Streamed += r.Streamed
		m.BilledBytes += r.BilledBytes
	})
	slices.SortFunc(out, func(a, b StreamingRecord) int {
		return cmp.Or(a.Day.Compare(b.Day), strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.Region, b.Region),
			strings.Compare(a.FunctionName, b.FunctionName), strings.Compare(a.FunctionVersion, b.FunctionVersion))
	})
	return out, nil
}

// costUsageElsewhere reads the part of a range cost_hours does not hold.
func (s *Store) costUsageElsewhere(ctx context.Context, f UsageFilter, out *CostUsage) error {
	usage, err := s.Usage(ctx, f)
	if err != nil {
		return err
	}
	snaps, err := s.SnapStartUsage(ctx, f)
	if err != nil {
		return err
	}
	est, err := s.BilledEstimates(ctx, f)
	if err != nil {
		return err
	}
	out.Usage = append(out.Usage, usage...)
	out.SnapStart = append(out.SnapStart, snaps...)
	out.Estimates = append(out.Estimates, est...)
	return nil
}

// costUsageFromView reads whole hours from cost_hours.
func (s *Store) costUsageFromView(ctx context.Context, f UsageFilter, out *CostUsage) error {
	query, args := costHoursSQL(s.database, f)
	return s.scanAll(ctx, "cost hours", query, args, func(rows driver.Rows) error {
		var (
			u                     UsageRecord
			runtime               string
			coldStarts, estimated uint64
			estimatedBilledMs     uint64
		)
		if err := rows.Scan(&u.Day, &u.AccountID, &u.Region, &u.FunctionName, &u.FunctionVersion,
			&u.Architecture, &u.MemorySizeMB, &u.EphemeralStorageMB, &u.InitializationType, &runtime,
			&u.Invocations, &u.BilledDurationMs, &u.BilledInitDurationMs, &u.DurationMs, &u.MaxMemoryUsedMB,
			&coldStarts, &estimated, &estimatedBilledMs); err != nil {
			return err
		}
		u.Day = u.Day.UTC()
		out.Usage = append(out.Usage, u)
		if u.InitializationType == "snap-start" {
			out.SnapStart = append(out.SnapStart, SnapStartRecord{Day: u.Day, AccountID: u.AccountID, Region: u.Region,
				FunctionName: u.FunctionName, FunctionVersion: u.FunctionVersion, Architecture: u.Architecture,
				MemorySizeMB: u.MemorySizeMB, EphemeralStorageMB: u.EphemeralStorageMB, Runtime: runtime,
				Invocations: u.Invocations, Restores: coldStarts})
		}
		if estimated > 0 {
			out.Estimates = append(out.Estimates, BilledEstimateRecord{Day: u.Day, AccountID: u.AccountID, Region: u.Region,
				FunctionName: u.FunctionName, FunctionVersion: u.FunctionVersion, Invocations: estimated,
				BilledDurationMs: estimatedBilledMs})
		}
		return nil
	})
}

// mergeSnapStart sums the records that share a day and configuration
// (keeping the first runtime named, as any(runtime) keeps one), ordered as
// the SQL orders them.
func mergeSnapStart(recs []SnapStartRecord) []SnapStartRecord {
	key := func(r SnapStartRecord) SnapStartRecord {
		r.Runtime, r.Invocations, r.Restores = "", 0, 0
		return r
	}
	out := mergeBy(recs, key, func(m *SnapStartRecord, r SnapStartRecord) {
		m.Invocations += r.Invocations
		m.Restores += r.Restores
		if m.Runtime == "" {
			m.Runtime = r.Runtime
		}
	})
	slices.SortFunc(out, func(a, b SnapStartRecord) int {
		return cmp.Or(a.Day.Compare(b.Day), strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.Region, b.Region),
			strings.Compare(a.FunctionName, b.FunctionName), strings.Compare(a.FunctionVersion, b.FunctionVersion),
			strings.Compare(a.Architecture, b.Architecture), cmp.Compare(a.MemorySizeMB, b.MemorySizeMB),
			cmp.Compare(a.EphemeralStorageMB, b.EphemeralStorageMB))
	})
	return out
}

// mergeEstimates sums the records that share a day and function version,
// ordered as the SQL orders them.
func mergeEstimates(recs []BilledEstimateRecord) []BilledEstimateRecord {
	type key struct {
		day                          time.Time
		account, region, fn, version string
	}
	at := map[key]int{}
	var out []BilledEstimateRecord
	for _, r := range recs {
		k := key{r.Day, r.AccountID, r.Region, r.FunctionName, r.FunctionVersion}
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, r)
			continue
		}
		out[i].Invocations += r.Invocations
		out[i].BilledDurationMs += r.BilledDurationMs
	}
	slices.SortFunc(out, func(a, b BilledEstimateRecord) int {
		return cmp.Or(a.Day.Compare(b.Day), strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.Region, b.Region),
			strings.Compare(a.FunctionName, b.FunctionName), strings.Compare(a.FunctionVersion, b.FunctionVersion))
	})
	return out
}

// mergeBy folds the records that share a key into the first of them with
// add, in the order their keys first appear.
func mergeBy[T any, K comparable](recs []T, key func(T) K, add func(into *T, r T)) []T {
	at := map[K]int{}
	var out []T
	for _, r := range recs {
		k := key(r)
		if i, ok := at[k]; ok {
			add(&out[i], r)
			continue
		}
		at[k] = len(out)
		out = append(out, r)
	}
	return out
}
