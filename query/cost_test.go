package query_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

var march = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// row is n invocations of ms billed milliseconds each at mb MB.
func row(fn, arch string, mb uint32, n, ms uint64) query.UsageRow {
	return query.UsageRow{Day: march, AccountID: "111122223333", Region: "us-east-1", FunctionName: fn, Version: "1",
		Architecture: arch, MemorySizeMB: mb, EphemeralStorageMB: 512, Invocations: n, BilledDurationMs: n * ms}
}

func TestPriceUsageMatchesPublishedExamples(t *testing.T) {
	prices := query.DefaultPrices()
	tests := []struct {
		name                       string
		rows                       []query.UsageRow
		compute, requests, storage float64
		freeValue                  float64
	}{
		{
			// AWS pricing page, "512 MB, 3 million invocations of 1 s":
			// 3,000,000 × 1 s × 512/1024 = 1,500,000 GB-s.
			// Compute: 1,500,000 × $0.0000166667 = $25.00005.
			// AWS subtracts 400,000 free GB-s and shows 1,100,000 × $0.00001667
			// = $18.34; we show the gross figure and the free tier beside it:
			// 400,000 × $0.0000166667 = $6.66668, and 25.00005 - 6.66668 =
			// $18.33337 (AWS rounds the price to $0.00001667).
			// Requests: 3 M × $0.20 = $0.60, of which 1 M ($0.20) is free, so
			// AWS's $0.40 = 0.60 - 0.20.
			name:    "512 MB, 3 M × 1 s, x86",
			rows:    []query.UsageRow{row("api", query.ArchX86, 512, 3_000_000, 1000)},
			compute: 25.00005, requests: 0.60, freeValue: 6.66668 + 0.20,
		},
		{
			// The mobile application backend (3 M requests a month of
			// 120 ms at 1536 MB) on arm64, worked by hand. AWS's pricing
			// page, read 2026-12-06, works this example on x86 only
			// ("Example 1: Mobile application backend", $2.73, in
			// aws_examples_test.go); the arm64 first-tier price is the one
			// its durable functions example quotes ($0.0000133334,
			// TestAWSExampleDurableFunctions).
			// 3,000,000 × 0.120 s × 1536/1024 = 540,000 GB-s.
			// Compute: 540,000 × $0.0000133334 = $7.200036.
			// Requests: 3 × $0.20 = $0.60. Total $7.80.
			name:    "mobile backend, arm64",
			rows:    []query.UsageRow{row("orders", query.ArchARM, 1536, 3_000_000, 120)},
			compute: 7.200036, requests: 0.60, freeValue: 400_000*0.0000133334 + 0.20,
		},
		{
			// Ephemeral storage: 10 GB (10,240 MB) configured, 512 MB free,
			// so 9.5 GB billed for 1,000,000 × 2 s = 2,000,000 s:
			// 19,000,000 GB-s × $0.0000000309 = $0.5871.
			// Compute: 2,000,000 s × 1 GB × $0.0000166667 = $33.3334.
			name: "ephemeral storage above 512 MB",
			rows: func() []query.UsageRow {
				r := row("etl", query.ArchX86, 1024, 1_000_000, 2000)
				r.EphemeralStorageMB = 10240
				return []query.UsageRow{r}
			}(),
			compute: 33.3334, requests: 0.20, storage: 0.5871, freeValue: 400_000*0.0000166667 + 0.20,
		},
		{
			// Tiers per account, architecture and region per month: two x86
			// functions using 5 B GB-s each (10 B in all) cross the 6 B tier:
			// 6e9 × $0.0000166667 + 4e9 × $0.000015 = 100,000.2 + 60,000
			// = $160,000.20. 5e9 GB-s = 5e9 s at 1024 MB = 5e12 ms.
			// Requests: 2 × 1,000,000 × $0.20/M = $0.40.
			name: "tiers across functions",
			rows: []query.UsageRow{
				row("a", query.ArchX86, 1024, 1_000_000, 5_000_000),
				row("b", query.ArchX86, 1024, 1_000_000, 5_000_000),
			},
			compute: 160_000.20, requests: 0.40, freeValue: 400_000*0.0000166667 + 0.20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := query.PriceUsage(&prices, tt.rows, march, march.AddDate(0, 1, 0))
			if !near(rep.Total.Compute, tt.compute) || !near(rep.Total.Requests, tt.requests) || !near(rep.Total.Ephemeral, tt.storage) {
				t.Errorf("compute %.6f requests %.6f storage %.6f; want %.6f %.6f %.6f",
					rep.Total.Compute, rep.Total.Requests, rep.Total.Ephemeral, tt.compute, tt.requests, tt.storage)
			}
			if !near(rep.Total.Total, tt.compute+tt.requests+tt.storage) {
				t.Errorf("total %.6f", rep.Total.Total)
			}
			if len(rep.FreeTier) != 1 || !near(rep.FreeTier[0].Value, tt.freeValue) {
				t.Errorf("free tier = %+v, want value %.6f", rep.FreeTier, tt.freeValue)
			}
			if len(rep.PriceTables) != 1 || rep.PriceTables[0] != "us-east-1@2025-08-01" || rep.Currency != "USD" {
				t.Errorf("price tables %v %s", rep.PriceTables, rep.Currency)
			}
		})
	}
}

