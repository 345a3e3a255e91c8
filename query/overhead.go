package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// bytesPerGB is the gigabyte AWS bills data by (2^30 bytes).
const bytesPerGB = 1 << 30

// LogTier is one band of a tiered price per GB: the GB up to UpToGB
// (cumulative over the month; 0 means no limit) cost PricePerGB each.
// CloudWatch Logs' ingestion and data transfer out are priced in such
// tiers.
type LogTier struct {
	UpToGB     float64 `json:"upToGB"`
	PricePerGB float64 `json:"pricePerGB"`
}

// ObservabilityPrices are the prices the observability cost is reckoned
// with, besides Lambda's own.
type ObservabilityPrices struct {
	// EffectiveDate is when the prices below were published (YYYY-MM-DD).
	EffectiveDate string `json:"effectiveDate"`
	// TransferOut prices the bytes the extension ships, tiered per month:
	// AWS bills data a function sends out at EC2's data transfer rates.
	TransferOut []LogTier `json:"transferOut"`
	// LogClass is the CloudWatch Logs class the log lines are priced in:
	// LogClassStandard (the default, "" reads as it) or
	// LogClassInfrequentAccess.
	LogClass string `json:"logClass"`
	// CloudWatchLogs and CloudWatchLogsInfrequentAccess are CloudWatch
	// Logs' ingestion prices for Lambda logs in the Standard and the
	// Infrequent Access class, tiered per account and month.
	CloudWatchLogs                 []LogTier `json:"cloudWatchLogs"`
	CloudWatchLogsInfrequentAccess []LogTier `json:"cloudWatchLogsInfrequentAccess"`
	// Unconfirmed says, for people, which of these prices no AWS page
	// confirms; a report shows it beside the figures priced with them
	// (ObservabilityCost fills it with the notes of the prices it used).
	Unconfirmed []string `json:"unconfirmed,omitempty"`
}

// DefaultObservabilityPrices are AWS's us-east-1 list prices:
//
//   - Data transfer out to the internet, tiered per month over the
//     account's transfer out: $0.09 per GB for the first 10,240 GB, $0.085
//     for the next 40 TB, $0.07 for the next 100 TB, $0.05 past 150 TB (a
//     TB being 1,024 GB, as AWS's Price List counts the DataTransfer-Out-
//     Bytes tiers of the AWSDataTransfer offer file). The first tier is
//     the Price List's, as a dated third-party transcription of the file
//     fetched 2026-07-28 quotes it (TestDataTransferMatchesPriceList); the
//     later ones are from third-party tables only (TestDataTransferTiers
//     MatchPublishedTables), so a report whose bytes reach them says so.
//     Lambda's pricing page bills data transfer at EC2 rates. The first
//     100 GB a month across services are free and are not taken off, the
//     tiers are filled by the bytes the report holds alone (the account's
//     other traffic out would fill them sooner), and the extension's bytes
//     are counted before zstd compression: an upper bound. A collector in
//     the same region over a VPC endpoint costs less.
//   - CloudWatch Logs ingestion of Lambda logs, tiered since 2025-05-01
//     ("AWS Lambda introduces tiered pricing for Amazon CloudWatch logs
//     and additional logging destinations", AWS Compute Blog). Standard
//     class: $0.50 per GB for the first 10 TB a month, $0.25 for the next
//     20 TB, $0.10 for the next 20 TB, $0.05 beyond 50 TB; Infrequent
//     Access: $0.25, $0.15, $0.075, $0.05 at the same bounds (a TB being
//     1,024 GB, as AWS's Price List counts its data tiers). Both held to
//     The Duckbill Group's per-region CloudWatch price table, the Standard
//     class also to its worked 60 TB example (TestCloudWatchLogsTiers,
//     TestCloudWatchLogsTiersMatchPublishedTables,
//     TestCloudWatchLogsInfrequentAccessTiers); no AWS page's text with the
//     prices could be read here, so the report says they are unconfirmed.
//     Standard is the class Lambda's log groups get unless created
//     otherwise.
func DefaultObservabilityPrices() ObservabilityPrices {
	o := ObservabilityPrices{
		EffectiveDate:                  "2025-05-01",
		TransferOut:                    defaultTransferOut(),
		LogClass:                       LogClassStandard,
		CloudWatchLogs:                 defaultCloudWatchStandard(),
		CloudWatchLogsInfrequentAccess: defaultCloudWatchInfrequentAccess(),
	}
	o.Unconfirmed = o.unconfirmed(false)
	return o
}

func defaultTransferOut() []LogTier {
	return []LogTier{
		{UpToGB: 10 * 1024, PricePerGB: 0.09},
		{UpToGB: 50 * 1024, PricePerGB: 0.085},
		{UpToGB: 150 * 1024, PricePerGB: 0.07},
		{PricePerGB: 0.05},
	}
}

func defaultCloudWatchStandard() []LogTier {
	return []LogTier{
		{UpToGB: 10 * 1024, PricePerGB: 0.50},
		{UpToGB: 30 * 1024, PricePerGB: 0.25},
		{UpToGB: 50 * 1024, PricePerGB: 0.10},
		{PricePerGB: 0.05},
	}
}

func defaultCloudWatchInfrequentAccess() []LogTier {
	return []LogTier{
		{UpToGB: 10 * 1024, PricePerGB: 0.25},
		{UpToGB: 30 * 1024, PricePerGB: 0.15},
		{UpToGB: 50 * 1024, PricePerGB: 0.075},
		{PricePerGB: 0.05},
	}
}

// logTiers are the CloudWatch Logs tiers of the chosen class.
func (o *ObservabilityPrices) logTiers() []LogTier {
	if o.LogClass == LogClassInfrequentAccess {
		return o.CloudWatchLogsInfrequentAccess
	}
	return o.CloudWatchLogs
}

