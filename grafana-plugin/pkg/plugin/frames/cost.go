package frames

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// currencyUnit is Grafana's unit for an ISO currency code.
func currencyUnit(code string) string {
	if code == "" {
		return ""
	}
	return "currency" + strings.ToUpper(code)
}

// CostTable is a table of cost lines (per function or per version), most
// expensive first, with a note of the price tables used.
func CostTable(rep *query.CostReport, lines []query.CostLine, withVersion bool) *data.Frame {
	n := len(lines)
	var (
		functions, versions, accounts, regions = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		invocations                            = make([]int64, 0, n)
		gbs, compute, requests, eph, total, pm = make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
		streaming, savings                     = make([]float64, 0, n), make([]float64, 0, n)
		provisioned, managed, snapStart        = make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
		restores                               = make([]int64, 0, n)
	)
	for i := range lines {
		l := &lines[i]
		functions = append(functions, l.FunctionName)
		versions = append(versions, l.Version)
		accounts = append(accounts, l.AccountID)
		regions = append(regions, l.Region)
		invocations = append(invocations, int64(l.Invocations))
		gbs = append(gbs, l.GBSeconds)
		compute = append(compute, l.Compute)
		requests = append(requests, l.Requests)
		eph = append(eph, l.Ephemeral)
		streaming = append(streaming, l.Streaming)
		savings = append(savings, l.SavingsPlan)
		provisioned = append(provisioned, l.Provisioned)
		managed = append(managed, l.ManagedInstances)
		snapStart = append(snapStart, l.SnapStart)
		restores = append(restores, int64(l.Restores))
		total = append(total, l.Total)
		pm = append(pm, l.PerMillion)
	}
	money := &data.FieldConfig{Unit: currencyUnit(rep.Currency), Decimals: ptr(uint16(6))}
	fields := []*data.Field{data.NewField("function", nil, functions)}
	if withVersion {
		fields = append(fields, data.NewField("version", nil, versions))
	}
	fields = append(fields,
		data.NewField("accountId", nil, accounts),
		data.NewField("region", nil, regions),
		data.NewField("invocations", nil, invocations),
		data.NewField("gbSeconds", nil, gbs),
		data.NewField("compute", nil, compute).SetConfig(money),
		data.NewField("requests", nil, requests).SetConfig(money),
		data.NewField("ephemeralStorage", nil, eph).SetConfig(money),
		// The bytes of streamed responses past their first 6 MiB.
		data.NewField("responseStreaming", nil, streaming).SetConfig(money),
		// Provisioned concurrency's idle charge (the prices' provisioned
		// concurrency), the share of capacity providers' instances
		// (Managed Instances), and SnapStart's cache and restores.
		data.NewField("provisionedConcurrency", nil, provisioned).SetConfig(money),
		data.NewField("managedInstances", nil, managed).SetConfig(money),
		data.NewField("snapStart", nil, snapStart).SetConfig(money),
		data.NewField("snapStartRestores", nil, restores),
		// What a Compute Savings Plan took off compute (already out of it).
		data.NewField("savingsPlan", nil, savings).SetConfig(money),
		data.NewField("total", nil, total).SetConfig(money),
		data.NewField("perMillionInvocations", nil, pm).SetConfig(money),
	)
	f := data.NewFrame("cost", fields...)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	costNotices(f, rep)
	return f
}

// CostByDay is the total cost per day as a numeric time series; each point
// is at the start of its day in loc, the zone the report was grouped in,
// or at the start of the report's range for the day the range begins in,
// so that a range shorter than a day still shows its cost.
func CostByDay(rep *query.CostReport, loc *time.Location) *data.Frame {
	days := make([]time.Time, 0, len(rep.ByDay))
	totals := make([]float64, 0, len(rep.ByDay))
	for _, l := range rep.ByDay {
		at := l.Day
		if at.Before(rep.Since) {
			at = rep.Since
		}
		days = append(days, at.UTC())
		totals = append(totals, l.Total)
	}
	f := data.NewFrame("cost",
		data.NewField("time", nil, days),
		data.NewField("cost", nil, totals).SetConfig(&data.FieldConfig{Unit: currencyUnit(rep.Currency)}),
	)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
	f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: "Days from midnight to midnight in time zone " + loc.String() + "."})
	costNotices(f, rep)
	return f
}

func costNotices(f *data.Frame, rep *query.CostReport) {
	if len(rep.PriceTables) > 0 {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: "Priced with " + strings.Join(rep.PriceTables, ", ") + "."})
	}
	if len(rep.FallbackRegions) > 0 {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
			Text: "No price table for " + strings.Join(rep.FallbackRegions, ", ") + "; priced as the default region."})
	}
	for _, m := range rep.ManagedInstances {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: managedInstanceText(m, rep.Currency)})
	}
	var unconfirmed []string
	for _, m := range rep.ManagedInstances {
		if m.PriceUnconfirmed && !slices.Contains(unconfirmed, m.InstanceType) {
			unconfirmed = append(unconfirmed, m.InstanceType)
		}
	}
	if len(unconfirmed) > 0 {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: "No AWS source confirms the default hourly price of " +
			strings.Join(unconfirmed, ", ") + ": their Managed Instances cost is an estimate until a price file sets it."})
	}
	if len(rep.UnpricedManagedInstances) > 0 {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: "No instance price for the Managed Instances of " +
			strings.Join(rep.UnpricedManagedInstances, ", ") + ": their instance cost is counted as 0."})
	}
	if note := rep.RetentionNote(); note != "" {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: strings.ToUpper(note[:1]) + note[1:] + "."})
	}
	if n := rep.Total.EstimatedInvocations; n > 0 {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: fmt.Sprintf(
			"The platform did not report the billed duration of %d invocations; it is estimated from the duration rounded up to 1 ms.", n)})
	}
}

// managedInstanceText says what one capacity provider (Managed Instances)
// cost: its instance type and count, the hours they ran and the part no
// invocation served.
func managedInstanceText(m query.ManagedInstanceLine, currency string) string {
	text := fmt.Sprintf("Capacity provider %s (%s, %g × %s): %.2f instance-hours", m.Name, m.Region, m.Instances, m.InstanceType, m.InstanceHours)
	if m.Unpriced {
		return text + ", unpriced."
	}
	return text + fmt.Sprintf(" at %.4f %s/h cost %.2f %s, of it idle %.2f.", m.HourlyPrice, currency, m.Cost, currency, m.Idle)
}

func ptr[T any](v T) *T { return &v }
