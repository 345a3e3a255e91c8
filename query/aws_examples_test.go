package query_test

import (
	"math"
	"testing"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
)

// AWS's worked pricing examples, reproduced to the cent.
//
// Source: https://aws.amazon.com/lambda/pricing/ (US East (N. Virginia)),
// read 2026-12-06. The examples' own figures are quoted in the comments;
// AWS rounds each line to the cent before adding them up, so each total is
// compared after rounding to the cent.
//
// A cost report shows the free tier's value beside the cost and never
// subtracts it (query/README.md); where AWS's example subtracts the free
// tier, the test does too: total − FreeTier value.
//
// Prices these examples confirm (all us-east-1, read 2026-12-06 from the
// page above): requests $0.20 per million; duration $0.0000166667 per GB-s
// (x86, first tier) and $0.0000133334 (arm64, first tier); ephemeral
// storage $0.0000000309 per GB-s above 512 MB; provisioned concurrency
// $0.0000041667 per GB-s configured and $0.0000097222 per GB-s of
// duration (x86); SnapStart cache $0.0000015046 per GB-s and restore
// $0.0001397998 per GB; durable functions $8.00 per million operations,
// $0.25 per GB written, $0.15 per GB-month retained; tenant isolation
// $0.000167 per GB per execution environment created (x86); Managed
// Instances' management fee 15 % of the EC2 on-demand price and
// m7g.xlarge $0.1632 an hour.

// cents rounds to the cent, as AWS's examples do.
func cents(v float64) float64 { return math.Round(v*100) / 100 }

// sumCents adds figures each rounded to the cent, as the examples do.
func sumCents(vs ...float64) float64 {
	s := 0.0
	for _, v := range vs {
		s += cents(v)
	}
	return cents(s)
}

func freeValue(rep *query.CostReport) float64 {
	v := 0.0
	for _, f := range rep.FreeTier {
		v += f.Value
	}
	return v
}

func TestAWSExamplesOnDemand(t *testing.T) {
	prices := query.DefaultPrices()
	ephemeral := func(r query.UsageRow, mb uint32) query.UsageRow { r.EphemeralStorageMB = mb; return r }
	tests := []struct {
		name string
		rows []query.UsageRow
		// subtractFree: the example takes the free tier off.
		subtractFree bool
		// want is the example's total; compute, requests and storage its
		// lines before the free tier.
		want, compute, requests, storage float64
	}{
		{
			// "Example 1: Mobile application backend": 3 M requests of 120 ms
			// at 1536 MB, x86. 540,000 GB-s − 400,000 free = 140,000 ×
			// $0.0000166667 = $2.33; 2 M billable requests × $0.2/M = $0.40;
			// "Total charges = $2.33 + $0.40 = $2.73 per month".
			name:         "mobile application backend",
			rows:         []query.UsageRow{row("orders", query.ArchX86, 1536, 3_000_000, 120)},
			subtractFree: true, want: 2.73, compute: 540_000 * 0.0000166667, requests: 0.60,
		},
		{
			// "Example 2: Enriching streaming telemetry with additional
			// metadata": 10,000 vehicles × 24 × 31 = 7,440,000 messages of
			// 2 s at 1024 MB, x86, free tier not taken off. Requests $1.49,
			// compute 14.88 M GB-s × $0.0000166667 = $248.00; "$1.49 +
			// $248.00 = $249.49".
			name: "streaming telemetry",
			rows: []query.UsageRow{row("telemetry", query.ArchX86, 1024, 7_440_000, 2000)},
			want: 249.49, compute: 14_880_000 * 0.0000166667, requests: 1.488,
		},
		{
			// "Example 3: Performing ML on customer support tickets": 6 M
			// requests of 280 ms at 4096 MB, x86, 2048 MB ephemeral storage.
			// 6,720,000 GB-s − 400,000 free = 6,320,000 × $0.0000166667 =
			// $105.33; 5 M billable requests = $1; 1,680,000 s × 1.5 GB =
			// 2,520,000 GB-s × $0.0000000309 = $0.08; "$106.41 per month".
			name:         "ML on support tickets, ephemeral storage",
			rows:         []query.UsageRow{ephemeral(row("bert", query.ArchX86, 4096, 6_000_000, 280), 2048)},
			subtractFree: true, want: 106.41, compute: 6_720_000 * 0.0000166667, requests: 1.20, storage: 2_520_000 * 0.0000000309,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := query.PriceUsage(&prices, tt.rows, march, march.AddDate(0, 1, 0))
			c := rep.Total
			if !near(c.Compute, tt.compute) || !near(c.Requests, tt.requests) || !near(c.Ephemeral, tt.storage) {
				t.Errorf("compute %.6f requests %.6f storage %.6f; want %.6f %.6f %.6f", c.Compute, c.Requests, c.Ephemeral, tt.compute, tt.requests, tt.storage)
			}
			got := c.Total
			if tt.subtractFree {
				got -= freeValue(rep)
			}
			if cents(got) != tt.want {
				t.Errorf("total %.4f (%.2f), want AWS's $%.2f", got, cents(got), tt.want)
			}
		})
	}
}

