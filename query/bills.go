package query

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SnapStartPrices are the charges of SnapStart for the runtimes that pay
// them (Python, .NET; Java's SnapStart is free of them).
type SnapStartPrices struct {
	// CachePerGBSecond is charged for the memory of every published
	// version with SnapStart, per second its snapshot is cached (AWS bills
	// at least three hours).
	CachePerGBSecond float64 `json:"cache_per_gb_second" yaml:"cache_per_gb_second"`
	// RestorePerGB is charged per GB of memory each time an execution
	// environment is restored from the snapshot.
	RestorePerGB float64 `json:"restore_per_gb" yaml:"restore_per_gb"`
}

// DurablePrices are the charges of durable functions on top of the
// invocations of a durable execution, which are priced as any other.
type DurablePrices struct {
	// OperationsPerMillion prices one million durable operations (the
	// execution's start, steps, waits, callbacks, child contexts).
	OperationsPerMillion float64 `json:"operations_per_million" yaml:"operations_per_million"`
	// WrittenPerGB prices the data the operations checkpoint.
	WrittenPerGB float64 `json:"written_per_gb" yaml:"written_per_gb"`
	// RetainedPerGBMonth prices the state kept, during the execution and
	// for its retention period after.
	RetainedPerGBMonth float64 `json:"retained_per_gb_month" yaml:"retained_per_gb_month"`
}

// ManagedInstancePrices are the prices of Lambda Managed Instances: the
// EC2 on-demand price of each instance type, a management fee on top of
// it, and requests at the table's RequestsPerMillion. Duration is not
// billed.
type ManagedInstancePrices struct {
	// EffectiveDate is the day the instance prices were read (YYYY-MM-DD).
	EffectiveDate string `json:"effective_date" yaml:"effective_date"`
	// ManagementFee is the fraction of the on-demand price added (0.15).
	ManagementFee float64 `json:"management_fee" yaml:"management_fee"`
	// InstanceHourly is the EC2 on-demand price of one hour of each
	// instance type (Linux).
	InstanceHourly map[string]float64 `json:"instance_hourly" yaml:"instance_hourly"`
}

// Hourly is what one instance of type costs an hour under Managed
// Instances, the management fee included; ok is false when the table does
// not list the type.
func (m *ManagedInstancePrices) Hourly(instanceType string) (price float64, ok bool) {
	p, ok := m.InstanceHourly[instanceType]
	if !ok {
		return 0, false
	}
	return p * (1 + m.ManagementFee), true
}

// defaultSnapStart, defaultDurable and defaultManagedInstances are AWS's
// public prices in US East (N. Virginia), from
// https://aws.amazon.com/lambda/pricing/ and
// https://aws.amazon.com/ec2/pricing/on-demand/.
func defaultSnapStart() SnapStartPrices {
	return SnapStartPrices{CachePerGBSecond: 0.0000015046, RestorePerGB: 0.0001397998}
}

func defaultDurable() DurablePrices {
	return DurablePrices{OperationsPerMillion: 8.00, WrittenPerGB: 0.25, RetainedPerGBMonth: 0.15}
}

