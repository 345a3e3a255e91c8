package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Architectures Lambda bills separately.
const (
	ArchX86 = "x86_64"
	ArchARM = "arm64"
)

// Tier is one step of the monthly GB-second price: the price applies to the
// GB-seconds up to UpToGBSeconds (cumulative over the month); 0 means no
// upper bound and must be the last tier.
type Tier struct {
	UpToGBSeconds    float64 `json:"up_to_gb_seconds" yaml:"up_to_gb_seconds"`
	PricePerGBSecond float64 `json:"price_per_gb_second" yaml:"price_per_gb_second"`
}

// ArchPrices are the prices of one architecture.
type ArchPrices struct {
	// Duration holds the on-demand GB-second tiers, cheapest last.
	Duration []Tier `json:"duration" yaml:"duration"`
	// ProvisionedDurationPerGBSecond prices the duration of invocations
	// served by provisioned concurrency.
	ProvisionedDurationPerGBSecond float64 `json:"provisioned_duration_per_gb_second" yaml:"provisioned_duration_per_gb_second"`
	// ProvisionedConcurrencyPerGBSecond prices keeping provisioned
	// concurrency configured, per GB-second it is configured.
	ProvisionedConcurrencyPerGBSecond float64 `json:"provisioned_concurrency_per_gb_second" yaml:"provisioned_concurrency_per_gb_second"`
	// TenantIsolationPerGB prices each execution environment Lambda
	// creates for a function in tenant isolation mode, per GB of its
	// memory. Nil means the price is not known: such environments are
	// counted and flagged, not priced.
	TenantIsolationPerGB *float64 `json:"tenant_isolation_per_gb,omitempty" yaml:"tenant_isolation_per_gb,omitempty"`
}

// FreeTier is the monthly free allowance per account. Reports show its
// value beside the cost; it is never subtracted from it.
type FreeTier struct {
	Requests  uint64  `json:"requests" yaml:"requests"`
	GBSeconds float64 `json:"gb_seconds" yaml:"gb_seconds"`
	// StreamingGB is the GB of streamed responses (beyond 6 MiB each) a
	// month free.
	StreamingGB float64 `json:"streaming_gb,omitempty" yaml:"streaming_gb,omitempty"`
}

// PriceTable is the price list of one region from one date on.
type PriceTable struct {
	Region string `json:"region" yaml:"region"`
	// EffectiveDate is when the prices were published (YYYY-MM-DD).
	EffectiveDate string `json:"effective_date" yaml:"effective_date"`
	Currency      string `json:"currency" yaml:"currency"`
	// RequestsPerMillion is the price of one million requests.
	RequestsPerMillion float64 `json:"requests_per_million" yaml:"requests_per_million"`
	// EphemeralStoragePerGBSecond prices storage configured above the
	// free 512 MB.
	EphemeralStoragePerGBSecond float64 `json:"ephemeral_storage_per_gb_second" yaml:"ephemeral_storage_per_gb_second"`
	// ResponseStreamingPerGB prices the bytes of a streamed response
	// beyond its first 6 MiB (storage.StreamFreeBytes), per GB (2^30
	// bytes); a table that leaves it out takes DefaultPriceTable's.
	ResponseStreamingPerGB float64               `json:"response_streaming_per_gb,omitempty" yaml:"response_streaming_per_gb,omitempty"`
	Architectures          map[string]ArchPrices `json:"architectures" yaml:"architectures"`
	FreeTier               FreeTier              `json:"free_tier" yaml:"free_tier"`
	// SnapStart, Durable and ManagedInstances price the other ways Lambda
	// bills; a file that leaves one out takes DefaultPriceTable's.
	SnapStart        SnapStartPrices       `json:"snapstart,omitzero" yaml:"snapstart,omitempty"`
	Durable          DurablePrices         `json:"durable,omitzero" yaml:"durable,omitempty"`
	ManagedInstances ManagedInstancePrices `json:"managed_instances,omitzero" yaml:"managed_instances,omitempty"`
}