func TestAWSExamplesProvisionedConcurrency(t *testing.T) {
	t.Run("mobile application launch", func(t *testing.T) {
		// "Example 1: Mobile application launch": 1536 MB, x86, provisioned
		// concurrency 100 from noon to 8 p.m. on launch day, serving
		// 500,000 requests of 100 ms; the other 2.5 M requests of 120 ms
		// on demand. Provisioned concurrency: 150 GB × 28,800 s =
		// 4,320,000 GB-s × $0.0000041667 = $18; requests 3 M − 1 M free =
		// $0.40; duration while enabled 75,000 GB-s × $0.0000097222 =
		// $0.73; on demand 450,000 − 400,000 free = 50,000 GB-s ×
		// $0.0000166667 = $0.83; "$18 + $0.40 + $0.73 + $0.83 = $19.96".
		prices := query.DefaultPrices()
		launch := march.AddDate(0, 0, 9)
		prices.Provisioned = []query.ProvisionedConcurrency{{FunctionName: "orders", Qualifier: "live", MemoryMB: 1536, Concurrency: 100,
			From: launch.Add(12 * 3600e9).Format("2006-01-02T15:04:05Z"), Until: launch.Add(20 * 3600e9).Format("2006-01-02T15:04:05Z")}}
		pc := row("orders", query.ArchX86, 1536, 500_000, 100)
		pc.Day, pc.Version, pc.InitializationType = launch, "live", "provisioned-concurrency"
		od := row("orders", query.ArchX86, 1536, 2_500_000, 120)
		od.Version = "live"
		rep := query.PriceUsage(&prices, []query.UsageRow{pc, od}, march, march.AddDate(0, 1, 0))

		if l := rep.ProvisionedConcurrency; len(l) != 1 || l[0].GBSeconds != 4_320_000 || cents(l[0].Cost) != 18.00 {
			t.Errorf("provisioned concurrency = %+v, want 4,320,000 GB-s for $18", l)
		}
		free := freeValue(rep)
		// The free tier covers 1 M requests ($0.20) and 400,000 on-demand
		// GB-s; the provisioned rows' GB-seconds are not free.
		if want := 0.20 + 400_000*0.0000166667; !near(free, want) {
			t.Errorf("free tier value %.6f, want %.6f", free, want)
		}
		if got := rep.Total.Total - free; cents(got) != 19.96 {
			t.Errorf("total less free tier %.4f, want AWS's $19.96", got)
		}
		if got := sumCents(rep.Total.Provisioned, rep.Total.Requests-0.20, 75_000*0.0000097222, 50_000*0.0000166667); got != 19.96 {
			t.Errorf("lines add up to %.2f", got)
		}
	})
	t.Run("Cyber Monday", func(t *testing.T) {
		// "Example 2: Routing customers to the most relevant support
		// solution content during Cyber Monday": 2 M requests of 280 ms at
		// 4096 MB, x86, all served with provisioned concurrency 7 for 24
		// hours. 28 GB × 86,400 s = 2,419,200 GB-s × $0.0000041667 =
		// $10.08; 2,240,000 GB-s × $0.0000097222 = $21.78; requests $0.40;
		// "= $10.08 + $21.78 + $0.40 = $32.26" (no free tier taken off).
		prices := query.DefaultPrices()
		day := march.AddDate(0, 0, 29)
		prices.Provisioned = []query.ProvisionedConcurrency{{FunctionName: "bert", MemoryMB: 4096, Concurrency: 7,
			From: day.Format("2006-01-02"), Until: day.AddDate(0, 0, 1).Format("2006-01-02")}}
		r := row("bert", query.ArchX86, 4096, 2_000_000, 280)
		r.Day, r.InitializationType = day, "provisioned-concurrency"
		rep := query.PriceUsage(&prices, []query.UsageRow{r}, march, march.AddDate(0, 1, 0))
		if c := rep.Total; cents(c.Provisioned) != 10.08 || cents(c.Compute) != 21.78 || cents(c.Requests) != 0.40 || cents(c.Total) != 32.26 {
			t.Errorf("total = %+v, want $10.08 + $21.78 + $0.40 = $32.26", c)
		}
	})
}

