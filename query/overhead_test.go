package query_test

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
)

// nearRel compares with a relative tolerance, for amounts far below 1.
func nearRel(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }

// CloudWatch Logs' tiers for Lambda logs, checked against a published
// example: 60 TB in a month cost $12,500 (10 TB at $0.50, 20 TB at $0.25,
// 20 TB at $0.10, 10 TB at $0.05; "Lambda's new CloudWatch Logs pricing",
// The Duckbill Group, May 2025, on AWS's tiers of 2025-05-01).
func TestCloudWatchLogsTiers(t *testing.T) {
	obs := query.DefaultObservabilityPrices()
	tests := []struct {
		gb, want float64
	}{
		{1, 0.50},
		{10 * 1024, 5120},
		{60 * 1024, 12500 * 1.024},
	}
	for _, tt := range tests {
		if got := query.TieredCost(obs.CloudWatchLogs, tt.gb); !nearRel(got, tt.want) {
			t.Errorf("%v GB: $%v, want $%v", tt.gb, got, tt.want)
		}
	}
}

// The Standard-class tiers match The Duckbill Group's per-region
// CloudWatch price table (github.com/DuckbillGroup/CloudWatchCashBack,
// cloudwatch_pricing.json, us-east-1, vended logs to CloudWatch Logs
// Standard: first 10 TB $0.50, next 20 TB $0.25, next 20 TB $0.10, over
// 50 TB $0.05; read 2026-12-07), and the same prices a description of AWS's
// pricing calculator gives from the Price List API's VendedLog-Bytes usage
// type (us-east-2, whose CloudWatch prices are us-east-1's in that table).
// Both are third-party; AWS's own page could not be read here, so the
// prices carry a note the report shows.
func TestCloudWatchLogsTiersMatchPublishedTables(t *testing.T) {
	obs := query.DefaultObservabilityPrices()
	want := []query.LogTier{{UpToGB: 10 * 1024, PricePerGB: 0.50}, {UpToGB: 30 * 1024, PricePerGB: 0.25},
		{UpToGB: 50 * 1024, PricePerGB: 0.10}, {PricePerGB: 0.05}}
	if len(obs.CloudWatchLogs) != len(want) {
		t.Fatalf("tiers = %+v, want %+v", obs.CloudWatchLogs, want)
	}
	for i := range want {
		if obs.CloudWatchLogs[i] != want[i] {
			t.Errorf("tier %d = %+v, want %+v", i, obs.CloudWatchLogs[i], want[i])
		}
	}
	if len(obs.Unconfirmed) != 1 || !strings.Contains(obs.Unconfirmed[0], "CloudWatch Logs") {
		t.Errorf("unconfirmed = %q, want the CloudWatch Logs prices named", obs.Unconfirmed)
	}
}

// Data transfer out to the internet from us-east-1 costs $0.09 per GB for
// the first 10,240 GB a month: the DataTransfer-Out-Bytes tier of AWS's
// Price List (AWSDataTransfer offer file for us-east-1, Last-Modified
// 2026-07-20), as a third-party cost study quotes the file it fetched on
// 2026-07-28 (read 2026-12-07).
func TestDataTransferMatchesPriceList(t *testing.T) {
	if got := query.DefaultObservabilityPrices().TransferOut[0]; got != (query.LogTier{UpToGB: 10240, PricePerGB: 0.09}) {
		t.Errorf("first transfer tier = %+v, want AWS's Price List's $0.09 for the first 10,240 GB", got)
	}
}

