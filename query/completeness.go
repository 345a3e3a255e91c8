package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// Stages where telemetry goes missing, as Loss.Stage.
const (
	// StageLambda: Lambda dropped log records before the extension took
	// them (platform.logsDropped).
	StageLambda = "lambda"
	// StageBuffer: the extension's buffer was full (or it had nowhere to
	// send: no endpoint, the API key refused).
	StageBuffer = "extension buffer"
	// StageSpool: the extension's spool was over its cap or could not
	// write.
	StageSpool = "spool"
	// StageCollector: the collector refused a batch for good (a limit such
	// as max_batch_items, an invalid batch) or left items of an accepted
	// request out (malformed items).
	StageCollector = "collector"
	// StageStorage: ClickHouse refused the batch (quarantined).
	StageStorage = "storage"
	// StageUnaccounted: expected and not stored, and no stage counted it:
	// still in a spool or a WAL, in the next hour, or lost where nothing
	// counts.
	StageUnaccounted = "unaccounted"
)

// Loss is what went missing at one stage.
type Loss struct {
	Stage    string `json:"stage"`
	Spans    uint64 `json:"spans"`
	LogLines uint64 `json:"logLines"`
}

// Completeness compares, for one function and UTC hour, what its
// extensions received with what was stored, and names where the
// difference went.
type Completeness struct {
	Hour         time.Time `json:"hour"`
	FunctionName string    `json:"functionName"`
	// Invocations counts the records that carried the extension's counts.
	Invocations uint64 `json:"invocations"`
	// Expected spans and log lines: what the extensions received, less
	// the spans sampling left out on purpose, plus what Lambda dropped;
	// at least what the collector took in (stored or lost there).
	SpansExpected    uint64 `json:"spansExpected"`
	LogLinesExpected uint64 `json:"logLinesExpected"`
	SpansStored      uint64 `json:"spansStored"`
	LogLinesStored   uint64 `json:"logLinesStored"`
	// Percent is stored / expected of spans and log lines together, 100
	// when nothing was expected. It can read above 100 when items are
	// stored in another hour than their invocation's record, or come from
	// senders without the extension.
	Percent float64 `json:"percent"`
	// Lost names the stages where items went missing, in pipeline order.
	Lost            []Loss `json:"lost"`
	SpansSampledOut uint64 `json:"spansSampledOut"`
	// Spooled counts spans and log lines that went through the spool.
	Spooled       uint64 `json:"spooled"`
	BytesReceived uint64 `json:"bytesReceived"`
	BytesShipped  uint64 `json:"bytesShipped"`
}

// Complete says whether everything expected was stored.
func (c Completeness) Complete() bool {
	return c.SpansStored+c.LogLinesStored >= c.SpansExpected+c.LogLinesExpected
}

// Completeness reports, per function and UTC hour of the range, what was
// expected and what was stored, with the stages that lost items. Only
// hours with invocation records from an extension that counts are listed,
// and none before where retention dropped rows of a table the report
// compares (CompletenessReport says from when).
func (s *Service) Completeness(ctx context.Context, r TimeRange, functionName string) ([]Completeness, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	recs, err := s.store.Completeness(ctx, storage.UsageFilter{Since: r.Since, Until: r.Until, FunctionName: functionName})
	if err != nil {
		return nil, fmt.Errorf("read completeness: %w", err)
	}
	out := make([]Completeness, len(recs))
	for i, rec := range recs {
		out[i] = completenessOf(rec)
	}
	return out, nil
}

// CompletenessReport is the completeness report of a range: its hours,
// and from when they are read.
type CompletenessReport struct {
	// Since is where the report starts: the range's start, or later, where
	// retention dropped rows of a table the report compares (Retained).
	// Before it the tables no longer agree on what they hold: a day of
	// spans dropped while its invocations are kept would read as lost, a
	// day of raw rows dropped while completeness_hours keeps its month as
	// stored.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Retained names the tables whose retention moved Since, with the
	// time before which retention dropped every row of each, latest first.
	Retained []RetainedTable `json:"retained,omitempty"`
	Hours    []Completeness  `json:"hours"`
}

// RetainedTable says that retention dropped every row of Table before
// DroppedBefore.
type RetainedTable struct {
	Table         string    `json:"table"`
	DroppedBefore time.Time `json:"droppedBefore"`
}