func TestAWSExampleSnapStart(t *testing.T) {
	// "Pricing Example: Enriching streaming telemetry with additional
	// metadata" (SnapStart Pricing): 7,440,000 requests a month (31 days)
	// of 2 s billed at 1024 MB, x86, one version with SnapStart, 1 % of
	// requests restored. Requests $1.49; compute 14.88 M GB-s = $248.00;
	// cache 1 GB × 2,678,400 s × $0.0000015046 = $4.03; restores 74,400 ×
	// 1 GB × $0.0001397998 = $10.4; "$1.49 + $248.00 + $14.43 = $263.92".
	// The example does not name the runtime; Java pays no SnapStart
	// charges, so it is one of Python and .NET.
	prices := query.DefaultPrices()
	var rows []query.UsageRow
	for d := range 31 {
		r := row("telemetry", query.ArchX86, 1024, 240_000, 2000)
		r.Day = march.AddDate(0, 0, d)
		r.InitializationType, r.Runtime, r.Restores = "snap-start", "python3.13", 2400
		rows = append(rows, r)
	}
	rep := query.PriceUsage(&prices, rows, march, march.AddDate(0, 0, 31))
	if len(rep.SnapStart) != 1 {
		t.Fatalf("SnapStart lines = %+v", rep.SnapStart)
	}
	l := rep.SnapStart[0]
	if l.CacheSeconds != 2_678_400 || l.Restores != 74_400 || cents(l.Cache) != 4.03 || cents(l.Restore) != 10.40 {
		t.Errorf("SnapStart = %+v, want 2,678,400 s cached for $4.03 and 74,400 restores for $10.40", l)
	}
	c := rep.Total
	if c.Restores != 74_400 || cents(c.Requests) != 1.49 || cents(c.Compute) != 248.00 || cents(c.SnapStart) != 14.43 {
		t.Errorf("total = %+v", c)
	}
	if got := cents(c.Total); got != 263.92 {
		t.Errorf("total %.4f, want AWS's $263.92", c.Total)
	}
}

