package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// UsageRow is what one function configuration was billed for on one UTC
// day: the input of a cost report.
type UsageRow struct {
	Day                   time.Time
	AccountID, Region     string
	FunctionName, Version string
	Architecture          string
	MemorySizeMB          uint32
	EphemeralStorageMB    uint32
	InitializationType    string
	Invocations           uint64
	BilledDurationMs      uint64
	BilledInitDurationMs  float64
	DurationMs            float64
	MaxMemoryUsedMB       uint32
	// Runtime and Restores are known for SnapStart rows (InitializationType
	// snap-start): the runtime, and how many environments were restored.
	Runtime  string
	Restores uint64
	// StreamedBytes are the bytes of the row's responses beyond the first
	// 6 MiB of each (storage.StreamFreeBytes), which Lambda charges for
	// streamed responses (a buffered one can be no larger).
	StreamedBytes uint64
	// ReportDay is the day of the report's zone the row is shown under
	// (ByDay); zero means Day. Day stays the UTC day of the invocations,
	// by whose month AWS applies the tiers and the free tier.
	ReportDay time.Time
}

// reportDay is the day ByDay shows the row under.
func (r *UsageRow) reportDay() time.Time {
	if r.ReportDay.IsZero() {
		return r.Day.UTC()
	}
	return r.ReportDay.UTC()
}

// GBSeconds is the compute the row is billed for. The platform's billed
// duration already includes the billed INIT phase; nothing is added.
func (r *UsageRow) GBSeconds() float64 {
	return float64(r.BilledDurationMs) / 1000 * float64(r.MemorySizeMB) / 1024
}

// ephemeralGBSeconds is the storage above the free 512 MB times the billed
// duration.
func (r *UsageRow) ephemeralGBSeconds() float64 {
	if r.EphemeralStorageMB <= 512 {
		return 0
	}
	return float64(r.BilledDurationMs) / 1000 * float64(r.EphemeralStorageMB-512) / 1024
}

func (r *UsageRow) provisioned() bool { return r.InitializationType == "provisioned-concurrency" }

func (r *UsageRow) snapStart() bool { return r.InitializationType == "snap-start" }

// InitManagedInstances is the initialization type of functions on Lambda
// Managed Instances: their duration is not billed.
const InitManagedInstances = "lambda-managed-instances"

func (r *UsageRow) managedInstances() bool { return r.InitializationType == InitManagedInstances }

// Cost is an amount split by what it pays for.
type Cost struct {
	Invocations uint64  `json:"invocations"`
	GBSeconds   float64 `json:"gbSeconds"`
	Compute     float64 `json:"compute"`
	Requests    float64 `json:"requests"`
	Ephemeral   float64 `json:"ephemeral"`
	// Provisioned is the idle charge of provisioned concurrency configured
	// in the price configuration (Prices.Provisioned), for
	// ProvisionedGBSeconds of configured concurrency. The duration of the
	// invocations it served is in Compute, at the provisioned duration rate.
	Provisioned          float64 `json:"provisioned"`
	ProvisionedGBSeconds float64 `json:"provisionedGbSeconds"`
	// ManagedInstances is the share of capacity providers' instance cost
	// (Prices.CapacityProviders) of invocations that ran on them; their
	// duration is not billed, so Compute and GBSeconds leave them out.
	ManagedInstances float64 `json:"managedInstances"`
	// SnapStart is the cache and restore charge of SnapStart versions;
	// Restores counts the restores.
	SnapStart float64 `json:"snapStart"`
	Restores  uint64  `json:"restores"`
	// Streaming is the charge for StreamedBytes, the bytes of streamed
	// responses beyond the first 6 MiB of each.
	Streaming     float64 `json:"streaming"`
	StreamedBytes uint64  `json:"streamedBytes,omitempty"`
	// SavingsPlan is what a Compute Savings Plan (Prices.SavingsPlan) took
	// off Compute and Provisioned, which are after it.
	SavingsPlan float64 `json:"savingsPlan,omitempty"`
	Total       float64 `json:"total"`
	// PerMillion is Total per one million invocations.
	PerMillion float64 `json:"perMillion"`
	// EstimatedInvocations counts the invocations whose billed duration
	// the platform did not report: they are priced at their duration
	// rounded up to 1 ms, as AWS bills, so the figures above are partly an
	// estimate.
	EstimatedInvocations uint64 `json:"estimatedInvocations,omitempty"`
}