func TestPriceUsageAllocatesTiersByShare(t *testing.T) {
	prices := query.DefaultPrices()
	// 9 B and 3 B GB-s on x86 (12 B): 6e9 × 0.0000166667 + 6e9 × 0.000015
	// = 100,000.2 + 90,000 = $190,000.20, blended 190,000.2 / 12e9.
	// The first function's share is 9/12 = 0.75: $142,500.15.
	// An arm64 function in the same account is a separate tier group.
	rows := []query.UsageRow{
		row("big", query.ArchX86, 1024, 1_000_000, 9_000_000),
		row("small", query.ArchX86, 1024, 1_000_000, 3_000_000),
		row("arm", query.ArchARM, 1024, 1_000_000, 1_000),
	}
	rep := query.PriceUsage(&prices, rows, march, march.AddDate(0, 1, 0))
	if len(rep.Tiers) != 2 {
		t.Fatalf("tiers = %+v", rep.Tiers)
	}
	x86 := rep.Tiers[1]
	if x86.Architecture != query.ArchX86 || !near(x86.Compute, 190_000.20) || len(x86.Shares) != 2 {
		t.Fatalf("x86 tier = %+v", x86)
	}
	if big := x86.Shares[0]; big.FunctionName != "big" || !near(big.Fraction, 0.75) || !near(big.Compute, 142_500.15) {
		t.Errorf("big share = %+v", big)
	}
	// arm: 1,000,000 s × 1 GB × $0.0000133334 = $13.3334.
	if arm := rep.Tiers[0]; !near(arm.Compute, 13.3334) {
		t.Errorf("arm tier = %+v", arm)
	}
	if rep.ByFunction[0].FunctionName != "big" || !near(rep.ByFunction[0].Compute, 142_500.15) {
		t.Errorf("by function = %+v", rep.ByFunction[0])
	}
	// Per 1 M invocations: big's total (compute + $0.20 requests) over 1 M.
	if !near(rep.ByFunction[0].PerMillion, 142_500.35) {
		t.Errorf("per million = %f", rep.ByFunction[0].PerMillion)
	}
}

func TestPriceUsageUnknownRegionFallsBack(t *testing.T) {
	prices := query.DefaultPrices()
	r := row("api", query.ArchX86, 128, 10, 100)
	r.Region = "eu-west-1"
	rep := query.PriceUsage(&prices, []query.UsageRow{r}, march, march.AddDate(0, 0, 1))
	if len(rep.FallbackRegions) != 1 || rep.FallbackRegions[0] != "eu-west-1" {
		t.Errorf("fallback regions = %v", rep.FallbackRegions)
	}
}