// DefaultPriceTable is AWS's public Lambda price list for US East
// (N. Virginia).
//
// Checked on 2026-12-06 against https://aws.amazon.com/lambda/pricing/
// (its worked examples quote each price; aws_examples_test.go reproduces
// them): requests, the first duration tier of both architectures,
// ephemeral storage, provisioned concurrency and its duration on x86,
// SnapStart, durable functions, tenant isolation on x86, and the Managed
// Instances fee. The later tiers follow the discounts of "Introducing
// tiered pricing for AWS Lambda" (AWS Compute Blog): 10 % and 20 % off the
// first tier. A dated transcription of AWS's Price List API (queried
// 2025-10-28; TestDefaultsMatchPriceListTranscription) gives every one of
// these that it lists the same, tiers and their bounds included, and is
// the only source found for arm64's provisioned concurrency prices
// ($0.0000077778 and $0.0000033334; not on an AWS page's text, searched
// again 2026-12-07). arm64's tenant isolation price was found nowhere:
// AWS's tenant isolation guide says it depends on the architecture, so
// x86's is not reused; it is left out (unpriced, flagged).
func DefaultPriceTable() PriceTable {
	return PriceTable{
		Region:                      DefaultRegion,
		EffectiveDate:               "2025-08-01",
		Currency:                    "USD",
		RequestsPerMillion:          0.20,
		EphemeralStoragePerGBSecond: 0.0000000309,
		// Response streaming: $0.008 per GB beyond the first 6 MB of each
		// response, the first 100 GB a month free (the free tier's value
		// is shown, not subtracted). Not on an AWS page's text here: as
		// quoted from aws.amazon.com/lambda/pricing by Scalar's "How to
		// host an MCP server: options compared (2026)", prices checked
		// against AWS's pages on 2026-10-07 (read here 2026-12-06);
		// TestResponseStreamingCharge.
		ResponseStreamingPerGB: 0.008,
		Architectures: map[string]ArchPrices{
			ArchX86: {
				Duration: []Tier{
					{UpToGBSeconds: 6e9, PricePerGBSecond: 0.0000166667},
					{UpToGBSeconds: 15e9, PricePerGBSecond: 0.000015},
					{PricePerGBSecond: 0.0000133334},
				},
				ProvisionedDurationPerGBSecond:    0.0000097222,
				ProvisionedConcurrencyPerGBSecond: 0.0000041667,
				TenantIsolationPerGB:              ptr(0.000167),
			},
			ArchARM: {
				Duration: []Tier{
					{UpToGBSeconds: 7.5e9, PricePerGBSecond: 0.0000133334},
					{UpToGBSeconds: 18.75e9, PricePerGBSecond: 0.0000120001},
					{PricePerGBSecond: 0.0000106667},
				},
				// From a dated Price List API transcription (see above).
				ProvisionedDurationPerGBSecond:    0.0000077778,
				ProvisionedConcurrencyPerGBSecond: 0.0000033334,
				// Tenant isolation on arm64: AWS's page (read 2026-12-06)
				// gives only an x86 example ($0.000167 per GB) and its guide
				// says the price depends on the architecture; the arm64
				// price was not found, so it is left unpriced.
			},
		},
		FreeTier:         FreeTier{Requests: 1_000_000, GBSeconds: 400_000, StreamingGB: 100},
		SnapStart:        defaultSnapStart(),
		Durable:          defaultDurable(),
		ManagedInstances: defaultManagedInstances(),
	}
}