func (c *Cost) add(o Cost) {
	c.Invocations += o.Invocations
	c.GBSeconds += o.GBSeconds
	c.Compute += o.Compute
	c.Requests += o.Requests
	c.Ephemeral += o.Ephemeral
	c.Provisioned += o.Provisioned
	c.ProvisionedGBSeconds += o.ProvisionedGBSeconds
	c.ManagedInstances += o.ManagedInstances
	c.SnapStart += o.SnapStart
	c.Restores += o.Restores
	c.Streaming += o.Streaming
	c.StreamedBytes += o.StreamedBytes
	c.SavingsPlan += o.SavingsPlan
	c.Total += o.Total
	c.EstimatedInvocations += o.EstimatedInvocations
}

func (c *Cost) finish() {
	if c.Invocations > 0 {
		c.PerMillion = c.Total / float64(c.Invocations) * 1e6
	}
}

// CostLine is the cost of one function, version or day.
type CostLine struct {
	Day          time.Time `json:"day,omitzero"`
	AccountID    string    `json:"accountId,omitempty"`
	Region       string    `json:"region,omitempty"`
	FunctionName string    `json:"functionName,omitempty"`
	Version      string    `json:"version,omitempty"`
	Cost
}

// TierAllocation shows how the tiered GB-second price of one account,
// region and architecture in one month is shared among its functions:
// each pays the group's blended rate on its GB-seconds.
type TierAllocation struct {
	Month        string          `json:"month"`
	AccountID    string          `json:"accountId"`
	Region       string          `json:"region"`
	Architecture string          `json:"architecture"`
	GBSeconds    float64         `json:"gbSeconds"`
	Compute      float64         `json:"compute"`
	BlendedRate  float64         `json:"blendedRatePerGBSecond"`
	Shares       []FunctionShare `json:"shares"`
}

// FunctionShare is one function's part of a TierAllocation.
type FunctionShare struct {
	FunctionName string  `json:"functionName"`
	GBSeconds    float64 `json:"gbSeconds"`
	Fraction     float64 `json:"fraction"`
	Compute      float64 `json:"compute"`
}

// FreeTierLine is the value of one account's free tier in one month. It is
// shown beside the cost and never subtracted from it.
type FreeTierLine struct {
	Month          string  `json:"month"`
	AccountID      string  `json:"accountId"`
	Requests       uint64  `json:"requests"`
	GBSeconds      float64 `json:"gbSeconds"`
	RequestsValue  float64 `json:"requestsValue"`
	GBSecondsValue float64 `json:"gbSecondsValue"`
	// StreamedGB is the part of the month's streamed bytes (beyond 6 MiB
	// a response) the free tier covers, StreamingValue its price.
	StreamedGB     float64 `json:"streamedGB,omitempty"`
	StreamingValue float64 `json:"streamingValue,omitempty"`
	Value          float64 `json:"value"`
}

// CostReport is what the invocations of a time range cost.
type CostReport struct {
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Currency string    `json:"currency"`
	// PriceTables names the tables used, as region@date.
	PriceTables []string `json:"priceTables"`
	// FallbackRegions were priced with the default region's table.
	FallbackRegions []string         `json:"fallbackRegions,omitempty"`
	Total           Cost             `json:"total"`
	ByFunction      []CostLine       `json:"byFunction"`
	ByVersion       []CostLine       `json:"byVersion"`
	ByDay           []CostLine       `json:"byDay"`
	Tiers           []TierAllocation `json:"tiers"`
	FreeTier        []FreeTierLine   `json:"freeTier"`
	// ProvisionedConcurrency is the idle charge of each configuration in
	// Prices.Provisioned over the range; it is in Total and in the lines
	// by function, version (the qualifier) and day.
	ProvisionedConcurrency []ProvisionedLine `json:"provisionedConcurrency"`
	// ManagedInstances is the cost of each capacity provider in
	// Prices.CapacityProviders; SnapStart that of each SnapStart version.
	ManagedInstances []ManagedInstanceLine `json:"managedInstances"`
	SnapStart        []SnapStartLine       `json:"snapStart"`
	// UnpricedManagedInstances names (region/function) the functions that
	// ran on Managed Instances with no capacity provider in the price
	// configuration: their requests are priced, their instances are not.
	UnpricedManagedInstances []string `json:"unpricedManagedInstances,omitempty"`
	// Retained names the tables the report reads whose rows retention
	// dropped before a time inside its range: what ran before that is
	// missing from the figures, not free (see CostReport.RetentionNote).
	Retained []RetainedTable `json:"retained,omitempty"`
}

// costTables are the tables a cost report reads whole hours from; a
// report's edges and its days without them read invocations.
var costTables = []string{"cost_hours", "streaming_hours", "invocations"}