// defaultManagedInstances: the instance prices are EC2's on-demand Linux
// prices in us-east-1, dated by EffectiveDate. Their sources (each held by a
// test in aws_examples_test.go):
//
//   - m7g.xlarge ($0.1632) and the 15 % fee: the Managed Instances example
//     of AWS's Lambda pricing page (read 2026-12-06).
//   - c7g.xlarge–4xlarge, m7g.2xlarge–4xlarge, r7g.xlarge–4xlarge: the
//     instance table of AWS's Managed Instances pricing calculator sample
//     (typed by hand; it rounds r7g to three decimals, so those are held to
//     a tenth of a cent).
//   - m7i, c7i and r7i, every size listed: the us-east-1 fallback table of
//     the scheduler tool in a copy of the same AWS sample, used when AWS's
//     Price List API cannot be reached (typed by hand; it gives c7i.large
//     to four decimals, $0.0892, so that one is held to a hundredth of a
//     cent).
//   - the medium and large Graviton sizes (m7g, c7g, r7g): dated
//     transcriptions of AWS's Price List (EC2 on-demand, Linux, shared
//     tenancy, us-east-1), not an AWS page: two cost tools' price tables
//     checked against the AmazonEC2 offer file (one at version
//     20260924211011, one on 2026-10-08) give all six, a third pinned from
//     the Price List API on 2026-09-18 gives m7g's and c7g's; each is half
//     and a quarter of its family's xlarge, as EC2 prices a family by the
//     vCPU (TestManagedInstanceGravitonSmallSizesMatchPriceList).
//
// A price file's managed_instances.instance_hourly overrides any of them.
func defaultManagedInstances() ManagedInstancePrices {
	return ManagedInstancePrices{
		EffectiveDate: "2025-12-01",
		ManagementFee: 0.15,
		InstanceHourly: map[string]float64{
			"m7g.medium": 0.0408, "m7g.large": 0.0816, "m7g.xlarge": 0.1632, "m7g.2xlarge": 0.3264, "m7g.4xlarge": 0.6528,
			"c7g.medium": 0.0363, "c7g.large": 0.0725, "c7g.xlarge": 0.145, "c7g.2xlarge": 0.29, "c7g.4xlarge": 0.58,
			"r7g.medium": 0.0536, "r7g.large": 0.1071, "r7g.xlarge": 0.2142, "r7g.2xlarge": 0.4284, "r7g.4xlarge": 0.8568,
			"m7i.large": 0.1008, "m7i.xlarge": 0.2016, "m7i.2xlarge": 0.4032, "m7i.4xlarge": 0.8064,
			"c7i.large": 0.08925, "c7i.xlarge": 0.1785, "c7i.2xlarge": 0.357,
			"r7i.large": 0.1323, "r7i.xlarge": 0.2646,
		},
	}
}

// unconfirmedInstancePrices are the instance types whose default price no
// source found here confirms (see defaultManagedInstances). None is, today;
// a type added to the defaults without a source goes here, and the
// reports priced with it say so.
var unconfirmedInstancePrices = map[string]bool{}

// PriceUnconfirmed says whether the table prices instanceType with a
// default that no AWS source found confirms: the type is one of
// unconfirmedInstancePrices and its price is still the default one (a price
// file that sets its own is taken as the user's word).
func (m *ManagedInstancePrices) PriceUnconfirmed(instanceType string) bool {
	p, ok := m.InstanceHourly[instanceType]
	if !ok || !unconfirmedInstancePrices[instanceType] {
		return false
	}
	return p == defaultManagedInstances().InstanceHourly[instanceType]
}

// SnapStartCharged says whether SnapStart's cache and restore charges
// apply to a runtime, as records name it (AWS_EXECUTION_ENV:
// AWS_Lambda_java21, AWS_Lambda_python3.12) or as Lambda does (java21,
// dotnet8). Java's are free; a runtime the record does not name is
// charged, so an unknown runtime does not hide a cost.
func SnapStartCharged(runtime string) bool {
	rt := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(runtime)), "aws_lambda_")
	return !strings.HasPrefix(rt, "java")
}

// Charge is what restores restores and cacheSeconds of cache of a
// version with memoryMB of memory cost.
func (p SnapStartPrices) Charge(memoryMB uint32, restores uint64, cacheSeconds float64) (cache, restore float64) {
	gb := float64(memoryMB) / 1024
	return gb * cacheSeconds * p.CachePerGBSecond, gb * float64(restores) * p.RestorePerGB
}

// DurableCharge is what a durable workload's operations, the GB they
// wrote and the GB-months of state kept cost, apart from its invocations.
func (p DurablePrices) DurableCharge(operations uint64, writtenGB, retainedGBMonths float64) float64 {
	return float64(operations)/1e6*p.OperationsPerMillion + writtenGB*p.WrittenPerGB + retainedGBMonths*p.RetainedPerGBMonth
}