// unconfirmed are the notes for the prices the report uses that no AWS
// page confirms: the chosen class's CloudWatch Logs tiers while they are
// the defaults, and data transfer's tiers past the first while they are
// the defaults and pastFirstTransferTier says bytes reached them. A price
// file's own figures are taken as the user's word.
func (o *ObservabilityPrices) unconfirmed(pastFirstTransferTier bool) []string {
	var notes []string
	switch {
	case o.LogClass == LogClassInfrequentAccess && slices.Equal(o.CloudWatchLogsInfrequentAccess, defaultCloudWatchInfrequentAccess()):
		notes = append(notes, "CloudWatch Logs prices, Infrequent Access ($0.25/$0.15/$0.075/$0.05 per GB past 10/30/50 TB a month), are from third-party tables, not an AWS page")
	case o.LogClass != LogClassInfrequentAccess && slices.Equal(o.CloudWatchLogs, defaultCloudWatchStandard()):
		notes = append(notes, "CloudWatch Logs prices ($0.50/$0.25/$0.10/$0.05 per GB past 10/30/50 TB a month) are from third-party tables, not an AWS page")
	}
	if pastFirstTransferTier && slices.Equal(o.TransferOut, defaultTransferOut()) {
		notes = append(notes, "data transfer out past 10 TB a month ($0.085/$0.07/$0.05 per GB past 10/50/150 TB) is priced from third-party tables, not an AWS page")
	}
	return notes
}

// Validate reports what makes the prices unusable, naming the field.
func (o *ObservabilityPrices) Validate() error {
	var errs []error
	if _, err := ParseLogClass(o.LogClass); err != nil {
		errs = append(errs, fmt.Errorf("logClass: %w", err))
	}
	errs = append(errs, validateLogTiers("transferOut", o.TransferOut)...)
	errs = append(errs, validateLogTiers("cloudWatchLogs", o.CloudWatchLogs)...)
	errs = append(errs, validateLogTiers("cloudWatchLogsInfrequentAccess", o.CloudWatchLogsInfrequentAccess)...)
	return errors.Join(errs...)
}

// validateLogTiers checks that tiers have at least one band, prices that
// are not negative, bounds that grow, and an unbounded last band.
func validateLogTiers(key string, tiers []LogTier) []error {
	if len(tiers) == 0 {
		return []error{fmt.Errorf("%s must have at least one tier", key)}
	}
	var errs []error
	prev := 0.0
	for i, t := range tiers {
		last := i == len(tiers)-1
		switch {
		case t.PricePerGB < 0:
			errs = append(errs, fmt.Errorf("%s[%d]: the price per GB must not be negative", key, i))
		case !last && t.UpToGB <= prev:
			errs = append(errs, fmt.Errorf("%s[%d]: the upper bound must grow", key, i))
		case last && t.UpToGB != 0:
			errs = append(errs, fmt.Errorf("%s[%d]: the last tier must be unbounded (upper bound 0)", key, i))
		}
		prev = t.UpToGB
	}
	return errs
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
	// TransferCost prices BytesShipped at data transfer out's tiers, filled
	// by the month's bytes of every function in the report, each line's
	// share by bytes.
	TransferCost float64 `json:"transferCost"`
	// Total is AddedCost + InitCost + TransferCost.
	Total float64 `json:"total"`
	// LogLines and LogBytes are the stored log lines and their bodies;
	// CloudWatchCost is their ingestion in CloudWatch Logs at the tiered
	// prices of the chosen log class (the tiers filled by the month's
	// lines of every function in the report, each line's share by bytes). Bodies only: the platform's
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
// claim) and obs (data transfer out's tiers), beside what the same log
// lines would have cost in CloudWatch Logs in obs.LogClass
// (Prices.ObservabilityPrices gives obs with a price file's section).
func (s *Service) ObservabilityCost(ctx context.Context, prices *Prices, obs ObservabilityPrices, q CostQuery) (*ObservabilityReport, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := obs.Validate(); err != nil {
		return nil, fmt.Errorf("%w: observability prices: %w", ErrInvalidFilter, err)
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
	}
	// Data transfer's tiers run per month over all the month's bytes.
	monthShipped := map[string]uint64{}
	for _, l := range lines {
		monthShipped[l.Day.Format("2006-01")] += l.BytesShipped
	}
	pastFirstTier := false
	for _, l := range lines {
		month := monthShipped[l.Day.Format("2006-01")]
		if month == 0 {
			continue
		}
		gb := float64(month) / bytesPerGB
		if len(obs.TransferOut) > 1 && gb > obs.TransferOut[0].UpToGB {
			pastFirstTier = true
		}
		l.TransferCost = tieredCost(obs.TransferOut, 0, gb) * float64(l.BytesShipped) / float64(month)
	}
	// CloudWatch's tiers run per month over all the month's logs.
	monthBytes := map[string]uint64{}
	for _, r := range logs {
		monthBytes[r.Day.UTC().Format("2006-01")] += r.BodyBytes
	}
	logTiers := obs.logTiers()
	for _, r := range logs {
		l := line(r.Day, r.FunctionName)
		l.LogLines += r.Lines
		l.LogBytes += r.BodyBytes
		month := monthBytes[r.Day.UTC().Format("2006-01")]
		if month > 0 {
			monthCost := tieredCost(logTiers, 0, float64(month)/bytesPerGB)
			l.CloudWatchCost += monthCost * float64(r.BodyBytes) / float64(month)
		}
	}
	if rep.Prices.LogClass == "" {
		rep.Prices.LogClass = LogClassStandard
	}
	rep.Prices.Unconfirmed = rep.Prices.unconfirmed(pastFirstTier)
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