// RetentionNote says which part of the report's range retention emptied,
// or is empty when it emptied none.
func (r *CostReport) RetentionNote() string {
	if len(r.Retained) == 0 {
		return ""
	}
	parts := make([]string, len(r.Retained))
	for i, t := range r.Retained {
		parts[i] = t.Table + " before " + t.DroppedBefore.UTC().Format("2006-01-02 15:04 MST")
	}
	return "retention dropped " + strings.Join(parts, ", ") + ": what ran before then may be missing from these figures, not free"
}

// markRetained names in rep the tables of costTables whose retention
// cutoff lies inside the report's range.
func (s *Service) markRetained(ctx context.Context, rep *CostReport) error {
	cutoffs, err := s.store.RetentionCutoffs(ctx, costTables)
	if err != nil {
		return fmt.Errorf("read retention cutoffs: %w", err)
	}
	for _, c := range cutoffs {
		if c.DroppedBefore.After(rep.Since) {
			rep.Retained = append(rep.Retained, RetainedTable{Table: c.Table, DroppedBefore: c.DroppedBefore})
		}
	}
	return nil
}

// ProvisionedLine is what keeping one provisioned concurrency
// configuration cost over a report's range.
type ProvisionedLine struct {
	AccountID    string `json:"accountId,omitempty"`
	Region       string `json:"region"`
	FunctionName string `json:"functionName"`
	Qualifier    string `json:"qualifier,omitempty"`
	Architecture string `json:"architecture"`
	MemorySizeMB uint32 `json:"memorySizeMB"`
	Concurrency  uint32 `json:"concurrency"`
	// Seconds is how long it was configured within the range.
	Seconds         float64 `json:"seconds"`
	GBSeconds       float64 `json:"gbSeconds"`
	RatePerGBSecond float64 `json:"ratePerGBSecond"`
	Cost            float64 `json:"cost"`
}

type tierKey struct{ month, account, region, arch string }

// PriceUsage prices usage rows. GB-second tiers apply per account, region
// and architecture per calendar month (UTC) to the rows given: a range
// that covers part of a month prices only what it covers.
//
// The steps, in order: the on-demand GB-seconds of each tier group are
// priced (allocateTiers), each row at its group's blended rate or as
// provisioned, Managed Instances or SnapStart usage (priceRows), the
// configured provisioned concurrency per day (chargeProvisioned), the days
// a capacity provider ran idle (chargeIdleFleets); then the lines are
// collected and sorted (finish).
func PriceUsage(prices *Prices, rows []UsageRow, since, until time.Time) *CostReport {
	b := newCostBuilder(prices, rows, since, until)
	b.allocateTiers(rows)
	b.priceRows(rows)
	b.chargeProvisioned()
	b.chargeIdleFleets()
	return b.finish()
}

type fnKey struct{ account, region, fn string }

type verKey struct {
	fnKey
	version string
}

type freeKey struct{ month, account string }

// costBuilder holds a cost report while PriceUsage fills it.
type costBuilder struct {
	prices       *Prices
	since, until time.Time
	rep          *CostReport
	fleets       *fleetPlan
	// used names the price tables used (region@date); fallback the
	// regions priced with the default table.
	used, fallback map[string]bool
	// groups are the on-demand tier groups, with each function's
	// GB-seconds in shares.
	groups map[tierKey]*TierAllocation
	shares map[tierKey]map[string]float64
	byFn   map[fnKey]*CostLine
	byVer  map[verKey]*CostLine
	byDay  map[time.Time]*CostLine
	free   map[freeKey]*FreeTierLine
	snaps  snapLines
	// unfleeted names (region/function) the Managed Instances functions
	// no capacity provider lists.
	unfleeted map[string]bool
}

func newCostBuilder(prices *Prices, rows []UsageRow, since, until time.Time) *costBuilder {
	return &costBuilder{
		prices: prices, since: since, until: until,
		rep: &CostReport{Since: since, Until: until, ByFunction: []CostLine{}, ByVersion: []CostLine{}, ByDay: []CostLine{}, Tiers: []TierAllocation{}, FreeTier: []FreeTierLine{},
			ProvisionedConcurrency: []ProvisionedLine{}, ManagedInstances: []ManagedInstanceLine{}, SnapStart: []SnapStartLine{}},
		fleets: planFleets(prices, rows, since, until),
		used:   map[string]bool{}, fallback: map[string]bool{},
		groups: map[tierKey]*TierAllocation{}, shares: map[tierKey]map[string]float64{},
		byFn: map[fnKey]*CostLine{}, byVer: map[verKey]*CostLine{}, byDay: map[time.Time]*CostLine{},
		free:      map[freeKey]*FreeTierLine{},
		snaps:     snapLines{},
		unfleeted: map[string]bool{},
	}
}

