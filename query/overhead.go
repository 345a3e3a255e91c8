package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// bytesPerGB is the gigabyte AWS bills data by (2^30 bytes).
const bytesPerGB = 1 << 30

// LogTier is one band of a tiered price per GB: the GB up to UpToGB
// (cumulative over the month; 0 means no limit) cost PricePerGB each.
type LogTier struct {
	UpToGB     float64 `json:"upToGB"`
	PricePerGB float64 `json:"pricePerGB"`
}

// ObservabilityPrices are the prices the observability cost is reckoned
// with, besides Lambda's own.
type ObservabilityPrices struct {
	// EffectiveDate is when the prices below were published (YYYY-MM-DD).
	EffectiveDate string `json:"effectiveDate"`
	// TransferPerGB prices the bytes the extension ships: AWS bills data
	// a function sends out at EC2's data transfer rates.
	TransferPerGB float64 `json:"transferPerGB"`
	// CloudWatchLogs are CloudWatch Logs' ingestion prices for Lambda
	// logs (Standard class), tiered per account and month.
	CloudWatchLogs []LogTier `json:"cloudWatchLogs"`
	// Unconfirmed says, for people, which of these prices no AWS page
	// confirms; a report shows it beside the figures priced with them.
	Unconfirmed []string `json:"unconfirmed,omitempty"`
}

// DefaultObservabilityPrices are AWS's us-east-1 list prices:
//
//   - Data transfer out to the internet: $0.09 per GB, the first tier
//     (0 to 10,240 GB a month) of the DataTransfer-Out-Bytes usage type in
//     AWS's Price List (AWSDataTransfer offer file for us-east-1, as a
//     dated third-party transcription of the file fetched 2026-07-28
//     quotes it; read 2026-12-06; TestDataTransferMatchesPriceList).
//     Lambda's pricing page bills data transfer at EC2 rates. Past 10 TB a
//     month the feed's later tiers are cheaper ($0.085, $0.07, $0.05), and
//     the first 100 GB a month across services are free; neither is taken
//     off, and the extension's bytes are counted before zstd compression,
//     so this is an upper bound. A collector in the same region over a VPC
//     endpoint costs less.
//   - CloudWatch Logs ingestion of Lambda logs, Standard class, tiered
//     since 2025-05-01 ("AWS Lambda introduces tiered pricing for Amazon
//     CloudWatch logs and additional logging destinations", AWS Compute
//     Blog): $0.50 per GB for the first 10 TB a month, $0.25 for the next
//     20 TB, $0.10 for the next 20 TB, $0.05 beyond 50 TB (a TB being
//     1,024 GB, as AWS's Price List counts its data tiers). Held to The
//     Duckbill Group's per-region CloudWatch price table and its worked
//     60 TB example (TestCloudWatchLogsTiers, TestCloudWatchLogsTiersMatch
//     PublishedTables); no AWS page's text with the prices could be read
//     here, so the report says they are unconfirmed. The Infrequent Access
//     class (half the first tier's price) is not modelled: the comparison
//     is with the class Lambda logs go to by default.
func DefaultObservabilityPrices() ObservabilityPrices {
	return ObservabilityPrices{
		EffectiveDate: "2025-05-01",
		TransferPerGB: 0.09,
		CloudWatchLogs: []LogTier{
			{UpToGB: 10 * 1024, PricePerGB: 0.50},
			{UpToGB: 30 * 1024, PricePerGB: 0.25},
			{UpToGB: 50 * 1024, PricePerGB: 0.10},
			{PricePerGB: 0.05},
		},
		Unconfirmed: []string{
			"CloudWatch Logs prices ($0.50/$0.25/$0.10/$0.05 per GB past 10/30/50 TB a month) are from third-party tables, not an AWS page",
		},
	}
}

// tieredCost is what gb more GB cost after before GB in the same month.
func tieredCost(tiers []LogTier, before, gb float64) float64 {
	cost, lo := 0.0, 0.0
	for _, t := range tiers {
		hi := t.UpToGB
		if hi == 0 {
			hi = before + gb + 1
		}
		from, to := max(before, lo), min(before+gb, hi)
		if to > from {
			cost += (to - from) * t.PricePerGB
		}
		lo = hi
	}
	return cost
}

// ObservabilityLine is what observability cost one function on one UTC
// day: what the extension added to the Lambda bill, and beside it what
// the same log lines would have cost in CloudWatch Logs.
type ObservabilityLine struct {
	Day          time.Time `json:"day"`
	FunctionName string    `json:"functionName"`
	Invocations  uint64    `json:"invocations"`
	// Measured counts the invocations whose added time is known (their
	// record holds platform.runtimeDone's duration and the report's).
	Measured uint64 `json:"measured"`
	// AddedBilledMs is the billed time after the runtime was done: the
	// invocation's duration rounded up (as Lambda bills it, INIT left out)
	// less the runtime's rounded up. It is the extensions' (all of them,
	// not only Lambdascope's).
	AddedBilledMs float64 `json:"addedBilledMs"`
	// MeasuredCold and AddedColdBilledMs are the cold starts among
	// Measured and their part of AddedBilledMs: what the extension pays
	// once per environment (its first connection and flush) is told from
	// what it adds to every invocation.
	MeasuredCold      uint64  `json:"measuredCold"`
	AddedColdBilledMs float64 `json:"addedColdBilledMs"`
	AddedGBSeconds    float64 `json:"addedGBSeconds"`
	AddedCost         float64 `json:"addedCost"`
	ColdStarts        uint64  `json:"coldStarts"`
	ExtensionInitMs   float64 `json:"extensionInitMs"`
	// InitCost prices the extension's start within billed INIT time: an
	// upper bound, as the runtime initialises at the same time.
	InitCost     float64 `json:"initCost"`
	BytesShipped uint64  `json:"bytesShipped"`
	TransferCost float64 `json:"transferCost"`
	// Total is AddedCost + InitCost + TransferCost.
	Total float64 `json:"total"`
	// LogLines and LogBytes are the stored log lines and their bodies;
	// CloudWatchCost is their ingestion in CloudWatch Logs at its tiered
	// prices (the tiers filled by the month's lines of every function in
	// the report, each line's share by bytes). Bodies only: the platform's
	// START/END/REPORT lines Lambda would also write are not counted, so
	// it is a lower bound.
	LogLines       uint64  `json:"logLines"`
	LogBytes       uint64  `json:"logBytes"`
	CloudWatchCost float64 `json:"cloudWatchCost"`
}