// Note says why the report starts later than its range, or is empty when
// it does not: "starts 2026-05-06 00:00 UTC, not 2026-05-04 23:00 UTC:
// retention dropped invocations, spans before it".
func (r CompletenessReport) Note(requested time.Time) string {
	if len(r.Retained) == 0 || !r.Since.After(requested) {
		return ""
	}
	names := make([]string, len(r.Retained))
	for i, t := range r.Retained {
		names[i] = t.Table
	}
	const layout = "2006-01-02 15:04 MST"
	return fmt.Sprintf("starts %s, not %s: retention dropped %s before it, and the report compares only what every table still holds",
		r.Since.UTC().Format(layout), requested.UTC().Format(layout), strings.Join(names, ", "))
}

// CompletenessReport is Completeness with where the report starts: the
// range's start, or later where retention dropped rows of a table it
// compares (see CompletenessReport.Since).
func (s *Service) CompletenessReport(ctx context.Context, r TimeRange, functionName string) (CompletenessReport, error) {
	if err := r.Validate(); err != nil {
		return CompletenessReport{}, err
	}
	f := storage.UsageFilter{Since: r.Since, Until: r.Until, FunctionName: functionName}
	since, cutoffs, err := s.store.CompletenessSince(ctx, f)
	if err != nil {
		return CompletenessReport{}, err
	}
	rep := CompletenessReport{Since: since, Until: r.Until, Hours: []Completeness{}}
	if rep.Since.After(rep.Until) {
		rep.Since = rep.Until
	}
	for _, c := range cutoffs {
		rep.Retained = append(rep.Retained, RetainedTable{Table: c.Table, DroppedBefore: c.DroppedBefore})
	}
	hours, err := s.Completeness(ctx, r, functionName)
	if err != nil {
		return CompletenessReport{}, err
	}
	if hours != nil {
		rep.Hours = hours
	}
	return rep, nil
}

func completenessOf(rec storage.CompletenessRecord) Completeness {
	sub := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	c := Completeness{
		Hour: rec.Hour, FunctionName: rec.FunctionName, Invocations: rec.Invocations,
		SpansExpected:    sub(rec.SpansReceived, rec.SpansSampledOut),
		LogLinesExpected: rec.LogLinesReceived + rec.PlatformLogsDropped,
		SpansStored:      rec.SpansStored, LogLinesStored: rec.LogLinesStored,
		SpansSampledOut: rec.SpansSampledOut,
		Spooled:         rec.SpansSpooled + rec.LogLinesSpooled,
		BytesReceived:   rec.BytesReceived, BytesShipped: rec.BytesShipped,
	}
	// Items the collector took in were sent, also when the records that
	// counted them were lost with them.
	c.SpansExpected = max(c.SpansExpected, rec.SpansStored+rec.SpansCollectorLost+rec.SpansStorageLost)
	c.LogLinesExpected = max(c.LogLinesExpected, rec.LogLinesStored+rec.LogLinesCollectorLost+rec.LogLinesStorageLost)
	losses := []Loss{
		{Stage: StageLambda, LogLines: rec.PlatformLogsDropped},
		{Stage: StageBuffer, Spans: sub(rec.SpansDropped, rec.SpansRefused), LogLines: sub(rec.LogLinesDropped, rec.LogLinesRefused)},
		{Stage: StageSpool, Spans: rec.SpansSpoolDropped, LogLines: rec.LogLinesSpoolDropped},
		{Stage: StageCollector, Spans: rec.SpansCollectorLost + rec.SpansRefused, LogLines: rec.LogLinesCollectorLost + rec.LogLinesRefused},
		{Stage: StageStorage, Spans: rec.SpansStorageLost, LogLines: rec.LogLinesStorageLost},
	}
	var namedSpans, namedLogs uint64
	for _, l := range losses {
		namedSpans += l.Spans
		namedLogs += l.LogLines
	}
	losses = append(losses, Loss{Stage: StageUnaccounted,
		Spans:    sub(sub(c.SpansExpected, c.SpansStored), namedSpans),
		LogLines: sub(sub(c.LogLinesExpected, c.LogLinesStored), namedLogs)})
	for _, l := range losses {
		if l.Spans+l.LogLines > 0 {
			c.Lost = append(c.Lost, l)
		}
	}
	c.Percent = 100
	if want := c.SpansExpected + c.LogLinesExpected; want > 0 {
		c.Percent = 100 * float64(c.SpansStored+c.LogLinesStored) / float64(want)
	}
	return c
}