// useTable notes that t priced region (fb: as the fallback table).
func (b *costBuilder) useTable(t *PriceTable, region string, fb bool) {
	b.used[t.Region+"@"+t.EffectiveDate] = true
	if fb {
		b.fallback[region] = true
	}
	if b.rep.Currency == "" {
		b.rep.Currency = t.Currency
	}
}

// allocateTiers sums the on-demand GB-seconds per tier group, then prices
// each group and shares its cost among its functions.
func (b *costBuilder) allocateTiers(rows []UsageRow) {
	for i := range rows {
		r := &rows[i]
		if r.provisioned() || r.managedInstances() || b.fleets.of(r) >= 0 || r.Invocations == 0 {
			continue
		}
		k := tierKey{r.Day.UTC().Format("2006-01"), r.AccountID, r.Region, r.Architecture}
		g := b.groups[k]
		if g == nil {
			g = &TierAllocation{Month: k.month, AccountID: k.account, Region: k.region, Architecture: k.arch}
			b.groups[k], b.shares[k] = g, map[string]float64{}
		}
		g.GBSeconds += r.GBSeconds()
		b.shares[k][r.FunctionName] += r.GBSeconds()
	}
	for k, g := range b.groups {
		t, fb := b.prices.For(k.region)
		g.Compute = archPrices(t, k.arch).gbSecondCost(0, g.GBSeconds)
		if g.GBSeconds > 0 {
			g.BlendedRate = g.Compute / g.GBSeconds
		}
		for fn, gbs := range b.shares[k] {
			s := FunctionShare{FunctionName: fn, GBSeconds: gbs, Compute: gbs * g.BlendedRate}
			if g.GBSeconds > 0 {
				s.Fraction = gbs / g.GBSeconds
			}
			g.Shares = append(g.Shares, s)
		}
		slices.SortFunc(g.Shares, func(a, b FunctionShare) int { return cmp.Compare(a.FunctionName, b.FunctionName) })
		b.rep.Tiers = append(b.rep.Tiers, *g)
		b.useTable(t, k.region, fb)
	}
}

// priceRows prices each row and adds it to the total, its function,
// version and day, and its account's free tier.
func (b *costBuilder) priceRows(rows []UsageRow) {
	for i := range rows {
		r := &rows[i]
		t, _ := b.prices.For(r.Region)
		c := b.rowCost(t, r)
		b.rep.Total.add(c)
		fk := fnKey{r.AccountID, r.Region, r.FunctionName}
		b.fnLine(fk).add(c)
		b.verLine(verKey{fk, r.Version}).add(c)
		b.dayLine(r.reportDay()).add(c)
		b.addFreeTier(t, r, c)
	}
}

// rowCost is what one row costs, priced with table t.
func (b *costBuilder) rowCost(t *PriceTable, r *UsageRow) Cost {
	ap := archPrices(t, r.Architecture)
	c := Cost{Invocations: r.Invocations, GBSeconds: r.GBSeconds()}
	switch fleet := b.fleets.of(r); {
	case fleet >= 0 || r.managedInstances():
		// Managed Instances bill the instances, not the duration.
		c.GBSeconds = 0
		if fleet >= 0 {
			c.ManagedInstances = b.fleets.share(fleet, r)
		} else {
			b.unfleeted[r.Region+"/"+r.FunctionName] = true
		}
	case r.provisioned():
		c.Compute = c.GBSeconds * ap.ProvisionedDurationPerGBSecond
	default:
		if g := b.groups[tierKey{r.Day.UTC().Format("2006-01"), r.AccountID, r.Region, r.Architecture}]; g != nil {
			c.Compute = c.GBSeconds * g.BlendedRate
		}
	}
	c.SavingsPlan = c.Compute * b.prices.SavingsPlan.Discount
	c.Compute -= c.SavingsPlan
	c.Requests = float64(r.Invocations) / 1e6 * t.RequestsPerMillion
	c.Ephemeral = r.ephemeralGBSeconds() * t.EphemeralStoragePerGBSecond
	if r.snapStart() {
		c.Restores = r.Restores
		c.SnapStart = b.snaps.add(t, r, b.since, b.until)
	}
	c.StreamedBytes = r.StreamedBytes
	c.Streaming = float64(r.StreamedBytes) / bytesPerGB * t.ResponseStreamingPerGB
	c.Total = c.Compute + c.Requests + c.Ephemeral + c.ManagedInstances + c.SnapStart + c.Streaming
	return c
}