func TestAWSExampleManagedInstances(t *testing.T) {
	// "Pricing Example: High-throughput API service" (Lambda Managed
	// Instances): 100 M requests a month on m7g.xlarge, about 2,000
	// instance hours. Requests 100 M × $0.20/M = $20; management fee 15 %
	// of the on-demand $0.1632 = $0.02448 an hour × 2,000 = $48.96. The
	// example buys the instances with a 3-year Compute Savings Plan
	// ($0.0457 an hour, $91.40) for "$20 + $91.40 + $48.96 = $160.36";
	// the report prices the instances on demand (2,000 × $0.1632 =
	// $326.40), so its total is $20 + $326.40 + $48.96 = $395.36, and
	// swapping the on-demand instance charge for the plan's gives AWS's.
	prices := query.DefaultPrices()
	// 100 instances for 20 hours of one day: 2,000 instance hours.
	prices.CapacityProviders = []query.CapacityProvider{{Name: "api", InstanceType: "m7g.xlarge", Instances: 100, HoursPerDay: 20, Functions: []string{"api"}}}
	r := row("api", query.ArchARM, 2048, 100_000_000, 200)
	r.DurationMs = 100_000_000 * 200
	r.InitializationType = query.InitManagedInstances
	rep := query.PriceUsage(&prices, []query.UsageRow{r}, march, march.AddDate(0, 0, 1))

	l := rep.ManagedInstances[0]
	ec2 := l.InstanceHours * 0.1632
	fee := l.Cost - ec2
	if l.InstanceHours != 2000 || cents(ec2) != 326.40 || cents(fee) != 48.96 {
		t.Errorf("fleet = %+v: EC2 %.4f, fee %.4f; want 2,000 h, $326.40 and $48.96", l, ec2, fee)
	}
	c := rep.Total
	if cents(c.Requests) != 20 || c.Compute != 0 || cents(c.Total) != 395.36 {
		t.Errorf("total = %+v, want $20 of requests and $395.36 in all", c)
	}
	if got := sumCents(c.Requests, 2000*0.0457, fee); got != 160.36 {
		t.Errorf("with the Savings Plan's instance charge: %.2f, want AWS's $160.36", got)
	}
}

func TestAWSExampleDurableFunctions(t *testing.T) {
	// "Lambda Durable Functions Pricing", insurance claims: 1,000,000
	// executions a month, each 2 invocations (before and after a 7-day
	// wait) of 32 s in all at 1 GB on arm64; 4 operations (start, 2 steps,
	// 1 wait); 8 KB + 3 × 32 KB = 104 KB written; kept 7 days running and
	// 14 after.
	//   compute 32,000,000 − 400,000 free = 31,600,000 GB-s ×
	//     $0.0000133334 = $421.34
	//   requests 2 M − 1 M free = $0.20
	//   operations 4 M × $8.00/M = $32.00
	//   written 104 GB × $0.25 = $26.00
	//   retained 104 GB × (7 + 14)/30 = 72.8 GB-month × $0.15 = $10.92
	//   "$421.34 + $0.20 + $32.00 + $26.00 + $10.92 = $490.46".
	// (AWS counts 1 GB as 1,000,000 KB here.)
	prices := query.DefaultPrices()
	r := row("claims", query.ArchARM, 1024, 2_000_000, 16_000)
	rep := query.PriceUsage(&prices, []query.UsageRow{r}, march, march.AddDate(0, 1, 0))
	invocations := rep.Total.Total - freeValue(rep)
	written := 104.0
	durable := query.DefaultPriceTable().Durable
	ops, data, kept := durable.DurableCharge(4_000_000, 0, 0), durable.DurableCharge(0, written, 0), durable.DurableCharge(0, 0, written*21/30)
	if cents(ops) != 32.00 || cents(data) != 26.00 || cents(kept) != 10.92 {
		t.Errorf("operations %.4f, written %.4f, retained %.4f; want $32.00, $26.00, $10.92", ops, data, kept)
	}
	if got := cents(invocations + durable.DurableCharge(4_000_000, written, written*21/30)); got != 490.46 {
		t.Errorf("total %.2f, want AWS's $490.46", got)
	}
}