// The tiers past 10 TB match the third-party tables of AWS's us-east-1
// internet egress (read 2026-12-07): "AWS Egress Negotiation"
// (atonementlicensing.com/blog/aws-egress-negotiation, "Monthly egress (US
// East)": up to 10 TB $0.09, next 40 TB $0.085, next 100 TB $0.07, over
// 150 TB $0.05), "Cloud Egress Fees Explained" (ZeonEdge, 2026-04-02, "AWS
// Data Transfer OUT to Internet (us-east-1)", the same four prices), and
// LeanOps' "AWS Data Transfer Pricing in 2026" (2026-04-27, $0.09, $0.085
// at 10-50 TB, $0.07 to 150 TB). No AWS page's text with them was found,
// so a report whose bytes reach them says so. Their worked figures,
// checked by hand: 40 TB at $0.085 "$3,400", 100 TB at $0.07 "$7,000";
// they count a TB as 1,000 GB, AWS's Price List bounds its tiers at
// 10,240, 51,200 and 153,600 GB.
func TestDataTransferTiersMatchPublishedTables(t *testing.T) {
	want := []query.LogTier{{UpToGB: 10240, PricePerGB: 0.09}, {UpToGB: 51200, PricePerGB: 0.085},
		{UpToGB: 153600, PricePerGB: 0.07}, {PricePerGB: 0.05}}
	tiers := query.DefaultObservabilityPrices().TransferOut
	if len(tiers) != len(want) {
		t.Fatalf("tiers = %+v, want %+v", tiers, want)
	}
	for i := range want {
		if tiers[i] != want[i] {
			t.Errorf("tier %d = %+v, want %+v", i, tiers[i], want[i])
		}
	}
	for _, c := range []struct {
		gb, want float64
	}{
		// The whole of the first tier: 10,240 × $0.09.
		{10240, 921.60},
		// The next 40 TB alone: the tables' $3,400 for 40,000 GB, here
		// 40,960 GB.
		{51200, 921.60 + 40960*0.085},
		// 200 TB: the first three tiers whole, 50 TB at $0.05:
		// 921.60 + 3,481.60 + 7,168 + 2,560.
		{204800, 921.60 + 3481.60 + 7168 + 2560},
	} {
		if got := query.TieredCost(tiers, c.gb); !nearRel(got, c.want) {
			t.Errorf("%v GB: $%v, want $%v", c.gb, got, c.want)
		}
	}
	if got := query.TieredCost(tiers, 153600) - query.TieredCost(tiers, 51200); !nearRel(got, 102400*0.07) {
		t.Errorf("the next 100 TB: $%v, want 102,400 GB at $0.07 (the tables' $7,000 for 100,000 GB)", got)
	}
}

// The Infrequent Access class's tiers match The Duckbill Group's
// per-region CloudWatch price table (github.com/DuckbillGroup/
// CloudWatchCashBack, cloudwatch_pricing.json at 2ee064b, us-east-1,
// vended logs to_cloudwatch_logs_infrequent: first 10 TB $0.25, next 20 TB
// $0.15, next 20 TB $0.075, over 50 TB $0.05; read 2026-12-07), the same
// table the Standard class is held to. No AWS page and no published
// example of this class's tiers was found, so it is worked by hand: 60 TB
// cost 10,240 × 0.25 + 20,480 × 0.15 + 20,480 × 0.075 + 10,240 × 0.05 =
// $7,680 ($7,500 a 1,000-GB TB), against the Standard class's $12,800.
func TestCloudWatchLogsInfrequentAccessTiers(t *testing.T) {
	obs := query.DefaultObservabilityPrices()
	want := []query.LogTier{{UpToGB: 10 * 1024, PricePerGB: 0.25}, {UpToGB: 30 * 1024, PricePerGB: 0.15},
		{UpToGB: 50 * 1024, PricePerGB: 0.075}, {PricePerGB: 0.05}}
	if len(obs.CloudWatchLogsInfrequentAccess) != len(want) {
		t.Fatalf("tiers = %+v, want %+v", obs.CloudWatchLogsInfrequentAccess, want)
	}
	for i := range want {
		if obs.CloudWatchLogsInfrequentAccess[i] != want[i] {
			t.Errorf("tier %d = %+v, want %+v", i, obs.CloudWatchLogsInfrequentAccess[i], want[i])
		}
	}
	if got := query.TieredCost(obs.CloudWatchLogsInfrequentAccess, 60*1024); !nearRel(got, 7680) {
		t.Errorf("60 TB: $%v, want $7,680", got)
	}
	if got := query.TieredCost(obs.CloudWatchLogs, 60*1024); !nearRel(got, 12800) {
		t.Errorf("60 TB in Standard: $%v, want $12,800", got)
	}
	if obs.LogClass != query.LogClassStandard {
		t.Errorf("default log class %q, want standard (the class Lambda's log groups get)", obs.LogClass)
	}
}