// addFreeTier adds what row r (costing c) uses of its account's free
// allowance in its month. The allowance is valued at the first-tier price
// of the usage it would cover, in the order the rows come.
func (b *costBuilder) addFreeTier(t *PriceTable, r *UsageRow, c Cost) {
	frk := freeKey{r.Day.UTC().Format("2006-01"), r.AccountID}
	if b.free[frk] == nil {
		b.free[frk] = &FreeTierLine{Month: frk.month, AccountID: r.AccountID}
	}
	f := b.free[frk]
	if room := t.FreeTier.Requests - min(f.Requests, t.FreeTier.Requests); room > 0 {
		n := min(room, r.Invocations)
		f.Requests += n
		f.RequestsValue += float64(n) / 1e6 * t.RequestsPerMillion
	}
	if room := t.FreeTier.StreamingGB - min(f.StreamedGB, t.FreeTier.StreamingGB); room > 0 && r.StreamedBytes > 0 {
		n := min(room, float64(r.StreamedBytes)/bytesPerGB)
		f.StreamedGB += n
		f.StreamingValue += n * t.ResponseStreamingPerGB
	}
	if room := t.FreeTier.GBSeconds - min(f.GBSeconds, t.FreeTier.GBSeconds); room > 0 && !r.provisioned() && c.GBSeconds > 0 {
		n := min(room, c.GBSeconds)
		f.GBSeconds += n
		f.GBSecondsValue += n * archPrices(t, r.Architecture).firstTierPrice()
	}
}

func (b *costBuilder) fnLine(k fnKey) *CostLine {
	if b.byFn[k] == nil {
		b.byFn[k] = &CostLine{AccountID: k.account, Region: k.region, FunctionName: k.fn}
	}
	return b.byFn[k]
}

func (b *costBuilder) verLine(k verKey) *CostLine {
	if b.byVer[k] == nil {
		b.byVer[k] = &CostLine{AccountID: k.account, Region: k.region, FunctionName: k.fn, Version: k.version}
	}
	return b.byVer[k]
}

func (b *costBuilder) dayLine(day time.Time) *CostLine {
	if b.byDay[day] == nil {
		b.byDay[day] = &CostLine{Day: day}
	}
	return b.byDay[day]
}

// chargeProvisioned charges provisioned concurrency while configured, per
// UTC day of the range it overlaps.
func (b *costBuilder) chargeProvisioned() {
	for i := range b.prices.Provisioned {
		pc := &b.prices.Provisioned[i]
		from, to := pc.configured(b.since, b.until)
		if from.IsZero() {
			continue
		}
		t, fb := b.prices.For(pc.region())
		b.useTable(t, pc.region(), fb)
		account := pc.AccountID
		if account == "" {
			account = b.soleAccount(pc.region(), pc.FunctionName)
		}
		line := ProvisionedLine{AccountID: account, Region: pc.region(), FunctionName: pc.FunctionName, Qualifier: pc.Qualifier,
			Architecture: pc.arch(), MemorySizeMB: pc.MemoryMB, Concurrency: pc.Concurrency,
			RatePerGBSecond: archPrices(t, pc.arch()).ProvisionedConcurrencyPerGBSecond}
		gb := float64(pc.Concurrency) * float64(pc.MemoryMB) / 1024
		fk := fnKey{account, pc.region(), pc.FunctionName}
		fn, ver := b.fnLine(fk), b.verLine(verKey{fk, pc.Qualifier})
		for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
			start, end := d, d.AddDate(0, 0, 1)
			if start.Before(from) {
				start = from
			}
			if end.After(to) {
				end = to
			}
			secs := end.Sub(start).Seconds() * pc.dutyCycle()
			c := Cost{ProvisionedGBSeconds: secs * gb, Provisioned: secs * gb * line.RatePerGBSecond}
			c.SavingsPlan = c.Provisioned * b.prices.SavingsPlan.Discount
			c.Provisioned -= c.SavingsPlan
			c.Total = c.Provisioned
			line.Seconds += secs
			line.GBSeconds += c.ProvisionedGBSeconds
			line.Cost += c.Provisioned
			b.rep.Total.add(c)
			fn.add(c)
			ver.add(c)
			b.dayLine(d).add(c)
		}
		b.rep.ProvisionedConcurrency = append(b.rep.ProvisionedConcurrency, line)
	}
}