func TestAWSExampleTenantIsolation(t *testing.T) {
	// "Tenant Isolation Pricing", multi-tenant SaaS application: 1024 MB,
	// x86, 10 M invocations of 2 s from 1,000 tenants, 200 execution
	// environments created per tenant (200,000 cold starts). Requests
	// 10 M × $0.2/M = $2; compute 20 M GB-s × $0.0000166667 = $333.34;
	// tenant isolation 200K × $0.000167 × 1024 MB / 1024 MB = $33.4;
	// "$2 + $333.34 + $33.4 = $368.74" (no free tier taken off).
	prices := query.DefaultPrices()
	var recs []storage.TenantRecord
	for i := range 1000 {
		recs = append(recs, storage.TenantRecord{TenantID: tenantName(i), Region: "us-east-1", FunctionName: "automation",
			Architecture: query.ArchX86, MemorySizeMB: 1024, EphemeralStorageMB: 512,
			Invocations: 10_000, ColdStarts: 200, BilledDurationMs: 10_000 * 2000})
	}
	rep := query.PriceTenants(&prices, recs)
	if len(rep.Tenants) != 1000 {
		t.Fatalf("%d tenants, want 1000", len(rep.Tenants))
	}
	var total, isolation float64
	for _, l := range rep.Tenants {
		total += l.Cost
		isolation += l.Isolation
	}
	// AWS shows the compute line, $333.334, as $333.34, so its total is a
	// cent above the figures' sum ($368.734).
	if cents(isolation) != 33.40 || math.Abs(total-368.74) > 0.01 {
		t.Errorf("isolation %.4f, total %.4f; want AWS's $33.40 and $368.74 within a cent", isolation, total)
	}
	if l := rep.Tenants[0]; !near(l.Isolation, 200*0.000167) || l.IsolationUnpriced {
		t.Errorf("one tenant = %+v, want 200 × $0.000167 of isolation", l)
	}
}

func tenantName(i int) string {
	const digits = "0123456789"
	return "t" + string(digits[i/100%10]) + string(digits[i/10%10]) + string(digits[i%10])
}

// The tier prices follow AWS's discounts on the first tier's price: 10 %
// from 6 B GB-s (x86) and 7.5 B (arm64) a month, 20 % from 15 B and
// 18.75 B ("Introducing tiered pricing for AWS Lambda", AWS Compute Blog,
// https://aws.amazon.com/blogs/compute/introducing-tiered-pricing-for-aws-lambda/,
// read 2026-12-06); the page lists the prices rounded to 10 decimals.
func TestDefaultTiersFollowPublishedDiscounts(t *testing.T) {
	table := query.DefaultPriceTable()
	for arch, bounds := range map[string][2]float64{query.ArchX86: {6e9, 15e9}, query.ArchARM: {7.5e9, 18.75e9}} {
		d := table.Architectures[arch].Duration
		if len(d) != 3 || d[0].UpToGBSeconds != bounds[0] || d[1].UpToGBSeconds != bounds[1] || d[2].UpToGBSeconds != 0 {
			t.Fatalf("%s tiers = %+v", arch, d)
		}
		first := d[0].PricePerGBSecond
		for i, discount := range []float64{0, 0.10, 0.20} {
			if want := math.Round(first*(1-discount)*1e10) / 1e10; d[i].PricePerGBSecond != want {
				t.Errorf("%s tier %d = %.10f, want %.10f (%.0f %% off)", arch, i, d[i].PricePerGBSecond, want, discount*100)
			}
		}
	}
}