func TestLoadPrices(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string
		region  string
		x86     float64
	}{
		{file: "prices.good.yaml", region: "eu-west-1", x86: 0.0000170000},
		{file: "prices.good.json", region: "us-east-1", x86: 0.0000150000},
		{file: "prices.bad-tiers.yaml", wantErr: "architectures.x86_64.duration[1].up_to_gb_seconds must be 0"},
		{file: "prices.bad-field.yaml", wantErr: "field requests_per_milion not found"},
		{file: "prices.bad-ext.txt", wantErr: "want a .yaml, .yml or .json file"},
		{file: "prices.good-provisioned.yaml", region: "us-east-1", x86: 0.0000166667},
		{file: "prices.good-savings.yaml", region: "us-east-1", x86: 0.0000166667},
		{file: "prices.bad-savings.yaml", wantErr: "savings_plan.discount must be at least 0 and below 1, got 1.5"},
		{file: "prices.good-observability.yaml", region: "us-east-1", x86: 0.0000166667},
		{file: "prices.bad-observability.yaml", wantErr: "observability.cloudwatch_logs_class: log class must be standard or infrequent_access, got \"glacier\"\n" +
			"observability.transfer_out[1].up_to_gb must grow\nobservability.transfer_out[2].price_per_gb must not be negative\n" +
			"observability.cloudwatch_logs_standard[0].up_to_gb must be 0 (unbounded) on the last tier"},
		{file: "prices.bad-provisioned.yaml", wantErr: "provisioned_concurrency[0]: memory_mb must be between 128 and 10240, got 64\n" +
			"concurrency must be positive\nhours_per_day must be between 0 and 24, got 25\nfrom: \"March\" is neither"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := query.LoadPrices(filepath.Join("testdata", tt.file))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadPrices: %v", err)
			}
			tab, fallback := p.For(tt.region)
			if fallback || tab.Architectures[query.ArchX86].Duration[0].PricePerGBSecond != tt.x86 {
				t.Errorf("table for %s = %+v (fallback %v)", tt.region, tab, fallback)
			}
			if _, fb := p.For("us-east-1"); fb {
				t.Error("us-east-1 is missing after loading")
			}
		})
	}
}

func TestAdvise(t *testing.T) {
	prices := query.DefaultPrices()
	cfg := query.DefaultRightsizeConfig()
	profiles := []storageProfile{
		// 1024 MB configured, 200 MB used: 200 × 1.3 = 260 → 320 MB.
		// 30 days observed, 1,000,000 s billed: now 1,000,000 × 1 GB ×
		// $0.0000166667 = $16.6667; then × 320/1024 = $5.20834;
		// saving $11.45836.
		{fn: "lean", mem: 1024, used: 200, inv: 1000, billedMs: 1_000_000_000},
		// 512 MB, 480 used (94%): increase to 480 × 1.3 = 624 → 640 MB.
		{fn: "tight", mem: 512, used: 480, inv: 1000, billedMs: 1_000_000},
		// Too few invocations for advice.
		{fn: "quiet", mem: 1024, used: 10, inv: 5, billedMs: 1000},
		// 256 MB, 190 used: 247 → 256, keep.
		{fn: "fit", mem: 256, used: 190, inv: 1000, billedMs: 1000},
	}
	got := query.Advise(&prices, cfg, toRecords(profiles), 30*24*time.Hour)
	if len(got) != 3 {
		t.Fatalf("advice = %+v", got)
	}
	want := map[string]struct {
		action    string
		suggested uint32
	}{"lean": {query.AdviceDecrease, 320}, "tight": {query.AdviceIncrease, 640}, "fit": {query.AdviceKeep, 256}}
	for _, a := range got {
		w := want[a.FunctionName]
		if a.Action != w.action || a.SuggestedMB != w.suggested {
			t.Errorf("%s: %s to %d MB, want %s to %d", a.FunctionName, a.Action, a.SuggestedMB, w.action, w.suggested)
		}
	}
	if got[0].FunctionName != "lean" || !near(got[0].MonthlyCostNow, 16.6667) || !near(got[0].MonthlySaving, 11.45836) {
		t.Errorf("lean = %+v", got[0])
	}
}