// validateBills reports negative prices, naming the key.
func (t *PriceTable) validateBills() error {
	var errs []error
	if t.SnapStart.CachePerGBSecond < 0 || t.SnapStart.RestorePerGB < 0 {
		errs = append(errs, fmt.Errorf("%s: snapstart prices must not be negative", t.Region))
	}
	if t.Durable.OperationsPerMillion < 0 || t.Durable.WrittenPerGB < 0 || t.Durable.RetainedPerGBMonth < 0 {
		errs = append(errs, fmt.Errorf("%s: durable prices must not be negative", t.Region))
	}
	m := &t.ManagedInstances
	if m.ManagementFee < 0 {
		errs = append(errs, fmt.Errorf("%s: managed_instances.management_fee must not be negative", t.Region))
	}
	if m.EffectiveDate != "" {
		if _, err := parseDay(m.EffectiveDate); err != nil {
			errs = append(errs, fmt.Errorf("%s: managed_instances.effective_date: %w", t.Region, err))
		}
	}
	for typ, p := range m.InstanceHourly {
		if p < 0 {
			errs = append(errs, fmt.Errorf("%s: managed_instances.instance_hourly.%s must not be negative", t.Region, typ))
		}
	}
	return errors.Join(errs...)
}

// fillBills gives a table that leaves out the SnapStart, durable, Managed
// Instances or response streaming prices those of DefaultPriceTable
// (us-east-1's).
func (t *PriceTable) fillBills() {
	def := DefaultPriceTable()
	if t.SnapStart == (SnapStartPrices{}) {
		t.SnapStart = def.SnapStart
	}
	if t.Durable == (DurablePrices{}) {
		t.Durable = def.Durable
	}
	if t.ResponseStreamingPerGB == 0 {
		t.ResponseStreamingPerGB = def.ResponseStreamingPerGB
	}
	if t.FreeTier.StreamingGB == 0 {
		t.FreeTier.StreamingGB = def.FreeTier.StreamingGB
	}
	if m := &t.ManagedInstances; m.EffectiveDate == "" && m.ManagementFee == 0 && len(m.InstanceHourly) == 0 {
		*m = def.ManagedInstances
	}
}

// CapacityProvider is a Managed Instances fleet: Instances instances of
// InstanceType running the listed functions, HoursPerDay hours a day, in
// [From, Until). The invocation records do not carry the fleet's size, so
// it is configured here; its cost (the on-demand price with the management
// fee) is shared over the invocations of its functions on each UTC day by
// their share of the time they ran.
type CapacityProvider struct {
	Name string `json:"name" yaml:"name"`
	// Region defaults to DefaultRegion; AccountID may be empty (any).
	Region       string   `json:"region,omitempty" yaml:"region,omitempty"`
	AccountID    string   `json:"account_id,omitempty" yaml:"account_id,omitempty"`
	InstanceType string   `json:"instance_type" yaml:"instance_type"`
	Instances    float64  `json:"instances" yaml:"instances"`
	Functions    []string `json:"functions" yaml:"functions"`
	// HoursPerDay is how many hours a day the instances run; 0 means 24.
	HoursPerDay float64 `json:"hours_per_day,omitempty" yaml:"hours_per_day,omitempty"`
	From        string  `json:"from,omitempty" yaml:"from,omitempty"`
	Until       string  `json:"until,omitempty" yaml:"until,omitempty"`
}

// Validate reports what makes the fleet unusable, naming the key.
func (c *CapacityProvider) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name must be set"))
	}
	if c.InstanceType == "" {
		errs = append(errs, errors.New("instance_type must be set"))
	}
	if c.Instances <= 0 {
		errs = append(errs, errors.New("instances must be positive"))
	}
	if len(c.Functions) == 0 {
		errs = append(errs, errors.New("functions must list at least one function"))
	}
	if c.HoursPerDay < 0 || c.HoursPerDay > 24 {
		errs = append(errs, fmt.Errorf("hours_per_day must be between 0 and 24, got %g", c.HoursPerDay))
	}
	from, err := parseDay(c.From)
	if err != nil {
		errs = append(errs, fmt.Errorf("from: %w", err))
	}
	until, err := parseDay(c.Until)
	if err != nil {
		errs = append(errs, fmt.Errorf("until: %w", err))
	}
	if !from.IsZero() && !until.IsZero() && !from.Before(until) {
		errs = append(errs, errors.New("from must be before until"))
	}
	return errors.Join(errs...)
}