// Validate reports what makes the table unusable, naming the key.
func (t *PriceTable) Validate() error {
	var errs []error
	if t.Region == "" {
		errs = append(errs, errors.New("region must be set"))
	}
	if t.RequestsPerMillion < 0 || t.EphemeralStoragePerGBSecond < 0 {
		errs = append(errs, fmt.Errorf("%s: requests_per_million and ephemeral_storage_per_gb_second must not be negative", t.Region))
	}
	if t.ResponseStreamingPerGB < 0 {
		errs = append(errs, fmt.Errorf("%s: response_streaming_per_gb must not be negative", t.Region))
	}
	if len(t.Architectures) == 0 {
		errs = append(errs, fmt.Errorf("%s: architectures must list at least one architecture", t.Region))
	}
	for arch, p := range t.Architectures {
		if len(p.Duration) == 0 {
			errs = append(errs, fmt.Errorf("%s: architectures.%s.duration must have at least one tier", t.Region, arch))
		}
		if p.TenantIsolationPerGB != nil && *p.TenantIsolationPerGB < 0 {
			errs = append(errs, fmt.Errorf("%s: architectures.%s.tenant_isolation_per_gb must not be negative", t.Region, arch))
		}
		prev := 0.0
		for i, tier := range p.Duration {
			last := i == len(p.Duration)-1
			switch {
			case tier.PricePerGBSecond < 0:
				errs = append(errs, fmt.Errorf("%s: architectures.%s.duration[%d].price_per_gb_second must not be negative", t.Region, arch, i))
			case !last && tier.UpToGBSeconds <= prev:
				errs = append(errs, fmt.Errorf("%s: architectures.%s.duration[%d].up_to_gb_seconds must grow", t.Region, arch, i))
			case last && tier.UpToGBSeconds != 0:
				errs = append(errs, fmt.Errorf("%s: architectures.%s.duration[%d].up_to_gb_seconds must be 0 (unbounded) on the last tier", t.Region, arch, i))
			}
			prev = tier.UpToGBSeconds
		}
	}
	if err := t.validateBills(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// gbSecondCost prices gbs GB-seconds that follow `before` GB-seconds
// already used this month.
func (p ArchPrices) gbSecondCost(before, gbs float64) float64 {
	cost, lo := 0.0, 0.0
	for _, tier := range p.Duration {
		hi := tier.UpToGBSeconds
		if hi == 0 {
			hi = before + gbs + 1
		}
		from, to := max(lo, before), min(hi, before+gbs)
		if to > from {
			cost += (to - from) * tier.PricePerGBSecond
		}
		lo = hi
	}
	return cost
}

func ptr[T any](v T) *T { return &v }

func (p ArchPrices) firstTierPrice() float64 {
	if len(p.Duration) == 0 {
		return 0
	}
	return p.Duration[0].PricePerGBSecond
}

// Prices holds the price tables by region, and the provisioned
// concurrency configured on functions, which is billed while configured
// whether or not it serves invocations.
type Prices struct {
	Tables []PriceTable `json:"prices" yaml:"prices"`
	// Provisioned lists provisioned concurrency configurations; the
	// invocation records do not carry them.
	Provisioned []ProvisionedConcurrency `json:"provisioned_concurrency,omitempty" yaml:"provisioned_concurrency,omitempty"`
	// CapacityProviders lists the Managed Instances fleets whose cost is
	// shared over the invocations of the functions they run.
	CapacityProviders []CapacityProvider `json:"capacity_providers,omitempty" yaml:"capacity_providers,omitempty"`
	// SavingsPlan is a Compute Savings Plan's discount; the zero value is
	// none.
	SavingsPlan SavingsPlan `json:"savings_plan,omitzero" yaml:"savings_plan,omitempty"`
	// Observability overrides the prices of the observability cost (data
	// transfer out, CloudWatch Logs' tiers and the log class compared
	// with); ObservabilityPrices applies it over the defaults.
	Observability ObservabilityPriceFile `json:"observability,omitzero" yaml:"observability,omitempty"`
}

// SavingsPlan is what a Compute Savings Plan takes off Lambda's bill.
// AWS's Compute Savings Plans cover Lambda's duration (on demand and with
// provisioned concurrency) and provisioned concurrency, not requests
// (https://aws.amazon.com/savingsplans/compute-pricing/); the discount is
// the plan's own (its term and payment option set it: AWS quotes "up to
// 17 %" for Lambda), so there is no default. It is applied to every
// covered charge, after the tiers: as if the commitment covered all of
// the usage. Ephemeral storage, SnapStart and Managed Instances are left
// at their list prices.
type SavingsPlan struct {
	// Discount is the fraction taken off (0.12 for 12 %); 0 means none.
	Discount float64 `json:"discount" yaml:"discount"`
}

// ProvisionedConcurrency is provisioned concurrency configured on one
// function version or alias. Its idle price (ArchPrices.
// ProvisionedConcurrencyPerGBSecond) is charged for Concurrency × memory for
// every second it is configured, HoursPerDay hours a day, in [From, Until).
type ProvisionedConcurrency struct {
	FunctionName string `json:"function" yaml:"function"`
	// Qualifier is the version or alias it is configured on (shown in the
	// report by version).
	Qualifier string `json:"qualifier,omitempty" yaml:"qualifier,omitempty"`
	// AccountID may be empty: the function's account in the report.
	AccountID string `json:"account_id,omitempty" yaml:"account_id,omitempty"`
	// Region defaults to DefaultRegion, Architecture to x86_64.
	Region       string `json:"region,omitempty" yaml:"region,omitempty"`
	Architecture string `json:"architecture,omitempty" yaml:"architecture,omitempty"`
	MemoryMB     uint32 `json:"memory_mb" yaml:"memory_mb"`
	Concurrency  uint32 `json:"concurrency" yaml:"concurrency"`
	// HoursPerDay is how many hours a day it is configured (scheduled
	// scaling); 0 means 24.
	HoursPerDay float64 `json:"hours_per_day,omitempty" yaml:"hours_per_day,omitempty"`
	// From and Until (YYYY-MM-DD or RFC 3339, UTC) bound when it is
	// configured; empty means unbounded.
	From  string `json:"from,omitempty" yaml:"from,omitempty"`
	Until string `json:"until,omitempty" yaml:"until,omitempty"`
}

// Validate reports what makes the configuration unusable, naming the key.
func (p *ProvisionedConcurrency) Validate() error {
	var errs []error
	if p.FunctionName == "" {
		errs = append(errs, errors.New("function must be set"))
	}
	if p.MemoryMB < 128 || p.MemoryMB > 10240 {
		errs = append(errs, fmt.Errorf("memory_mb must be between 128 and 10240, got %d", p.MemoryMB))
	}
	if p.Concurrency == 0 {
		errs = append(errs, errors.New("concurrency must be positive"))
	}
	if p.HoursPerDay < 0 || p.HoursPerDay > 24 {
		errs = append(errs, fmt.Errorf("hours_per_day must be between 0 and 24, got %g", p.HoursPerDay))
	}
	from, err := parseDay(p.From)
	if err != nil {
		errs = append(errs, fmt.Errorf("from: %w", err))
	}
	until, err := parseDay(p.Until)
	if err != nil {
		errs = append(errs, fmt.Errorf("until: %w", err))
	}
	if !from.IsZero() && !until.IsZero() && !from.Before(until) {
		errs = append(errs, errors.New("from must be before until"))
	}
	return errors.Join(errs...)
}

// configured is when the configuration is in force, clipped to [since,
// until); zero times when never.
func (p *ProvisionedConcurrency) configured(since, until time.Time) (from, to time.Time) {
	f, _ := parseDay(p.From)
	u, _ := parseDay(p.Until)
	from, to = since, until
	if !f.IsZero() && f.After(from) {
		from = f
	}
	if !u.IsZero() && u.Before(to) {
		to = u
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}
	}
	return from, to
}

func (p *ProvisionedConcurrency) region() string {
	if p.Region == "" {
		return DefaultRegion
	}
	return p.Region
}

func (p *ProvisionedConcurrency) arch() string {
	if p.Architecture == "" {
		return ArchX86
	}
	return p.Architecture
}

// dutyCycle is the share of each day it is configured.
func (p *ProvisionedConcurrency) dutyCycle() float64 {
	if p.HoursPerDay == 0 {
		return 1
	}
	return p.HoursPerDay / 24
}

// parseDay reads YYYY-MM-DD or an RFC 3339 time; "" is the zero time.
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

// DefaultPrices holds DefaultPriceTable only.
func DefaultPrices() Prices { return Prices{Tables: []PriceTable{DefaultPriceTable()}} }

// Validate checks every table and that each region appears once, and every
// provisioned concurrency configuration.
func (p *Prices) Validate() error {
	if len(p.Tables) == 0 {
		return errors.New("prices must list at least one table")
	}
	var errs []error
	for i := range p.Provisioned {
		if err := p.Provisioned[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("provisioned_concurrency[%d]: %w", i, err))
		}
	}
	for i := range p.CapacityProviders {
		if err := p.CapacityProviders[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("capacity_providers[%d]: %w", i, err))
		}
	}
	if err := p.Observability.Validate(); err != nil {
		errs = append(errs, err)
	}
	if d := p.SavingsPlan.Discount; d < 0 || d >= 1 {
		errs = append(errs, fmt.Errorf("savings_plan.discount must be at least 0 and below 1, got %g", d))
	}
	seen := map[string]bool{}
	for i := range p.Tables {
		if err := p.Tables[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("prices[%d]: %w", i, err))
		}
		if seen[p.Tables[i].Region] {
			errs = append(errs, fmt.Errorf("prices[%d]: region %s is listed twice", i, p.Tables[i].Region))
		}
		seen[p.Tables[i].Region] = true
	}
	return errors.Join(errs...)
}