func TestPriceUsageProvisionedConcurrency(t *testing.T) {
	// AWS pricing page, provisioned concurrency example (us-east-1, x86):
	// 100 provisioned at 1536 MB for 8 hours a day over 31 days, serving
	// 1.2 M requests of 1 s.
	// Idle: 31 × 8 × 3600 = 892,800 s × 100 × 1536/1024 = 150 GB
	// = 133,920,000 GB-s × $0.0000041667 = $558.004464 (AWS: $558).
	// Duration: 1,200,000 s × 1.5 GB = 1,800,000 GB-s × $0.0000097222
	// = $17.49996 (AWS: $17.50). Requests: 1.2 × $0.20 = $0.24.
	// Total $575.744424 (AWS: $575.74).
	served := row("app", query.ArchX86, 1536, 1_200_000, 1000)
	served.InitializationType = "provisioned-concurrency"
	pc := query.ProvisionedConcurrency{FunctionName: "app", Qualifier: "prod", MemoryMB: 1536, Concurrency: 100, HoursPerDay: 8}
	tests := []struct {
		name                string
		pc                  query.ProvisionedConcurrency
		idle, idleGBSeconds float64
	}{
		{"AWS example, whole month", pc, 558.004464, 133_920_000},
		{
			// From 16 March: 16 × 8 × 3600 = 460,800 s × 150 GB
			// = 69,120,000 GB-s × $0.0000041667 = $288.002304.
			"configured from mid-month",
			func() query.ProvisionedConcurrency { p := pc; p.From = "2026-03-16"; return p }(),
			288.002304, 69_120_000,
		},
		{
			// arm64, all day, 1 to 3 March 12:00 (RFC 3339): 2.5 days
			// = 216,000 s × 150 GB = 32,400,000 GB-s × $0.0000033334
			// = $108.00216.
			"arm64 all day, bounded",
			func() query.ProvisionedConcurrency {
				p := pc
				p.Architecture, p.HoursPerDay, p.Until = query.ArchARM, 0, "2026-03-03T12:00:00Z"
				return p
			}(),
			108.00216, 32_400_000,
		},
		{
			"configured after the range",
			func() query.ProvisionedConcurrency { p := pc; p.From = "2026-05-01"; return p }(),
			0, 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prices := query.DefaultPrices()
			prices.Provisioned = []query.ProvisionedConcurrency{tt.pc}
			if err := prices.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			rep := query.PriceUsage(&prices, []query.UsageRow{served}, march, march.AddDate(0, 1, 0))
			if !near(rep.Total.Compute, 17.49996) || !near(rep.Total.Requests, 0.24) {
				t.Errorf("compute %.6f requests %.6f, want 17.49996 and 0.24", rep.Total.Compute, rep.Total.Requests)
			}
			if !near(rep.Total.Provisioned, tt.idle) || !near(rep.Total.ProvisionedGBSeconds, tt.idleGBSeconds) {
				t.Errorf("provisioned %.6f for %.0f GB-s, want %.6f for %.0f", rep.Total.Provisioned, rep.Total.ProvisionedGBSeconds, tt.idle, tt.idleGBSeconds)
			}
			if want := tt.idle + 17.49996 + 0.24; !near(rep.Total.Total, want) {
				t.Errorf("total %.6f, want %.6f", rep.Total.Total, want)
			}
			// The idle charge is in the function's line (its account), its
			// version line (the qualifier) and the day lines.
			if len(rep.ByFunction) != 1 || rep.ByFunction[0].AccountID != "111122223333" || !near(rep.ByFunction[0].Total, rep.Total.Total) {
				t.Errorf("by function = %+v", rep.ByFunction)
			}
			var days, version float64
			for _, l := range rep.ByDay {
				days += l.Provisioned
			}
			for _, l := range rep.ByVersion {
				if l.Version == "prod" {
					version += l.Provisioned
				}
			}
			if !near(days, tt.idle) || !near(version, tt.idle) {
				t.Errorf("idle charge by day %.6f, on version prod %.6f; want %.6f", days, version, tt.idle)
			}
			if tt.idle > 0 && (len(rep.ProvisionedConcurrency) != 1 || !near(rep.ProvisionedConcurrency[0].Cost, tt.idle)) {
				t.Errorf("provisioned lines = %+v", rep.ProvisionedConcurrency)
			}
			if len(rep.FreeTier) != 1 || rep.FreeTier[0].GBSeconds != 0 {
				t.Errorf("free tier = %+v; provisioned concurrency is not covered by it", rep.FreeTier)
			}
		})
	}
}

func TestPricesFileExamplesAreValid(t *testing.T) {
	for _, f := range []string{"prices.good.yaml", "prices.good.json"} {
		if _, err := os.Stat(filepath.Join("testdata", f)); err != nil {
			t.Fatalf("missing %s: %v", f, err)
		}
	}
	p := query.DefaultPrices()
	if err := p.Validate(); err != nil {
		t.Fatalf("default prices: %v", err)
	}
}