// The defaults match a dated transcription of AWS's Price List API
// (service AWSLambda, us-east-1, queried 2025-10-28, prices effective
// 2025-10-01; found and read 2026-12-06), by SKU. For arm64's provisioned
// concurrency (MV7PTBS82AVCMXJJ) and provisioned duration (3Z4YRQ6XJRDK27UP)
// and response streaming (RJKWHBCSDT32Z53D x86, NCWFKF9SX4W4MNY5 arm64, the
// same price) it is the only source found; the figures AWS's pricing page
// also confirms (TestAWSExamples*) agree with it, and so do the duration
// tiers the compute blog derives (TestDefaultTiersFollowPublishedDiscounts):
// the transcription lists each tier's price and its bounds in GB-seconds.
func TestDefaultsMatchPriceListTranscription(t *testing.T) {
	table := query.DefaultPriceTable()
	x86, arm := table.Architectures[query.ArchX86], table.Architectures[query.ArchARM]
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"requests per million, x86 (GU2ZS9HVP6QTQ7KE) and arm64 (K7BX6567RJ67A2KE)", table.RequestsPerMillion, 0.20},
		{"x86 tier 1 (TG3M4CAGBA3NYQBH)", x86.Duration[0].PricePerGBSecond, 0.0000166667},
		{"x86 tier 1 ends at 6 B GB-s", x86.Duration[0].UpToGBSeconds, 6e9},
		{"x86 tier 2", x86.Duration[1].PricePerGBSecond, 0.0000150000},
		{"x86 tier 2 ends at 15 B GB-s", x86.Duration[1].UpToGBSeconds, 15e9},
		{"x86 tier 3", x86.Duration[2].PricePerGBSecond, 0.0000133334},
		{"arm64 tier 1 (72SBSFWPMDTH8S3J)", arm.Duration[0].PricePerGBSecond, 0.0000133334},
		{"arm64 tier 1 ends at 7.5 B GB-s", arm.Duration[0].UpToGBSeconds, 7.5e9},
		{"arm64 tier 2", arm.Duration[1].PricePerGBSecond, 0.0000120001},
		{"arm64 tier 2 ends at 18.75 B GB-s", arm.Duration[1].UpToGBSeconds, 18.75e9},
		{"arm64 tier 3", arm.Duration[2].PricePerGBSecond, 0.0000106667},
		{"x86 provisioned concurrency (BMKCD2ZCEYKTYYCB)", x86.ProvisionedConcurrencyPerGBSecond, 0.0000041667},
		{"x86 provisioned duration (ZZF88MXYPS4DGSEZ)", x86.ProvisionedDurationPerGBSecond, 0.0000097222},
		{"arm64 provisioned concurrency (MV7PTBS82AVCMXJJ)", arm.ProvisionedConcurrencyPerGBSecond, 0.0000033334},
		{"arm64 provisioned duration (3Z4YRQ6XJRDK27UP)", arm.ProvisionedDurationPerGBSecond, 0.0000077778},
		// One price for both architectures: CVY5JH8RFRXMP92N (x86) and
		// CH6HMM86MH4K8KCS (arm64).
		{"ephemeral storage per GB-s", table.EphemeralStoragePerGBSecond, 0.0000000309},
		{"response streaming per GB (RJKWHBCSDT32Z53D)", table.ResponseStreamingPerGB, 0.008},
		{"SnapStart cache per GB-s (WRKYMVM4XSRFFQ7B)", table.SnapStart.CachePerGBSecond, 0.0000015046},
		{"SnapStart restore per GB (W3GTWG4PTZMXZ4F2)", table.SnapStart.RestorePerGB, 0.0001397998},
		{"free requests a month", float64(table.FreeTier.Requests), 1_000_000},
		{"free GB-s a month", table.FreeTier.GBSeconds, 400_000},
	} {
		if c.got != c.want {
			t.Errorf("%s = %.10f, want %.10f", c.name, c.got, c.want)
		}
	}
	if n := len(x86.Duration) + len(arm.Duration); n != 6 || x86.Duration[2].UpToGBSeconds != 0 || arm.Duration[2].UpToGBSeconds != 0 {
		t.Errorf("tiers = %+v and %+v, want three each, the last unbounded", x86.Duration, arm.Duration)
	}
}

