package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/frames"
	"github.com/lambdascope/lambdascope/query"
)

// queryCompleteness compares, per function and hour, what the extensions
// sent with what was stored: a table (the default) or, with format
// timeSeries, the percentage per function for panels and alert rules.
func (d *Datasource) queryCompleteness(ctx context.Context, q backend.DataQuery, m QueryModel) (data.Frames, error) {
	switch m.Format {
	case "", FormatTable, FormatTimeSeries:
	default:
		return nil, fmt.Errorf("%w: format must be table or timeSeries, got %q", ErrInvalidQuery, m.Format)
	}
	r := timeRange(q)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := svc.CompletenessReport(ctx, r, strings.TrimSpace(m.FunctionName))
	if err != nil {
		return nil, err
	}
	cs := rep.Hours
	sel, err := svc.Select(ctx, r, m.names)
	if err != nil {
		return nil, err
	}
	cs = slices.DeleteFunc(cs, func(c query.Completeness) bool { return !sel.Keep(c.FunctionName, "") })
	out := data.Frames{}
	if m.Format == FormatTimeSeries {
		out = frames.CompletenessSeries(cs)
	} else {
		out = append(out, frames.CompletenessTable(cs))
	}
	// Before the latest retention cutoff of the tables compared, they no
	// longer agree: the report starts there, and says so.
	if note := rep.Note(r.Since); note != "" {
		for _, f := range out {
			f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: "Completeness " + note + "."})
		}
	}
	return out, nil
}

// costByObservability is the costBy of a cost query that prices what
// observability itself cost.
const costByObservability = "observability"

// queryObservabilityCost is what the extension added to the bill per
// function and day, beside what the log lines would cost in CloudWatch
// Logs: at the datasource's prices (as the CLI's --prices), whose
// observability section sets the transfer and CloudWatch Logs prices and
// the log class compared with (else the defaults, Standard class).
func (d *Datasource) queryObservabilityCost(ctx context.Context, cq query.CostQuery, m QueryModel) (*data.Frame, error) {
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	prices := d.settings.PriceList()
	rep, err := svc.ObservabilityCost(ctx, &prices, prices.ObservabilityPrices(), cq)
	if err != nil {
		return nil, err
	}
	sel, err := svc.Select(ctx, cq.TimeRange, m.names)
	if err != nil {
		return nil, err
	}
	rep.Lines = slices.DeleteFunc(rep.Lines, func(l query.ObservabilityLine) bool { return !sel.Keep(l.FunctionName, "") })
	return frames.ObservabilityTable(rep), nil
}