// DefaultRegion is the region whose prices apply where a region has no
// table of its own.
const DefaultRegion = "us-east-1"

// For returns the table of region; a region without a table is priced
// with the DefaultRegion table (else the first), and fallback says so.
func (p *Prices) For(region string) (t *PriceTable, fallback bool) {
	var def *PriceTable
	for i := range p.Tables {
		if p.Tables[i].Region == region {
			return &p.Tables[i], false
		}
		if p.Tables[i].Region == DefaultRegion {
			def = &p.Tables[i]
		}
	}
	if def == nil && len(p.Tables) > 0 {
		def = &p.Tables[0]
	}
	return def, true
}

// LoadPrices reads price tables from a YAML (.yaml, .yml) or JSON file.
// Tables for regions the file does not list keep the defaults; a table for
// us-east-1 replaces the default one.
func LoadPrices(path string) (Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Prices{}, fmt.Errorf("read prices file: %w", err)
	}
	var file Prices
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		err = decodePricesJSON(data, &file)
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(&file)
	default:
		return Prices{}, fmt.Errorf("read prices file %s: want a .yaml, .yml or .json file", path)
	}
	if err != nil {
		return Prices{}, fmt.Errorf("parse prices file %s: %w", path, err)
	}
	file, err = completePrices(file)
	if err != nil {
		return Prices{}, fmt.Errorf("prices file %s: %w", path, err)
	}
	return file, nil
}