// The Managed Instances instance prices beside m7g.xlarge (which the
// pricing page's example confirms) match the EC2 on-demand table of AWS's
// own Managed Instances pricing calculator, a sample AWS publishes
// (github.com/aws-samples/sample-aws-lambda-managed-instances,
// tools/pricing-calculator/web/src/utils/calculator.js, INSTANCE_TYPES,
// us-east-1; read 2026-12-06). Its table is typed by hand (its own script
// says EC2's prices should come from EC2's Price List API) and rounds the
// r7g prices to three decimals, so they are held to a tenth of a cent; the
// sizes it leaves out stay unconfirmed.
func TestManagedInstancePricesMatchAWSCalculator(t *testing.T) {
	hourly := query.DefaultPriceTable().ManagedInstances.InstanceHourly
	for _, c := range []struct {
		instance string
		want     float64
		within   float64
	}{
		{"c7g.xlarge", 0.1450, 0},
		{"c7g.2xlarge", 0.2900, 0},
		{"c7g.4xlarge", 0.5800, 0},
		{"m7g.xlarge", 0.1632, 0},
		{"m7g.2xlarge", 0.3264, 0},
		{"m7g.4xlarge", 0.6528, 0},
		{"r7g.xlarge", 0.2140, 0.0005},
		{"r7g.2xlarge", 0.4280, 0.0005},
		// Not in the table at the commit read first; in the same file of a
		// copy of the sample (github.com/jaycol-aws/sample-aws-lambda-
		// managed-instances, commit cd9c8bc, read 2026-12-07).
		{"r7g.4xlarge", 0.8570, 0.0005},
	} {
		got, ok := hourly[c.instance]
		if !ok {
			t.Errorf("%s has no default price; AWS's calculator gives $%.4f an hour", c.instance, c.want)
			continue
		}
		if math.Abs(got-c.want) > c.within {
			t.Errorf("%s = $%.4f an hour, AWS's calculator gives $%.4f", c.instance, got, c.want)
		}
	}
}

// The x86 instance prices match the us-east-1 on-demand table of the
// scheduler tool in a copy of AWS's Managed Instances sample
// (github.com/jaycol-aws/sample-aws-lambda-managed-instances,
// tools/scheduler/src/scheduler/reporting/pricing.py, EC2_ON_DEMAND, commit
// 73f9358, Amazon's copyright; read 2026-12-07). The tool asks AWS's Price
// List API first and falls back on this table, which is typed by hand: it
// gives c7i.large as $0.0892, so that one is held to a hundredth of a cent.
func TestManagedInstanceX86PricesMatchAWSSchedulerTable(t *testing.T) {
	hourly := query.DefaultPriceTable().ManagedInstances.InstanceHourly
	for _, c := range []struct {
		instance     string
		want, within float64
	}{
		{"m7i.large", 0.1008, 0},
		{"m7i.xlarge", 0.2016, 0},
		{"m7i.2xlarge", 0.4032, 0},
		{"m7i.4xlarge", 0.8064, 0},
		{"c7i.large", 0.0892, 0.0001},
		{"c7i.xlarge", 0.1785, 0},
		{"c7i.2xlarge", 0.357, 0},
		{"r7i.large", 0.1323, 0},
		{"r7i.xlarge", 0.2646, 0},
	} {
		got, ok := hourly[c.instance]
		if !ok {
			t.Errorf("%s has no default price; AWS's scheduler table gives $%.4f an hour", c.instance, c.want)
			continue
		}
		if math.Abs(got-c.want) > c.within+1e-12 {
			t.Errorf("%s = $%.5f an hour, AWS's scheduler table gives $%.4f", c.instance, got, c.want)
		}
	}
}