// What the extension added to the bill: the billed time after the
// runtime was done, its start within billed INIT, the bytes it shipped;
// beside it what the stored log lines would cost in CloudWatch Logs.
func TestObservabilityCost(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	at := day.Add(9 * time.Hour)
	ns := func(d time.Duration) uint64 { return uint64(at.Add(d).UnixNano()) }
	inv := func(id string, d time.Duration, duration float64, billed uint64, billedInit, runtime, extInit float64, cold bool, shipped uint64) *ingestv1.Invocation {
		return &ingestv1.Invocation{RequestId: id, StartTimeUnixNano: ns(d), DurationMs: duration, BilledDurationMs: billed,
			BilledInitDurationMs: billedInit, MemorySizeMb: 1024, Status: "success", ColdStart: cold, RuntimeDurationMs: runtime,
			ExtensionInitMs: extInit, Telemetry: &ingestv1.TelemetryCounts{BytesShipped: shipped}}
	}
	incomplete := func(i *ingestv1.Invocation) *ingestv1.Invocation {
		i.Incomplete = true
		i.UnknownFigures = uint32(ingestv1.Figure_FIGURE_BILLED_DURATION)
		return i
	}
	body := &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("x", 512)}}
	req := &ingestv1.ExportRequest{
		BatchId:  []byte("overhead-batch-1"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "obs", Version: "1", Architecture: "arm64", MemoryMb: 1024},
		Invocations: []*ingestv1.Invocation{
			// 99.5 ms (100 billed), the runtime took 95.2 ms (96): 4 ms
			// added. A cold start whose INIT is not billed: its extension
			// start costs nothing.
			inv("r1", 0, 99.5, 100, 0, 95.2, 8, true, 1<<29),
			// 49.5 ms, the runtime 49.1 ms: both 50 billed, nothing added.
			inv("r2", time.Second, 49.5, 50, 0, 49.1, 0, false, 1<<29),
			// No runtimeDone: not measured.
			inv("r3", 2*time.Second, 29.5, 30, 0, 0, 0, false, 0),
			// A cold start billed 320 ms, 250 of them INIT (as the record
			// says): 70 - 61 = 9 ms added, and the extension's 12 ms
			// start within the billed INIT.
			inv("r4", 3*time.Second, 69.5, 320, 250, 60.3, 12, true, 0),
			// A cold start whose billed duration holds its INIT (131 ms
			// for 30.2 ms) though the record does not say how much: 31 -
			// 28 = 3 ms added, and the extension's 5 ms start within the
			// 100 ms of INIT.
			inv("r5", 4*time.Second, 30.2, 131, 0, 28, 5, true, 0),
			// Warm: 20.5 ms (21), the runtime 18.2 ms (19): 2 ms added.
			inv("r6", 5*time.Second, 20.5, 21, 0, 18.2, 0, false, 0),
			// Written at shutdown without its platform.report: the
			// duration is runtimeDone's, so what came after the runtime
			// is unknown, not 0. Not measured.
			incomplete(inv("r7", 6*time.Second, 40.1, 41, 0, 40.1, 0, false, 0)),
		},
		ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
			{TimeUnixNano: ns(10 * time.Millisecond), Body: body},
			{TimeUnixNano: ns(20 * time.Millisecond), Body: body},
		}}}}},
	}
	if _, err := st.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	rep, err := query.NewService(st).ObservabilityCost(t.Context(), &query.Prices{Tables: []query.PriceTable{query.DefaultPriceTable()}},
		query.DefaultObservabilityPrices(), query.CostQuery{TimeRange: query.TimeRange{Since: day, Until: day.Add(24 * time.Hour)}})
	if err != nil {
		t.Fatalf("ObservabilityCost: %v", err)
	}
	if len(rep.Lines) != 1 {
		t.Fatalf("%d lines, want 1: %+v", len(rep.Lines), rep.Lines)
	}
	l := rep.Lines[0]
	const arm = 0.0000133334 // first tier, arm64, us-east-1 (the default table)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"invocations", float64(l.Invocations), 7},
		{"measured", float64(l.Measured), 5},
		{"added billed ms", l.AddedBilledMs, 18},
		{"measured cold starts", float64(l.MeasuredCold), 3},
		{"added billed ms on cold starts", l.AddedColdBilledMs, 16},
		{"added GB-s", l.AddedGBSeconds, 0.018},
		{"added cost", l.AddedCost, 0.018 * arm},
		{"cold starts", float64(l.ColdStarts), 3},
		{"extension init ms", l.ExtensionInitMs, 25},
		{"init cost", l.InitCost, 0.017 * arm},
		{"bytes shipped", float64(l.BytesShipped), 1 << 30},
		{"transfer cost", l.TransferCost, 0.09},
		{"total", l.Total, 0.018*arm + 0.017*arm + 0.09},
		{"log lines", float64(l.LogLines), 2},
		{"log bytes", float64(l.LogBytes), 1024},
		{"CloudWatch cost", l.CloudWatchCost, 1024.0 / (1 << 30) * 0.50},
	}
	for _, c := range checks {
		if !nearRel(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// 1 GiB shipped stays in data transfer's first tier, whose price the
	// Price List gives: only the CloudWatch Logs tiers are named.
	if len(rep.Prices.Unconfirmed) != 1 || !strings.Contains(rep.Prices.Unconfirmed[0], "CloudWatch Logs") {
		t.Errorf("unconfirmed = %q, want the CloudWatch Logs tiers alone", rep.Prices.Unconfirmed)
	}
	if rep.Total.Total != l.Total || rep.Currency != "USD" {
		t.Errorf("total %v %s, want the line's %v USD", rep.Total.Total, rep.Currency, l.Total)
	}
}

// Data transfer out's tiers are filled by the month's bytes of every
// function in the report, each function's share by its bytes; the log
// lines are priced in the class the price file chooses; the report names
// the prices no AWS page confirms that it used.
func TestObservabilityCostTiersAndLogClass(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	at := day.Add(10 * time.Hour)
	const tib = uint64(1) << 40
	body := func(n int) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("y", n)}}
	}
	export := func(batch, fn string, shipped []uint64, bodies ...int) *ingestv1.ExportRequest {
		req := &ingestv1.ExportRequest{
			BatchId:  []byte(batch),
			Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: fn, Version: "1", Architecture: "x86_64", MemoryMb: 512},
		}
		for i, b := range shipped {
			req.Invocations = append(req.Invocations, &ingestv1.Invocation{RequestId: fmt.Sprintf("%s-%d", fn, i),
				StartTimeUnixNano: uint64(at.Add(time.Duration(i) * time.Second).UnixNano()), DurationMs: 10.5, BilledDurationMs: 11,
				MemorySizeMb: 512, Status: "success", RuntimeDurationMs: 10.2, Telemetry: &ingestv1.TelemetryCounts{BytesShipped: b}})
		}
		var recs []*logspb.LogRecord
		for i, n := range bodies {
			recs = append(recs, &logspb.LogRecord{TimeUnixNano: uint64(at.Add(time.Duration(i) * time.Millisecond).UnixNano()), Body: body(n)})
		}
		req.ResourceLogs = []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}}}}
		return req
	}
	for _, req := range []*ingestv1.ExportRequest{
		export("tiers-batch-big", "big", []uint64{4 * tib, 4 * tib}, 512, 512),
		export("tiers-batch-small", "small", []uint64{4 * tib}, 1024),
	} {
		if _, err := st.WriteExport(t.Context(), req); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	svc := query.NewService(st)
	q := query.CostQuery{TimeRange: query.TimeRange{Since: day, Until: day.Add(24 * time.Hour)}}
	report := func(file string) *query.ObservabilityReport {
		t.Helper()
		prices, err := query.ParsePricesJSON([]byte(file))
		if err != nil {
			t.Fatalf("ParsePricesJSON(%s): %v", file, err)
		}
		rep, err := svc.ObservabilityCost(t.Context(), &prices, prices.ObservabilityPrices(), q)
		if err != nil {
			t.Fatalf("ObservabilityCost: %v", err)
		}
		if len(rep.Lines) != 2 || rep.Lines[0].FunctionName != "big" || rep.Lines[1].FunctionName != "small" {
			t.Fatalf("lines = %+v, want big and small", rep.Lines)
		}
		return rep
	}
	notes := func(rep *query.ObservabilityReport) string { return strings.Join(rep.Prices.Unconfirmed, "\n") }

	// 12 TiB in the month: 10,240 GB at $0.09 and 2,048 GB at $0.085 =
	// $921.60 + $174.08 = $1,095.68, two thirds of it big's. The 2,048
	// bytes of log bodies at Infrequent Access's first tier, $0.25 a GB,
	// half of it each.
	rep := report(`{"observability": {"cloudwatch_logs_class": "infrequent_access"}}`)
	big, small := rep.Lines[0], rep.Lines[1]
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"big's bytes", float64(big.BytesShipped), float64(8 * tib)},
		{"big's transfer", big.TransferCost, 1095.68 * 2 / 3},
		{"small's transfer", small.TransferCost, 1095.68 / 3},
		{"total transfer", rep.Total.TransferCost, 1095.68},
		{"big's CloudWatch", big.CloudWatchCost, 1024.0 / (1 << 30) * 0.25},
		{"small's CloudWatch", small.CloudWatchCost, 1024.0 / (1 << 30) * 0.25},
	} {
		if !nearRel(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if rep.Prices.LogClass != query.LogClassInfrequentAccess || !strings.Contains(notes(rep), "Infrequent Access") ||
		!strings.Contains(notes(rep), "data transfer out past 10 TB") || strings.Contains(notes(rep), "CloudWatch Logs prices ($0.50") {
		t.Errorf("class %q, notes %q: want infrequent_access, its tiers and the transfer tiers past 10 TB named", rep.Prices.LogClass, notes(rep))
	}

	// A price file's own transfer price is the user's word: no note for
	// it. The Standard class's first tier is $0.50 a GB.
	rep = report(`{"observability": {"transfer_out": [{"up_to_gb": 0, "price_per_gb": 0.02}]}}`)
	if got := rep.Total.TransferCost; !nearRel(got, 12*1024*0.02) {
		t.Errorf("transfer at the file's $0.02: $%v, want $%v", got, 12*1024*0.02)
	}
	if got := rep.Total.CloudWatchCost; !nearRel(got, 2048.0/(1<<30)*0.50) {
		t.Errorf("CloudWatch in Standard: $%v, want $%v", got, 2048.0/(1<<30)*0.50)
	}
	if rep.Prices.LogClass != query.LogClassStandard || strings.Contains(notes(rep), "data transfer") || !strings.Contains(notes(rep), "$0.50") {
		t.Errorf("class %q, notes %q: want standard, its tiers named, the transfer not", rep.Prices.LogClass, notes(rep))
	}

	bad := query.DefaultObservabilityPrices()
	bad.LogClass = "glacier"
	prices := query.DefaultPrices()
	if _, err := svc.ObservabilityCost(t.Context(), &prices, bad, q); !errors.Is(err, query.ErrInvalidFilter) || !strings.Contains(err.Error(), `"glacier"`) {
		t.Errorf("log class glacier: err %v, want an invalid-filter error naming it", err)
	}
}

// A price file's observability section replaces the figures it names and
// keeps the others; the CLI and the plugin read it through
// Prices.ObservabilityPrices.
func TestObservabilityPricesFromFile(t *testing.T) {
	prices, err := query.LoadPrices(filepath.Join("testdata", "prices.good-observability.yaml"))
	if err != nil {
		t.Fatalf("LoadPrices: %v", err)
	}
	obs := prices.ObservabilityPrices()
	def := query.DefaultObservabilityPrices()
	if obs.LogClass != query.LogClassInfrequentAccess || obs.EffectiveDate != "2026-01-01" {
		t.Errorf("class %q, date %q; want the file's infrequent_access and 2026-01-01", obs.LogClass, obs.EffectiveDate)
	}
	if want := []query.LogTier{{UpToGB: 51200, PricePerGB: 0.06}, {PricePerGB: 0.04}}; !slices.Equal(obs.TransferOut, want) {
		t.Errorf("transfer tiers %+v, want the file's %+v", obs.TransferOut, want)
	}
	if !slices.Equal(obs.CloudWatchLogs, def.CloudWatchLogs) || !slices.Equal(obs.CloudWatchLogsInfrequentAccess, def.CloudWatchLogsInfrequentAccess) {
		t.Errorf("CloudWatch tiers %+v / %+v, want the defaults", obs.CloudWatchLogs, obs.CloudWatchLogsInfrequentAccess)
	}
	if len(obs.Unconfirmed) != 1 || !strings.Contains(obs.Unconfirmed[0], "Infrequent Access") {
		t.Errorf("unconfirmed %q, want the Infrequent Access tiers named", obs.Unconfirmed)
	}
	if p := query.DefaultPrices(); !slices.Equal(p.ObservabilityPrices().TransferOut, def.TransferOut) || p.ObservabilityPrices().LogClass != query.LogClassStandard {
		t.Error("prices without an observability section do not give the defaults")
	}
	for _, c := range []string{"standard", "STANDARD", "", "infrequent-access", "INFREQUENT_ACCESS"} {
		if _, err := query.ParseLogClass(c); err != nil {
			t.Errorf("ParseLogClass(%q): %v", c, err)
		}
	}
	if _, err := query.ParseLogClass("ia"); err == nil {
		t.Error(`ParseLogClass("ia") took an unknown class`)
	}
}
