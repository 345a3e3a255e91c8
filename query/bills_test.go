package query_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
)

// The prices below are AWS's public list for US East (N. Virginia) from
// https://aws.amazon.com/lambda/pricing/ (SnapStart cache $0.0000015046
// per GB-s and restore $0.0001397998 per GB; durable functions $8.00 per
// million operations, $0.25 per GB written, $0.15 per GB-month retained;
// Managed Instances: the EC2 on-demand price plus a 15 % management fee,
// $0.20 per million requests, m7g.xlarge's EC2 on-demand price $0.1632 an
// hour as the page's Managed Instances example quotes it), as read on
// 2026-12-06; aws_examples_test.go reproduces the page's own examples. The
// other instance prices used here (c7g.large $0.0725, m7g.large $0.0816)
// are the defaults, from dated transcriptions of AWS's Price List read
// 2026-12-07, not an AWS page (see README). Each expected figure is worked
// by hand from those prices in the comment beside it.

func TestSnapStartChargesMatchPublishedPrices(t *testing.T) {
	prices := query.DefaultPrices()
	day := march.AddDate(0, 0, 1)
	tests := []struct {
		name           string
		runtime        string
		cache, restore float64
	}{
		// 1 GB cached a whole day: 86,400 GB-s × $0.0000015046 =
		// $0.12999744; 1,000 restores of 1 GB × $0.0001397998 = $0.1397998.
		{name: "python pays", runtime: "python3.12", cache: 0.12999744, restore: 0.1397998},
		{name: "dotnet pays", runtime: "dotnet8", cache: 0.12999744, restore: 0.1397998},
		{name: "java is free", runtime: "java21"},
		// Records name the runtime as AWS_EXECUTION_ENV does.
		{name: "java from the execution environment is free", runtime: "AWS_Lambda_java17"},
		{name: "python from the execution environment pays", runtime: "AWS_Lambda_python3.13", cache: 0.12999744, restore: 0.1397998},
		// A record that does not name its runtime is charged: a cost is not
		// hidden for want of the name.
		{name: "unknown runtime pays", runtime: "", cache: 0.12999744, restore: 0.1397998},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := row("thumbs", query.ArchX86, 1024, 10_000, 100)
			r.InitializationType, r.Runtime, r.Restores = "snap-start", tt.runtime, 1000
			rep := query.PriceUsage(&prices, []query.UsageRow{r}, march, day)
			if len(rep.SnapStart) != 1 {
				t.Fatalf("SnapStart lines = %+v, want one", rep.SnapStart)
			}
			l := rep.SnapStart[0]
			if !near(l.Cache, tt.cache) || !near(l.Restore, tt.restore) || l.Restores != 1000 || l.CacheSeconds != 86400 {
				t.Errorf("line = %+v, want cache %g restore %g", l, tt.cache, tt.restore)
			}
			// 10,000 × 0.1 s × 1 GB = 1,000 GB-s at $0.0000166667
			// plus 10,000 requests at $0.20/M.
			want := 1000*0.0000166667 + 0.002 + tt.cache + tt.restore
			if !near(rep.Total.Total, want) || !near(rep.Total.SnapStart, tt.cache+tt.restore) || rep.Total.Restores != 1000 {
				t.Errorf("total = %+v, want %g", rep.Total, want)
			}
		})
	}
}

func TestSnapStartCacheIsChargedOncePerDayAndClippedToTheRange(t *testing.T) {
	prices := query.DefaultPrices()
	a := row("thumbs", query.ArchX86, 2048, 10, 100)
	a.InitializationType, a.Runtime, a.Restores = "snap-start", "python3.13", 2
	b := a
	b.Architecture = query.ArchARM // a second row of the same version and day
	b.Restores = 3
	// The range starts at noon: half a day of cache.
	since := march.Add(12 * 3600e9)
	rep := query.PriceUsage(&prices, []query.UsageRow{a, b}, since, march.AddDate(0, 0, 1))
	l := rep.SnapStart[0]
	if len(rep.SnapStart) != 1 || l.CacheSeconds != 43200 || l.Restores != 5 {
		t.Fatalf("lines = %+v, want one of 43200 s and 5 restores", rep.SnapStart)
	}
	if want := 2 * 43200 * 0.0000015046; !near(l.Cache, want) {
		t.Errorf("cache = %g, want %g", l.Cache, want)
	}
	if want := 5 * 2 * 0.0001397998; !near(l.Restore, want) {
		t.Errorf("restore = %g, want %g", l.Restore, want)
	}
}