// soleAccount is the account of function fn in region when the lines by
// function show exactly one, else "".
func (b *costBuilder) soleAccount(region, fn string) string {
	var found []string
	for k := range b.byFn {
		if k.region == region && k.fn == fn {
			found = append(found, k.account)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return ""
}

// chargeIdleFleets charges the days a capacity provider ran with none of
// its functions: its cost is in the total and by day only. It also lists
// each capacity provider's line.
func (b *costBuilder) chargeIdleFleets() {
	for i := range b.fleets.lines {
		fl := &b.fleets.lines[i]
		for day, cost := range b.fleets.cost[i] {
			if b.fleets.time[i][day] > 0 || cost == 0 {
				continue
			}
			fl.Idle += cost
			c := Cost{ManagedInstances: cost, Total: cost}
			b.rep.Total.add(c)
			b.dayLine(day).add(c)
		}
		b.rep.ManagedInstances = append(b.rep.ManagedInstances, *fl)
		if !fl.Unpriced {
			b.used[fl.Region+"@"+fl.PriceDate+" (instances)"] = true
		}
	}
}

// finish collects the lines into the report, in a stable order.
func (b *costBuilder) finish() *CostReport {
	rep := b.rep
	rep.SnapStart = b.snaps.sorted()
	for k := range b.unfleeted {
		rep.UnpricedManagedInstances = append(rep.UnpricedManagedInstances, k)
	}
	slices.Sort(rep.UnpricedManagedInstances)

	rep.Total.finish()
	for _, l := range b.byFn {
		l.finish()
		rep.ByFunction = append(rep.ByFunction, *l)
	}
	for _, l := range b.byVer {
		l.finish()
		rep.ByVersion = append(rep.ByVersion, *l)
	}
	for _, l := range b.byDay {
		l.finish()
		rep.ByDay = append(rep.ByDay, *l)
	}
	for _, f := range b.free {
		f.Value = f.RequestsValue + f.GBSecondsValue + f.StreamingValue
		rep.FreeTier = append(rep.FreeTier, *f)
	}
	lineOrder := func(a, b CostLine) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.FunctionName, b.FunctionName), cmp.Compare(a.AccountID, b.AccountID),
			cmp.Compare(a.Region, b.Region), cmp.Compare(a.Version, b.Version))
	}
	slices.SortFunc(rep.ByFunction, func(a, b CostLine) int { return cmp.Or(cmp.Compare(b.Total, a.Total), lineOrder(a, b)) })
	slices.SortFunc(rep.ByVersion, func(a, b CostLine) int { return cmp.Or(cmp.Compare(b.Total, a.Total), lineOrder(a, b)) })
	slices.SortFunc(rep.ByDay, lineOrder)
	slices.SortFunc(rep.Tiers, func(a, b TierAllocation) int {
		return cmp.Or(cmp.Compare(a.Month, b.Month), cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.Region, b.Region), cmp.Compare(a.Architecture, b.Architecture))
	})
	slices.SortFunc(rep.FreeTier, func(a, b FreeTierLine) int {
		return cmp.Or(cmp.Compare(a.Month, b.Month), cmp.Compare(a.AccountID, b.AccountID))
	})
	for k := range b.used {
		rep.PriceTables = append(rep.PriceTables, k)
	}
	slices.Sort(rep.PriceTables)
	for k := range b.fallback {
		rep.FallbackRegions = append(rep.FallbackRegions, k)
	}
	slices.Sort(rep.FallbackRegions)
	if rep.Currency == "" && len(b.prices.Tables) > 0 {
		rep.Currency = b.prices.Tables[0].Currency
	}
	return rep
}

// archPrices are the prices of arch in t; an architecture the table does
// not list (or an empty one) is priced as x86_64.
func archPrices(t *PriceTable, arch string) ArchPrices {
	if p, ok := t.Architectures[arch]; ok {
		return p
	}
	return t.Architectures[ArchX86]
}

// CostQuery selects the invocations a cost report covers.
type CostQuery struct {
	TimeRange
	FunctionName string
}

// Cost reports what the invocations of the range cost, per function,
// version and day, with the tier allocation and the free tier's value.
//
// Whole hours are read from the cost_hours view where it holds every
// invocation of the hour, the rest as storage.Store.Usage,
// SnapStartUsage and BilledEstimates read it (see storage.Store.CostUsage);
// the rows are the same either way.
func (s *Service) Cost(ctx context.Context, prices *Prices, q CostQuery) (*CostReport, error) {
	return s.CostIn(ctx, prices, q, CostView{})
}