// ObservabilityReport is what observability cost over a range.
type ObservabilityReport struct {
	Since    time.Time           `json:"since"`
	Until    time.Time           `json:"until"`
	Currency string              `json:"currency"`
	Prices   ObservabilityPrices `json:"prices"`
	Lines    []ObservabilityLine `json:"lines"`
	Total    ObservabilityLine   `json:"total"`
}

// ObservabilityCost reports per function and UTC day what the extension
// added to the bill — billed time after the runtime was done, its start
// within billed INIT, the bytes it shipped — priced at the first tier of
// Lambda's prices (the extension's share of the tiers is not its own to
// claim) and obs, beside what the same log lines would have cost in
// CloudWatch Logs.
func (s *Service) ObservabilityCost(ctx context.Context, prices *Prices, obs ObservabilityPrices, q CostQuery) (*ObservabilityReport, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	f := storage.UsageFilter{Since: q.Since, Until: q.Until, FunctionName: q.FunctionName}
	recs, err := s.store.Overhead(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read extension overhead: %w", err)
	}
	logs, err := s.store.LogDays(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read log volume: %w", err)
	}
	return priceObservability(prices, obs, recs, logs, q.Since, q.Until), nil
}

type dayFunction struct {
	day time.Time
	fn  string
}

func priceObservability(prices *Prices, obs ObservabilityPrices, recs []storage.OverheadRecord, logs []storage.LogDayRecord, since, until time.Time) *ObservabilityReport {
	rep := &ObservabilityReport{Since: since, Until: until, Prices: obs}
	lines := map[dayFunction]*ObservabilityLine{}
	line := func(day time.Time, fn string) *ObservabilityLine {
		k := dayFunction{day.UTC(), fn}
		l := lines[k]
		if l == nil {
			l = &ObservabilityLine{Day: k.day, FunctionName: fn}
			lines[k] = l
		}
		return l
	}
	for _, r := range recs {
		t, _ := prices.For(r.Region)
		if rep.Currency == "" {
			rep.Currency = t.Currency
		}
		perGBs := archPrices(t, r.Architecture).firstTierPrice()
		l := line(r.Day, r.FunctionName)
		l.Invocations += r.Invocations
		l.Measured += r.Measured
		l.AddedBilledMs += r.AddedBilledMs
		l.MeasuredCold += r.MeasuredCold
		l.AddedColdBilledMs += r.AddedColdBilledMs
		l.AddedGBSeconds += r.AddedGBSeconds
		l.AddedCost += r.AddedGBSeconds * perGBs
		l.ColdStarts += r.ColdStarts
		l.ExtensionInitMs += r.InitMs
		l.InitCost += r.InitBilledGBSeconds * perGBs
		l.BytesShipped += r.BytesShipped
		l.TransferCost += float64(r.BytesShipped) / bytesPerGB * obs.TransferPerGB
	}
	// CloudWatch's tiers run per month over all the month's logs.
	monthBytes := map[string]uint64{}
	for _, r := range logs {
		monthBytes[r.Day.UTC().Format("2006-01")] += r.BodyBytes
	}
	for _, r := range logs {
		l := line(r.Day, r.FunctionName)
		l.LogLines += r.Lines
		l.LogBytes += r.BodyBytes
		month := monthBytes[r.Day.UTC().Format("2006-01")]
		if month > 0 {
			monthCost := tieredCost(obs.CloudWatchLogs, 0, float64(month)/bytesPerGB)
			l.CloudWatchCost += monthCost * float64(r.BodyBytes) / float64(month)
		}
	}
	if rep.Currency == "" {
		t, _ := prices.For(DefaultRegion)
		rep.Currency = t.Currency
	}
	for _, l := range lines {
		l.Total = l.AddedCost + l.InitCost + l.TransferCost
		rep.Lines = append(rep.Lines, *l)
		t := &rep.Total
		t.Invocations += l.Invocations
		t.Measured += l.Measured
		t.AddedBilledMs += l.AddedBilledMs
		t.MeasuredCold += l.MeasuredCold
		t.AddedColdBilledMs += l.AddedColdBilledMs
		t.AddedGBSeconds += l.AddedGBSeconds
		t.AddedCost += l.AddedCost
		t.ColdStarts += l.ColdStarts
		t.ExtensionInitMs += l.ExtensionInitMs
		t.InitCost += l.InitCost
		t.BytesShipped += l.BytesShipped
		t.TransferCost += l.TransferCost
		t.Total += l.Total
		t.LogLines += l.LogLines
		t.LogBytes += l.LogBytes
		t.CloudWatchCost += l.CloudWatchCost
	}
	slices.SortFunc(rep.Lines, func(a, b ObservabilityLine) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		if a.FunctionName < b.FunctionName {
			return -1
		}
		if a.FunctionName > b.FunctionName {
			return 1
		}
		return 0
	})
	return rep
}

// TieredCost is what gb GB cost in one month at tiers.
func TieredCost(tiers []LogTier, gb float64) float64 { return tieredCost(tiers, 0, gb) }