func (c *CapacityProvider) asProvisioned() ProvisionedConcurrency {
	return ProvisionedConcurrency{Region: c.Region, HoursPerDay: c.HoursPerDay, From: c.From, Until: c.Until}
}

// ManagedInstanceLine is what one capacity provider cost over a report's
// range, and how much of it no invocation served.
type ManagedInstanceLine struct {
	Name         string  `json:"name"`
	Region       string  `json:"region"`
	InstanceType string  `json:"instanceType"`
	Instances    float64 `json:"instances"`
	// InstanceHours is how long its instances ran within the range.
	InstanceHours float64 `json:"instanceHours"`
	// HourlyPrice is one instance's on-demand price with the management
	// fee; PriceDate the day the instance prices hold from.
	HourlyPrice float64 `json:"hourlyPrice"`
	PriceDate   string  `json:"priceDate"`
	Cost        float64 `json:"cost"`
	// Idle is the part of Cost on days none of its functions ran: it is
	// in the report's total and by day, not in any function's line.
	Idle float64 `json:"idle"`
	// Unpriced says the price table does not list the instance type: Cost
	// is 0.
	Unpriced bool `json:"unpriced,omitempty"`
	// PriceUnconfirmed says the instance price is a default that no AWS
	// source found confirms (ManagedInstancePrices.PriceUnconfirmed):
	// Cost is an estimate until a price file gives the type's price.
	PriceUnconfirmed bool `json:"priceUnconfirmed,omitempty"`
}

// SnapStartLine is what SnapStart cost one function version over a
// report's range.
type SnapStartLine struct {
	AccountID    string `json:"accountId,omitempty"`
	Region       string `json:"region"`
	FunctionName string `json:"functionName"`
	Version      string `json:"version"`
	Runtime      string `json:"runtime,omitempty"`
	MemorySizeMB uint32 `json:"memorySizeMB"`
	// Restores counts the environments restored from the snapshot (each
	// is a cold start).
	Restores uint64 `json:"restores"`
	// CacheSeconds is the time the snapshot is billed as cached: each UTC
	// day of the range the version ran (a lower bound: the snapshot is
	// cached while the version is published).
	CacheSeconds float64 `json:"cacheSeconds"`
	Cache        float64 `json:"cache"`
	Restore      float64 `json:"restore"`
	// Free says the runtime (Java) pays no SnapStart charges.
	Free bool `json:"free,omitempty"`

	days map[time.Time]bool
}

// fleetPlan is the cost of each capacity provider per UTC day, and the
// time its functions ran each day, by which the cost is shared.
type fleetPlan struct {
	providers []*CapacityProvider
	lines     []ManagedInstanceLine
	cost      []map[time.Time]float64
	time      []map[time.Time]float64
}

func planFleets(prices *Prices, rows []UsageRow, since, until time.Time) *fleetPlan {
	f := &fleetPlan{}
	for i := range prices.CapacityProviders {
		cp := &prices.CapacityProviders[i]
		pc := cp.asProvisioned()
		t, _ := prices.For(pc.region())
		line := ManagedInstanceLine{Name: cp.Name, Region: pc.region(), InstanceType: cp.InstanceType, Instances: cp.Instances,
			PriceDate: t.ManagedInstances.EffectiveDate}
		hourly, ok := t.ManagedInstances.Hourly(cp.InstanceType)
		line.HourlyPrice, line.Unpriced = hourly, !ok
		line.PriceUnconfirmed = t.ManagedInstances.PriceUnconfirmed(cp.InstanceType)
		cost := map[time.Time]float64{}
		if from, to := pc.configured(since, until); !from.IsZero() {
			for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
				start, end := laterOf(d, from), earlierOf(d.AddDate(0, 0, 1), to)
				hours := end.Sub(start).Hours() * pc.dutyCycle() * cp.Instances
				line.InstanceHours += hours
				cost[d] = hours * hourly
				line.Cost += cost[d]
			}
		}
		f.providers = append(f.providers, cp)
		f.lines = append(f.lines, line)
		f.cost = append(f.cost, cost)
		f.time = append(f.time, map[time.Time]float64{})
	}
	for i := range rows {
		if k := f.of(&rows[i]); k >= 0 {
			f.time[k][rows[i].Day.UTC()] += rows[i].DurationMs
		}
	}
	return f
}