// AttachRestores gives the SnapStart rows their runtime and restores, by
// the UTC day and configuration of each.
func AttachRestores(rows []UsageRow, snaps []storage.SnapStartRecord) {
	for _, sn := range snaps {
		for i := range rows {
			r := &rows[i]
			if r.snapStart() && r.Day.Equal(sn.Day) && r.AccountID == sn.AccountID && r.Region == sn.Region &&
				r.FunctionName == sn.FunctionName && r.Version == sn.FunctionVersion && r.Architecture == sn.Architecture &&
				r.MemorySizeMB == sn.MemorySizeMB && r.EphemeralStorageMB == sn.EphemeralStorageMB {
				r.Runtime, r.Restores = sn.Runtime, r.Restores+sn.Restores
				break
			}
		}
	}
}

// AttachStreaming gives the streamed bytes of each day and function
// version to the first row of that day and version (a version's
// configuration does not change the charge). Bytes no row takes make a
// row of their own, with no invocations.
func AttachStreaming(rows []UsageRow, recs []storage.StreamingRecord) []UsageRow {
	for _, sr := range recs {
		found := false
		for i := range rows {
			r := &rows[i]
			if r.Day.Equal(sr.Day) && r.AccountID == sr.AccountID && r.Region == sr.Region &&
				r.FunctionName == sr.FunctionName && r.Version == sr.FunctionVersion {
				r.StreamedBytes += sr.BilledBytes
				found = true
				break
			}
		}
		if !found {
			rows = append(rows, UsageRow{Day: sr.Day, AccountID: sr.AccountID, Region: sr.Region, FunctionName: sr.FunctionName,
				Version: sr.FunctionVersion, StreamedBytes: sr.BilledBytes})
		}
	}
	return rows
}

// markEstimates counts, on the report's lines, the invocations whose
// billed duration is an estimate.
func markEstimates(rep *CostReport, est []storage.BilledEstimateRecord) {
	for _, e := range est {
		rep.Total.EstimatedInvocations += e.Invocations
		for i := range rep.ByFunction {
			if l := &rep.ByFunction[i]; l.AccountID == e.AccountID && l.Region == e.Region && l.FunctionName == e.FunctionName {
				l.EstimatedInvocations += e.Invocations
			}
		}
		for i := range rep.ByVersion {
			if l := &rep.ByVersion[i]; l.AccountID == e.AccountID && l.Region == e.Region && l.FunctionName == e.FunctionName &&
				l.Version == e.FunctionVersion {
				l.EstimatedInvocations += e.Invocations
			}
		}
		for i := range rep.ByDay {
			if l := &rep.ByDay[i]; l.Day.Equal(e.Day) {
				l.EstimatedInvocations += e.Invocations
			}
		}
	}
}

// usageRows are the usage records as a cost report prices them.
func usageRows(recs []storage.UsageRecord) []UsageRow {
	rows := make([]UsageRow, len(recs))
	for i, r := range recs {
		rows[i] = UsageRow{
			Day: r.Day, AccountID: r.AccountID, Region: r.Region, FunctionName: r.FunctionName, Version: r.FunctionVersion,
			Architecture: r.Architecture, MemorySizeMB: r.MemorySizeMB, EphemeralStorageMB: r.EphemeralStorageMB,
			InitializationType: r.InitializationType, Invocations: r.Invocations, BilledDurationMs: r.BilledDurationMs,
			BilledInitDurationMs: r.BilledInitDurationMs, DurationMs: r.DurationMs, MaxMemoryUsedMB: r.MaxMemoryUsedMB,
		}
	}
	return rows
}

// InvocationCost is what one invocation of a trace cost.
type InvocationCost struct {
	FunctionName     string `json:"functionName"`
	RequestID        string `json:"requestId"`
	Architecture     string `json:"architecture"`
	MemorySizeMB     uint32 `json:"memorySizeMB"`
	BilledDurationMs uint64 `json:"billedDurationMs"`
	// BilledEstimated says the platform did not report the billed
	// duration; BilledDurationMs is the duration rounded up to 1 ms.
	BilledEstimated bool    `json:"billedDurationEstimated,omitempty"`
	Cost            float64 `json:"cost"`
}

// TraceCost is what one distributed trace cost: the sum over every
// invocation in it.
type TraceCost struct {
	TraceID     TraceID          `json:"traceId"`
	Currency    string           `json:"currency"`
	Invocations []InvocationCost `json:"invocations"`
	Total       float64          `json:"total"`
}