// The medium and large Graviton sizes match dated transcriptions of AWS's
// Price List (EC2 on-demand, Linux, shared tenancy, us-east-1; read
// 2026-12-07), no AWS page's text giving them:
//
//   - github.com/getnable/finopsmcp, src/finops/aws_prices.py, EC2_HOURLY
//     at commit 0bc99d5: "checked entry by entry against the public AWS
//     Price List (AmazonEC2 ... us-east-1 offer files, version
//     20260924211011)"; all six.
//   - github.com/peaceplus-trace/trace-sizing-calculate,
//     src/trace_sizing/cost/prices.py, PRICE_BOOK["us-east-1"] at commit
//     e9f065e: "checked against AWS's public price list
//     (pricing.us-east-1.amazonaws.com/offers/v1.0/aws/...) on
//     2026-10-08"; all six.
//   - github.com/1jehuang/jcode-desktop, scripts/cloud_economics.py,
//     INSTANCES at commit a15156e: pinned from the Price List API
//     (get-products, AmazonEC2, US East (N. Virginia), Linux, Shared) on
//     2026-09-18; m7g's and c7g's.
//
// They also hold the xlarge prices AWS's own pages give, and EC2 prices a
// family's sizes by the vCPU: a large is half its xlarge, a medium a
// quarter (c7g.medium and r7g.medium rounded to four decimals).
func TestManagedInstanceGravitonSmallSizesMatchPriceList(t *testing.T) {
	hourly := query.DefaultPriceTable().ManagedInstances.InstanceHourly
	for _, c := range []struct {
		instance string
		want     float64
		xlarge   string
		share    float64
	}{
		{"m7g.medium", 0.0408, "m7g.xlarge", 0.25},
		{"m7g.large", 0.0816, "m7g.xlarge", 0.5},
		{"c7g.medium", 0.0363, "c7g.xlarge", 0.25},
		{"c7g.large", 0.0725, "c7g.xlarge", 0.5},
		{"r7g.medium", 0.0536, "r7g.xlarge", 0.25},
		{"r7g.large", 0.1071, "r7g.xlarge", 0.5},
	} {
		got, ok := hourly[c.instance]
		if !ok {
			t.Errorf("%s has no default price; the Price List gives $%.4f an hour", c.instance, c.want)
			continue
		}
		if got != c.want {
			t.Errorf("%s = $%.4f an hour, the Price List gives $%.4f", c.instance, got, c.want)
		}
		if by := hourly[c.xlarge] * c.share; math.Abs(got-by) > 0.00005+1e-12 {
			t.Errorf("%s = $%.4f an hour, not %v of %s's $%.4f", c.instance, got, c.share, c.xlarge, hourly[c.xlarge])
		}
	}
}

// Every default instance price is held to a source above, so none is
// flagged; a type the table does not list is unpriced, not unconfirmed,
// and a price file's own price is taken as the user's word.
func TestUnconfirmedInstancePricesAreFlagged(t *testing.T) {
	confirmed := map[string]bool{}
	for _, typ := range []string{
		"m7g.xlarge", "m7g.2xlarge", "m7g.4xlarge", "c7g.xlarge", "c7g.2xlarge", "c7g.4xlarge", "r7g.xlarge", "r7g.2xlarge", "r7g.4xlarge",
		"m7i.large", "m7i.xlarge", "m7i.2xlarge", "m7i.4xlarge", "c7i.large", "c7i.xlarge", "c7i.2xlarge", "r7i.large", "r7i.xlarge",
		"m7g.medium", "m7g.large", "c7g.medium", "c7g.large", "r7g.medium", "r7g.large",
	} {
		confirmed[typ] = true
	}
	mi := query.DefaultPriceTable().ManagedInstances
	for typ := range mi.InstanceHourly {
		if confirmed[typ] == mi.PriceUnconfirmed(typ) {
			t.Errorf("%s: held to a source %v, flagged unconfirmed %v; want exactly one", typ, confirmed[typ], mi.PriceUnconfirmed(typ))
		}
	}
	if mi.PriceUnconfirmed("m8g.large") {
		t.Error("a type the table does not list is unpriced, not unconfirmed")
	}

	fleet := func(prices *query.Prices, typ string) query.ManagedInstanceLine {
		prices.CapacityProviders = []query.CapacityProvider{{Name: "api", InstanceType: typ, Instances: 1, Functions: []string{"api"}}}
		rep := query.PriceUsage(prices, nil, march, march.AddDate(0, 0, 1))
		return rep.ManagedInstances[0]
	}
	prices := query.DefaultPrices()
	// One c7g.large for a day: 24 × $0.0725 × 1.15 = $2.001.
	if l := fleet(&prices, "c7g.large"); l.PriceUnconfirmed || l.Unpriced || !near(l.HourlyPrice, 0.0725*1.15) {
		t.Errorf("c7g.large at the default price: %+v, want it priced at $0.0725 plus 15 %% and not flagged", l)
	}
	prices.Tables[0].ManagedInstances.InstanceHourly["c7g.large"] = 0.07
	if l := fleet(&prices, "c7g.large"); l.PriceUnconfirmed || !near(l.HourlyPrice, 0.07*1.15) {
		t.Errorf("c7g.large at the price file's $0.07: %+v, want it priced so and not flagged", l)
	}
}