func TestManagedInstancesShareTheFleetByTime(t *testing.T) {
	prices, err := query.LoadPrices(filepath.Join("testdata", "prices.good-managed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Two m7g.xlarge for one day: 48 h × $0.1632 = $7.8336 of EC2 and
	// 15 % of it, $1.17504, of management fee: $9.00864. checkout ran 3 of
	// the 4 hours its functions ran, cart 1.
	checkout := row("checkout", query.ArchARM, 2048, 1_000_000, 0)
	checkout.DurationMs = 3 * 3600e3
	cart := row("cart", query.ArchARM, 2048, 1_000_000, 0)
	cart.DurationMs = 1 * 3600e3
	other := row("orders", query.ArchX86, 1024, 1000, 1000)
	rep := query.PriceUsage(&prices, []query.UsageRow{checkout, cart, other}, march, march.AddDate(0, 0, 1))

	if len(rep.ManagedInstances) != 1 {
		t.Fatalf("managed lines = %+v", rep.ManagedInstances)
	}
	if l := rep.ManagedInstances[0]; !near(l.Cost, 9.00864) || l.InstanceHours != 48 || !near(l.HourlyPrice, 0.18768) || l.Idle != 0 ||
		l.PriceDate != "2026-11-01" {
		t.Errorf("fleet = %+v, want $9.00864 over 48 instance hours", l)
	}
	byFn := map[string]query.CostLine{}
	for _, l := range rep.ByFunction {
		byFn[l.FunctionName] = l
	}
	for fn, want := range map[string]float64{"checkout": 9.00864 * 3 / 4, "cart": 9.00864 / 4} {
		l := byFn[fn]
		// Requests are billed as on any function: 1M × $0.20; duration is not.
		if !near(l.ManagedInstances, want) || !near(l.Requests, 0.20) || l.Compute != 0 || l.GBSeconds != 0 || !near(l.Total, want+0.20) {
			t.Errorf("%s = %+v, want instances %g", fn, l.Cost, want)
		}
	}
	if l := byFn["orders"]; !near(l.Compute, 1000*0.0000166667) || l.ManagedInstances != 0 {
		t.Errorf("orders = %+v, want on-demand compute only", l.Cost)
	}
	if !near(rep.Total.ManagedInstances, 9.00864) {
		t.Errorf("total instances = %g, want 9.00864", rep.Total.ManagedInstances)
	}
	// The fleet's GB-seconds do not count against the tiers or the free
	// tier.
	for _, g := range rep.Tiers {
		if g.Architecture == query.ArchARM {
			t.Errorf("tier group of managed rows: %+v", g)
		}
	}
	// The table named no SnapStart prices: us-east-1's apply.
	if tab, _ := prices.For("us-east-1"); tab.SnapStart.RestorePerGB != 0.0001397998 || tab.Durable.OperationsPerMillion != 8 {
		t.Errorf("defaults not kept: %+v %+v", tab.SnapStart, tab.Durable)
	}
}

func TestManagedInstancesIdleDaysStayInTheTotal(t *testing.T) {
	prices := query.DefaultPrices()
	prices.CapacityProviders = []query.CapacityProvider{{Name: "batch", InstanceType: "c7g.large", Instances: 1, Functions: []string{"etl"}, HoursPerDay: 12}}
	etl := row("etl", query.ArchARM, 1024, 100, 0)
	etl.DurationMs = 1000
	// Two days; etl ran on the first only.
	rep := query.PriceUsage(&prices, []query.UsageRow{etl}, march, march.AddDate(0, 0, 2))
	day := 12 * 0.0725 * 1.15
	l := rep.ManagedInstances[0]
	if !near(l.Cost, 2*day) || !near(l.Idle, day) || l.InstanceHours != 24 {
		t.Errorf("fleet = %+v, want %g of which %g idle", l, 2*day, day)
	}
	if !near(rep.Total.ManagedInstances, 2*day) || len(rep.ByDay) != 2 || !near(rep.ByDay[1].ManagedInstances, day) {
		t.Errorf("total = %+v, by day = %+v", rep.Total, rep.ByDay)
	}
}

func TestManagedInstancesUnlistedTypeIsUnpriced(t *testing.T) {
	prices := query.DefaultPrices()
	prices.CapacityProviders = []query.CapacityProvider{{Name: "x", InstanceType: "z9.mega", Instances: 1, Functions: []string{"f"}}}
	rep := query.PriceUsage(&prices, nil, march, march.AddDate(0, 0, 1))
	if l := rep.ManagedInstances[0]; !l.Unpriced || l.Cost != 0 {
		t.Errorf("line = %+v, want unpriced", l)
	}
}

func TestDurableChargeMatchesPublishedPrices(t *testing.T) {
	d := query.DefaultPriceTable().Durable
	// 1M durable operations at $8.00, 1 GB written at $0.25 and 1 GB-month
	// retained at $0.15.
	if got := d.DurableCharge(1_000_000, 1, 1); !near(got, 8.40) {
		t.Errorf("charge = %g, want 8.40", got)
	}
	// One execution of 12 operations writing 10 KB kept 14 days.
	kb := 10.0 / (1024 * 1024)
	want := 12*8.0/1e6 + kb*0.25 + kb*14.0/30*0.15
	if got := d.DurableCharge(12, kb, kb*14/30); !near(got, want) {
		t.Errorf("charge = %g, want %g", got, want)
	}
}

func TestLoadPricesBills(t *testing.T) {
	_, err := query.LoadPrices(filepath.Join("testdata", "prices.bad-managed.yaml"))
	for _, want := range []string{"managed_instances.management_fee must not be negative", "capacity_providers[0]: instance_type must be set",
		"instances must be positive", "functions must list at least one function"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// A price file can price tenant isolation where the defaults cannot.
func TestLoadPricesTenantIsolation(t *testing.T) {
	prices, err := query.LoadPrices(filepath.Join("testdata", "prices.good-tenants.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rec := storage.TenantRecord{TenantID: "blue", Region: "us-east-1", FunctionName: "api", Architecture: query.ArchARM, MemorySizeMB: 2048,
		EphemeralStorageMB: 512, Invocations: 10, ColdStarts: 3}
	// 3 environments of 2 GB at the file's $0.000134.
	if l := query.PriceTenants(&prices, []storage.TenantRecord{rec}).Tenants[0]; !near(l.Isolation, 3*2*0.000134) || l.IsolationUnpriced {
		t.Errorf("tenant = %+v, want isolation %g", l, 3*2*0.000134)
	}
	_, err = query.LoadPrices(filepath.Join("testdata", "prices.bad-tenants.yaml"))
	if want := "architectures.x86_64.tenant_isolation_per_gb must not be negative"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestPriceTenants(t *testing.T) {
	prices := query.DefaultPrices()
	recs := []storage.TenantRecord{
		// 1M invocations of 100 ms at 1024 MB: 100,000 GB-s × $0.0000166667
		// = $1.66667, and $0.20 of requests.
		{TenantID: "blue", Region: "us-east-1", FunctionName: "api", Architecture: query.ArchX86, MemorySizeMB: 1024, EphemeralStorageMB: 512,
			Invocations: 1_000_000, ColdStarts: 40, Errors: 3, BilledDurationMs: 100_000_000},
		// The same tenant on arm64 at $0.0000133334: 10 GB-s.
		{TenantID: "blue", Region: "us-east-1", FunctionName: "api", Architecture: query.ArchARM, MemorySizeMB: 1024, EphemeralStorageMB: 512,
			Invocations: 100, ColdStarts: 1, BilledDurationMs: 10_000},
		{TenantID: "green", Region: "us-east-1", FunctionName: "api", Architecture: query.ArchX86, MemorySizeMB: 1024, EphemeralStorageMB: 512,
			Invocations: 10, BilledDurationMs: 1000},
	}
	rep := query.PriceTenants(&prices, recs)
	if len(rep.Tenants) != 2 || rep.Tenants[0].TenantID != "blue" {
		t.Fatalf("tenants = %+v, want blue first", rep.Tenants)
	}
	b := rep.Tenants[0]
	// Tenant isolation: 40 environments of 1 GB on x86 at $0.000167; the
	// arm64 one is not priced (no published price) and is flagged.
	want := 100_000*0.0000166667 + 0.20 + 10*0.0000133334 + 100*0.20/1e6 + 40*0.000167
	if !near(b.Cost, want) || b.Invocations != 1_000_100 || b.ColdStarts != 41 || b.Errors != 3 || !near(b.GBSeconds, 100_010) ||
		!near(b.Isolation, 40*0.000167) || !b.IsolationUnpriced {
		t.Errorf("blue = %+v, want cost %g", b, want)
	}
	if g := rep.Tenants[1]; !near(g.Cost, 0.0000166667+10*0.20/1e6) || g.Isolation != 0 || g.IsolationUnpriced {
		t.Errorf("green = %+v", g)
	}
}

// The platform marks invocations on Managed Instances with their
// initialization type: their duration is never priced as on-demand, and
// a function without a capacity provider in the configuration is named.
func TestManagedInstancesInitializationTypeIsNotBilledByDuration(t *testing.T) {
	prices := query.DefaultPrices()
	r := row("lmi", query.ArchARM, 8192, 1_000_000, 49)
	r.InitializationType = query.InitManagedInstances
	rep := query.PriceUsage(&prices, []query.UsageRow{r}, march, march.AddDate(0, 0, 1))
	if c := rep.Total; c.Compute != 0 || c.GBSeconds != 0 || !near(c.Requests, 0.20) || !near(c.Total, 0.20) {
		t.Errorf("total = %+v, want requests only", c)
	}
	if len(rep.Tiers) != 0 || len(rep.FreeTier) != 1 || rep.FreeTier[0].GBSeconds != 0 {
		t.Errorf("tiers %+v, free %+v: want no GB-seconds", rep.Tiers, rep.FreeTier)
	}
	if len(rep.UnpricedManagedInstances) != 1 || rep.UnpricedManagedInstances[0] != "us-east-1/lmi" {
		t.Errorf("unpriced = %v, want us-east-1/lmi", rep.UnpricedManagedInstances)
	}
	prices.CapacityProviders = []query.CapacityProvider{{Name: "p", InstanceType: "m7g.large", Instances: 1, Functions: []string{"lmi"}}}
	r.DurationMs = 49e6
	rep = query.PriceUsage(&prices, []query.UsageRow{r}, march, march.AddDate(0, 0, 1))
	if want := 24 * 0.0816 * 1.15; !near(rep.Total.ManagedInstances, want) || len(rep.UnpricedManagedInstances) != 0 {
		t.Errorf("total = %+v, unpriced %v; want instances %g", rep.Total, rep.UnpricedManagedInstances, want)
	}
}

// Right-sizing a function on Managed Instances promises no saving per
// GB-second: its duration is not billed.
func TestRightsizeOnManagedInstances(t *testing.T) {
	prices := query.DefaultPrices()
	prices.CapacityProviders = []query.CapacityProvider{{Name: "web", InstanceType: "m7g.large", Instances: 1, Functions: []string{"api"}}}
	profiles := []storage.MemoryProfileRecord{
		{Region: "us-east-1", FunctionName: "api", Architecture: query.ArchARM, MemorySizeMB: 4096, Invocations: 1000, BilledDurationMs: 1e6, MaxMemoryUsedMB: 300},
		{Region: "us-east-1", FunctionName: "batch", Architecture: query.ArchARM, MemorySizeMB: 4096, Invocations: 1000, BilledDurationMs: 1e6, MaxMemoryUsedMB: 300},
	}
	got := query.Advise(&prices, query.DefaultRightsizeConfig(), profiles, 30*24*time.Hour)
	by := map[string]query.Advice{}
	for _, a := range got {
		by[a.FunctionName] = a
	}
	if a := by["api"]; a.MonthlySaving != 0 || a.MonthlyCostNow != 0 || !strings.Contains(a.Reason, "Managed Instances") || a.Action != query.AdviceDecrease {
		t.Errorf("api = %+v, want a decrease without a saving", a)
	}
	if a := by["batch"]; a.MonthlySaving <= 0 {
		t.Errorf("batch = %+v, want a saving", a)
	}
}

// A Compute Savings Plan takes its discount off duration and provisioned
// concurrency, not requests or ephemeral storage. Worked by hand on AWS's
// provisioned concurrency "Example 2" (Cyber Monday: 2 M requests of
// 280 ms at 4096 MB served with provisioned concurrency 7 for 24 hours;
// $10.08 + $21.78 + $0.40 at list prices) with a 17 % discount, the most
// AWS quotes for Lambda: 2,419,200 GB-s × $0.0000041667 × 0.83 =
// $8.3665, 2,240,000 GB-s × $0.0000097222 × 0.83 = $18.0755, requests
// $0.40, total $26.842 (the rounded lines add up to $26.85); and 1 M on-demand requests of 1 s at
// 1024 MB with 1024 MB of ephemeral storage: 1,000,000 GB-s ×
// $0.0000166667 × 0.83 = $13.83, requests $0.20, storage 500,000 GB-s ×
// $0.0000000309 = $0.02 (not discounted).
func TestSavingsPlanDiscountsDurationAndProvisionedConcurrency(t *testing.T) {
	day := march.AddDate(0, 0, 29)
	t.Run("provisioned concurrency", func(t *testing.T) {
		prices := query.DefaultPrices()
		prices.SavingsPlan.Discount = 0.17
		prices.Provisioned = []query.ProvisionedConcurrency{{FunctionName: "bert", MemoryMB: 4096, Concurrency: 7,
			From: day.Format("2006-01-02"), Until: day.AddDate(0, 0, 1).Format("2006-01-02")}}
		r := row("bert", query.ArchX86, 4096, 2_000_000, 280)
		r.Day, r.InitializationType = day, "provisioned-concurrency"
		rep := query.PriceUsage(&prices, []query.UsageRow{r}, march, march.AddDate(0, 1, 0))
		c := rep.Total
		if cents(c.Provisioned) != 8.37 || cents(c.Compute) != 18.08 || cents(c.Requests) != 0.40 || cents(c.Total) != 26.84 {
			t.Errorf("total = %+v, want $8.37 + $18.08 + $0.40 = $26.84", c)
		}
		if want := (2_419_200*0.0000041667 + 2_240_000*0.0000097222) * 0.17; !near(c.SavingsPlan, want) {
			t.Errorf("saved %.4f, want %.4f", c.SavingsPlan, want)
		}
		if l := rep.ProvisionedConcurrency; len(l) != 1 || cents(l[0].Cost) != 8.37 {
			t.Errorf("provisioned concurrency = %+v, want $8.37", l)
		}
	})
	t.Run("on demand", func(t *testing.T) {
		prices := query.DefaultPrices()
		prices.SavingsPlan.Discount = 0.17
		r := row("api", query.ArchX86, 1024, 1_000_000, 1000)
		r.EphemeralStorageMB = 1024
		rep := query.PriceUsage(&prices, []query.UsageRow{r}, march, march.AddDate(0, 1, 0))
		c := rep.Total
		if cents(c.Compute) != 13.83 || cents(c.Requests) != 0.20 || !near(c.Ephemeral, 500_000*0.0000000309) {
			t.Errorf("total = %+v, want compute $13.83, requests $0.20, storage at list price", c)
		}
		if want := c.Compute + c.Requests + c.Ephemeral; !near(c.Total, want) {
			t.Errorf("total %.4f, want %.4f", c.Total, want)
		}
	})
	t.Run("from a price file", func(t *testing.T) {
		p, err := query.LoadPrices(filepath.Join("testdata", "prices.good-savings.yaml"))
		if err != nil || p.SavingsPlan.Discount != 0.12 || len(p.Tables) != 1 {
			t.Errorf("prices = %+v (%v), want the default table and a 12 %% discount", p, err)
		}
	})
	t.Run("discount out of range", func(t *testing.T) {
		for _, d := range []float64{-0.1, 1} {
			prices := query.DefaultPrices()
			prices.SavingsPlan.Discount = d
			if err := prices.Validate(); err == nil || !strings.Contains(err.Error(), "savings_plan.discount") {
				t.Errorf("discount %g: err = %v, want one naming savings_plan.discount", d, err)
			}
		}
	})
}