// TraceCost prices every invocation of a trace at the first-tier (list)
// price of its region and architecture, plus the request price, ephemeral
// storage and a streamed response's bytes beyond its first 6 MiB. It returns an error wrapping ErrTraceNotFound when
// the trace has no invocation record.
func (s *Service) TraceCost(ctx context.Context, prices *Prices, id TraceID) (*TraceCost, error) {
	recs, err := s.store.Invocations(ctx, storage.InvocationFilter{TraceID: id, Limit: MaxInvocationLimit})
	if err != nil {
		return nil, fmt.Errorf("read invocations of trace %s: %w", id, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("trace %s has no invocation records: %w", id, ErrTraceNotFound)
	}
	return priceTraces(prices, []TraceID{id}, recs)[0], nil
}

// MaxTraceCosts bounds the traces one TraceCosts call prices.
const MaxTraceCosts = 1000

// TraceCosts prices the invocations of several traces as TraceCost does,
// with one read of the invocations started in r (widened by an hour on
// each side for clocks that disagree). The result holds one TraceCost per
// ID, in the order given; a trace without invocation records costs 0 and
// has none.
func (s *Service) TraceCosts(ctx context.Context, prices *Prices, ids []TraceID, r TimeRange) ([]*TraceCost, error) {
	if len(ids) > MaxTraceCosts {
		return nil, fmt.Errorf("%w: at most %d traces can be priced at once, got %d", ErrInvalidFilter, MaxTraceCosts, len(ids))
	}
	if len(ids) == 0 {
		return []*TraceCost{}, nil
	}
	f := storage.InvocationFilter{TraceIDs: make([][16]byte, len(ids)), Limit: storage.MaxInvocationLimit}
	for i, id := range ids {
		f.TraceIDs[i] = id
	}
	if !r.Since.IsZero() {
		f.Since = r.Since.Add(-invocationJoinMargin)
	}
	if !r.Until.IsZero() {
		f.Until = r.Until.Add(invocationJoinMargin)
	}
	recs, err := s.store.Invocations(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read invocations of %d traces: %w", len(ids), err)
	}
	if len(recs) >= f.Limit {
		return nil, fmt.Errorf("%w: the %d traces have more than %d invocations; price fewer traces", ErrInvalidFilter, len(ids), f.Limit)
	}
	return priceTraces(prices, ids, recs), nil
}

// priceTraces prices each record in the trace it names, one TraceCost per
// ID in ids.
func priceTraces(prices *Prices, ids []TraceID, recs []storage.InvocationRecord) []*TraceCost {
	currency := ""
	if def, _ := prices.For(""); def != nil {
		currency = def.Currency
	}
	out := make([]*TraceCost, len(ids))
	byID := make(map[TraceID]*TraceCost, len(ids))
	for i, id := range ids {
		if tc := byID[id]; tc != nil {
			out[i] = tc
			continue
		}
		out[i] = &TraceCost{TraceID: id, Currency: currency, Invocations: []InvocationCost{}}
		byID[id] = out[i]
	}
	for _, r := range recs {
		tc := byID[TraceID(r.TraceID)]
		if tc == nil {
			continue
		}
		t, _ := prices.For(r.Region)
		tc.Currency = t.Currency
		row := UsageRow{Architecture: r.Architecture, MemorySizeMB: r.MemorySizeMB, EphemeralStorageMB: r.EphemeralStorageMB,
			InitializationType: r.InitializationType, Invocations: 1, BilledDurationMs: r.BilledDurationMs}
		ap := archPrices(t, r.Architecture)
		rate := ap.firstTierPrice()
		switch {
		case row.provisioned():
			rate = ap.ProvisionedDurationPerGBSecond
		case row.managedInstances():
			// The instances are priced per fleet and day, not per
			// invocation.
			rate = 0
		}
		c := row.GBSeconds()*rate + t.RequestsPerMillion/1e6 + row.ephemeralGBSeconds()*t.EphemeralStoragePerGBSecond
		if size := max(r.ProducedBytes, r.ResponseSize); size > storage.StreamFreeBytes {
			c += float64(size-storage.StreamFreeBytes) / bytesPerGB * t.ResponseStreamingPerGB
		}
		tc.Invocations = append(tc.Invocations, InvocationCost{
			FunctionName: r.FunctionName, RequestID: r.RequestID, Architecture: r.Architecture,
			MemorySizeMB: r.MemorySizeMB, BilledDurationMs: r.BilledDurationMs, Cost: c,
			BilledEstimated: r.UnknownFigures&dbmodel.FigureBilledDuration != 0,
		})
		tc.Total += c
	}
	for _, tc := range byID {
		slices.SortFunc(tc.Invocations, func(a, b InvocationCost) int {
			return cmp.Or(cmp.Compare(a.FunctionName, b.FunctionName), cmp.Compare(a.RequestID, b.RequestID))
		})
	}
	return out
}