// ParsePricesJSON reads prices in the JSON form of a prices file, as
// LoadPrices does.
func ParsePricesJSON(data []byte) (Prices, error) {
	var file Prices
	if err := decodePricesJSON(data, &file); err != nil {
		return Prices{}, fmt.Errorf("parse prices: %w", err)
	}
	return completePrices(file)
}

func decodePricesJSON(data []byte, file *Prices) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(file)
}

// completePrices gives a file that names no table the defaults, fills the
// sections a table leaves out, validates it and adds the default table
// when it lacks us-east-1.
func completePrices(file Prices) (Prices, error) {
	if len(file.Tables) == 0 && (len(file.Provisioned) > 0 || len(file.CapacityProviders) > 0 || file.SavingsPlan.Discount != 0 ||
		!file.Observability.isZero()) {
		// A file that only names provisioned concurrency, capacity
		// providers, a Savings Plan or observability prices keeps the
		// default prices.
		file.Tables = []PriceTable{DefaultPriceTable()}
	}
	for i := range file.Tables {
		file.Tables[i].fillBills()
	}
	if err := file.Validate(); err != nil {
		return Prices{}, err
	}
	if _, fallback := file.For(DefaultRegion); fallback {
		file.Tables = append(file.Tables, DefaultPriceTable())
	}
	return file, nil
}