// of is the index of the capacity provider that runs r's function, or -1.
func (f *fleetPlan) of(r *UsageRow) int {
	for i, cp := range f.providers {
		if f.lines[i].Region != r.Region || (cp.AccountID != "" && cp.AccountID != r.AccountID) {
			continue
		}
		if slices.Contains(cp.Functions, r.FunctionName) {
			return i
		}
	}
	return -1
}

// share is r's part of its provider's cost on r's day: by its share of
// the time the provider's functions ran that day.
func (f *fleetPlan) share(i int, r *UsageRow) float64 {
	day := r.Day.UTC()
	total := f.time[i][day]
	if total == 0 {
		// No duration known: shared by invocations would need the counts;
		// the day's cost stays idle.
		return 0
	}
	return f.cost[i][day] * r.DurationMs / total
}

type snapKey struct {
	account, region, fn, version, runtime string
	memory                                uint32
}

// snapLines sums the SnapStart charges per version.
type snapLines map[snapKey]*SnapStartLine

// add prices r's restores and a day of cache (clipped to the range) for
// r's version, once per day, and returns the charge.
func (s snapLines) add(t *PriceTable, r *UsageRow, since, until time.Time) float64 {
	k := snapKey{r.AccountID, r.Region, r.FunctionName, r.Version, r.Runtime, r.MemorySizeMB}
	l := s[k]
	if l == nil {
		l = &SnapStartLine{AccountID: k.account, Region: k.region, FunctionName: k.fn, Version: k.version, Runtime: k.runtime,
			MemorySizeMB: k.memory, Free: !SnapStartCharged(k.runtime)}
		s[k] = l
	}
	l.Restores += r.Restores
	day := r.Day.UTC()
	secs := earlierOf(day.AddDate(0, 0, 1), until).Sub(laterOf(day, since)).Seconds()
	if secs < 0 {
		secs = 0
	}
	if l.days == nil {
		l.days = map[time.Time]bool{}
	}
	if l.days[day] {
		secs = 0
	}
	l.days[day] = true
	l.CacheSeconds += secs
	if l.Free {
		return 0
	}
	cache, restore := t.SnapStart.Charge(r.MemorySizeMB, r.Restores, secs)
	l.Cache += cache
	l.Restore += restore
	return cache + restore
}

func (s snapLines) sorted() []SnapStartLine {
	out := make([]SnapStartLine, 0, len(s))
	for _, l := range s {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b SnapStartLine) int {
		return cmp.Or(cmp.Compare(a.FunctionName, b.FunctionName), cmp.Compare(a.Version, b.Version), cmp.Compare(a.AccountID, b.AccountID),
			cmp.Compare(a.Region, b.Region), cmp.Compare(a.MemorySizeMB, b.MemorySizeMB), cmp.Compare(a.Runtime, b.Runtime))
	})
	return out
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlierOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// onManagedInstances says whether a capacity provider of the
// configuration runs the function.
func (p *Prices) onManagedInstances(account, region, fn string) bool {
	for i := range p.CapacityProviders {
		cp := &p.CapacityProviders[i]
		pc := cp.asProvisioned()
		if pc.region() == region && (cp.AccountID == "" || cp.AccountID == account) && slices.Contains(cp.Functions, fn) {
			return true
		}
	}
	return false
}
