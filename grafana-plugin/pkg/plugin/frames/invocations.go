package frames

import (
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// TraceLink says where a trace ID links to: the datasource that can show
// the trace (normally the one answering).
type TraceLink struct {
	DatasourceUID  string
	DatasourceName string
}

// traceQuery is the query the trace view runs for a linked trace ID; the
// field names are the ones the query editor writes.
type traceQuery struct {
	QueryType string `json:"queryType"`
	TraceID   string `json:"traceId"`
}

// config is the trace ID field's configuration: an internal link to the
// trace view when the datasource is known.
func (l TraceLink) config() *data.FieldConfig {
	if l.DatasourceUID == "" {
		return nil
	}
	return &data.FieldConfig{Links: []data.DataLink{{
		Title: "Show trace",
		Internal: &data.InternalDataLink{
			DatasourceUID:  l.DatasourceUID,
			DatasourceName: l.DatasourceName,
			Query:          traceQuery{QueryType: "trace", TraceID: "${__value.raw}"},
		},
	}}}
}

// linkedQuery is a query of this datasource a data link runs; the field
// names are the ones the query editor writes.
type linkedQuery struct {
	QueryType string `json:"queryType"`
	TraceID   string `json:"traceId,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// FunctionDashboardPath is where the function dashboard (deploy/grafana)
// is served; a link adds the function as its variable.
const FunctionDashboardPath = "/d/lambdascope-function"

// internal is a data link to a query of the datasource, nil when the
// datasource is not known. An internal link whose variables have no value
// (a null cell) is not offered.
func (l TraceLink) internal(title string, q linkedQuery) *data.DataLink {
	if l.DatasourceUID == "" {
		return nil
	}
	return &data.DataLink{Title: title, Internal: &data.InternalDataLink{
		DatasourceUID: l.DatasourceUID, DatasourceName: l.DatasourceName, Query: q,
	}}
}

// withLinks sets the field's data links, those that are not nil.
func withLinks(f *data.Field, links ...*data.DataLink) *data.Field {
	var out []data.DataLink
	for _, l := range links {
		if l != nil {
			out = append(out, *l)
		}
	}
	if len(out) > 0 {
		f.SetConfig(&data.FieldConfig{Links: out})
	}
	return f
}

// invocationLinks lead from a request ID (the field's value) to the
// invocation's record and its logs.
func (l TraceLink) invocationLinks() []*data.DataLink {
	return []*data.DataLink{
		l.internal("Invocation", linkedQuery{QueryType: "invocations", RequestID: "${__value.raw}"}),
		l.internal("Logs of this invocation", linkedQuery{QueryType: "logs", RequestID: "${__value.raw}"}),
	}
}

// nullable holds the empty strings as nulls: Grafana offers no link on a
// null cell.
func nullable(values []string) []*string {
	out := make([]*string, len(values))
	for i := range values {
		if values[i] != "" {
			out[i] = &values[i]
		}
	}
	return out
}

// traceIDField is a traceId field linking to the trace view. It is
// nullable: a row without a trace holds null, which Grafana shows with no
// link (an internal link whose variable has no value is dropped), where an
// empty string would still offer "Show trace".
func traceIDField(ids []string, link TraceLink) *data.Field {
	values := make([]*string, len(ids))
	for i := range ids {
		if ids[i] != "" {
			values[i] = &ids[i]
		}
	}
	f := data.NewField("traceId", nil, values)
	if cfg := link.config(); cfg != nil {
		f.SetConfig(cfg)
	}
	return f
}

// Invocations is a table of invocation records, newest first, whose trace
// IDs link to the trace view and request IDs to the invocation's logs.
// Beside the platform's report it holds what the extension read from the
// event and the response: the trigger, the HTTP status a proxy integration
// answered with and the response's size, each null where not seen, and
// whether the invocation counts as an error (query.Invocation.Failed: a 5xx
// answer does although the function returned).
func Invocations(invs []query.Invocation, link TraceLink) *data.Frame {
	n := len(invs)
	var (
		starts      = make([]time.Time, 0, n)
		functions   = make([]string, 0, n)
		versions    = make([]string, 0, n)
		requestIDs  = make([]string, 0, n)
		statuses    = make([]string, 0, n)
		errorTypes  = make([]string, 0, n)
		coldStarts  = make([]bool, 0, n)
		incomplete  = make([]bool, 0, n)
		durations   = make([]*float64, 0, n)
		billed      = make([]*float64, 0, n)
		inits       = make([]float64, 0, n)
		memory      = make([]*float64, 0, n)
		memoryUsed  = make([]*float64, 0, n)
		arches      = make([]string, 0, n)
		traceIDs    = make([]string, 0, n)
		regions     = make([]string, 0, n)
		accountsIDs = make([]string, 0, n)
		initTypes   = make([]string, 0, n)
		restores    = make([]*float64, 0, n)
		tenants     = make([]string, 0, n)
		failed      = make([]bool, 0, n)
		triggers    = make([]*string, 0, n)
		httpStatus  = make([]*uint16, 0, n)
		respSizes   = make([]*uint64, 0, n)
		sources     = make([]*string, 0, n)
		messages    = make([]*string, 0, n)
		ctxSources  = make([]*string, 0, n)
		funcTypes   = make([]*string, 0, n)
	)
	for i := range invs {
		inv := &invs[i]
		starts = append(starts, inv.Start.UTC())
		functions = append(functions, inv.FunctionName)
		versions = append(versions, inv.FunctionVersion)
		requestIDs = append(requestIDs, inv.RequestID)
		statuses = append(statuses, inv.Status)
		errorTypes = append(errorTypes, inv.ErrorType)
		coldStarts = append(coldStarts, inv.ColdStart)
		incomplete = append(incomplete, inv.Incomplete)
		// A figure the platform did not report is null, not 0.
		durations = append(durations, known(!inv.DurationUnknown, inv.DurationMs))
		billed = append(billed, known(!inv.BilledEstimated, float64(inv.BilledDurationMs)))
		inits = append(inits, inv.InitDurationMs)
		memory = append(memory, known(!inv.MemorySizeUnknown, float64(inv.MemorySizeMB)))
		memoryUsed = append(memoryUsed, known(!inv.MaxMemoryUsedUnknown, float64(inv.MaxMemoryUsedMB)))
		arches = append(arches, inv.Architecture)
		trace := ""
		if !inv.TraceID.IsZero() {
			trace = inv.TraceID.String()
		}
		traceIDs = append(traceIDs, trace)
		regions = append(regions, inv.Region)
		accountsIDs = append(accountsIDs, inv.AccountID)
		initTypes = append(initTypes, inv.InitializationType)
		// Only a SnapStart restore has a restore duration.
		restores = append(restores, known(inv.InitializationType == initSnapStart || inv.RestoreDurationMs > 0, inv.RestoreDurationMs))
		tenants = append(tenants, inv.TenantID)
		failed = append(failed, inv.Failed())
		triggers = append(triggers, nonZero(inv.Trigger))
		httpStatus = append(httpStatus, nonZero(inv.HTTPStatusCode))
		respSizes = append(respSizes, nonZero(inv.ResponseSize))
		sources = append(sources, nonZero(inv.TriggerSource))
		messages = append(messages, nonZero(inv.ErrorMessage))
		ctxSources = append(ctxSources, nonZero(inv.TraceContextSource))
		funcTypes = append(funcTypes, nonZero(inv.FunctionErrorType))
	}
	ms := func(f *data.Field) *data.Field { return f.SetConfig(&data.FieldConfig{Unit: "ms"}) }
	mb := func(f *data.Field) *data.Field { return f.SetConfig(&data.FieldConfig{Unit: "decmbytes"}) }
	traceField := traceIDField(traceIDs, link)
	f := data.NewFrame("invocations",
		data.NewField("start", nil, starts),
		data.NewField("function", nil, functions),
		data.NewField("version", nil, versions),
		withLinks(data.NewField("requestId", nil, requestIDs),
			link.internal("Logs of this invocation", linkedQuery{QueryType: "logs", RequestID: "${__value.raw}"})),
		data.NewField("status", nil, statuses),
		data.NewField("errorType", nil, errorTypes),
		data.NewField("coldStart", nil, coldStarts),
		ms(data.NewField("duration", nil, durations)),
		ms(data.NewField("billedDuration", nil, billed)),
		ms(data.NewField("initDuration", nil, inits)),
		mb(data.NewField("memorySize", nil, memory)),
		mb(data.NewField("maxMemoryUsed", nil, memoryUsed)),
		data.NewField("architecture", nil, arches),
		traceField,
		data.NewField("region", nil, regions),
		data.NewField("accountId", nil, accountsIDs),
		// No platform.report came; the record holds what was known.
		data.NewField("incomplete", nil, incomplete),
		// on-demand, provisioned-concurrency or snap-start (a restore from
		// the SnapStart snapshot, whose duration restoreDuration is).
		data.NewField("initializationType", nil, initTypes),
		ms(data.NewField("restoreDuration", nil, restores)),
		// The tenant of a function in tenant isolation mode.
		data.NewField("tenantId", nil, tenants),
		// A status other than success, or a 5xx answer of a proxy
		// integration: the invocation counts as an error.
		data.NewField("failed", nil, failed),
		// What invoked the function, as the extension read it from the
		// event (apigateway-rest, sqs, direct, ...).
		data.NewField("trigger", nil, triggers),
		// The status a proxy integration (API Gateway, ALB, function URL)
		// answered with.
		data.NewField("httpStatusCode", nil, httpStatus),
		data.NewField("responseSize", nil, respSizes).SetConfig(&data.FieldConfig{Unit: "decbytes"}),
		// Where the event came from: the queue, topic, bucket, table or
		// stream, the route of an HTTP request, the schedule's rule.
		data.NewField("triggerSource", nil, sources),
		// The message of the error the runtime reported, redacted by the
		// extension.
		data.NewField("errorMessage", nil, messages),
		// Where the trace context came from: w3c, xray, lambda, durable,
		// function or none.
		data.NewField("traceContextSource", nil, ctxSources),
		// The type the function's runtime gave the error it reported
		// (errorString, TypeError, ValueError), beside errorType, the
		// platform's.
		data.NewField("functionErrorType", nil, funcTypes),
	)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return f
}

// initSnapStart is the initialization type of an environment restored
// from a SnapStart snapshot.
const initSnapStart = "snap-start"

// nonZero is a pointer to v, or nil for the zero value, which the
// extension's figures use for "not seen".
func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// known is v, or nil when the figure is not known.
func known(ok bool, v float64) *float64 {
	if !ok {
		return nil
	}
	return &v
}
