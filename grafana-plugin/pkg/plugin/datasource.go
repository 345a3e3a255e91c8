package plugin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/frames"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
)

// PluginID is the plugin's ID in plugin.json.
const PluginID = "lambdascope-lambdascope-datasource"

// Query types, as the query editor writes them in queryType.
const (
	QueryTypeTrace       = "trace"
	QueryTypeInvocations = "invocations"
	QueryTypeSearch      = "search"
	QueryTypeServiceMap  = "serviceMap"
	QueryTypeMetrics     = "metrics"
	QueryTypeLogs        = "logs"
	QueryTypeCatalog     = "catalog"
	QueryTypeCost        = "cost"
	QueryTypeSpikes      = "spikes"
	QueryTypeRightsize   = "rightsize"
	QueryTypeTraceCost   = "traceCost"
	// QueryTypeLogsVolume is Explore's histogram of a logs query (a
	// supplementary query, not offered in the editor).
	QueryTypeLogsVolume = "logsVolume"
	// QueryTypeAnnotations marks spikes, cold-start storms and deployments
	// on time series (the datasource's annotation queries).
	QueryTypeAnnotations = "annotations"
	// QueryTypeCompleteness: stored against sent, per function and hour.
	QueryTypeCompleteness = "completeness"
)

// QueryTypes lists every query type, in the query editor's order.
var QueryTypes = []string{QueryTypeTrace, QueryTypeSearch, QueryTypeInvocations, QueryTypeLogs,
	QueryTypeMetrics, QueryTypeServiceMap, QueryTypeCatalog, QueryTypeCost, QueryTypeTraceCost, QueryTypeSpikes, QueryTypeRightsize, QueryTypeAnnotations, QueryTypeCompleteness}

// QueryModel is the JSON of one query from the query editor. Which fields
// apply depends on the query type.
type QueryModel struct {
	QueryType string `json:"queryType"`
	// TraceID is the trace to show (trace, traceCost) or a filter
	// (invocations, logs).
	TraceID      string `json:"traceId,omitempty"`
	FunctionName string `json:"functionName,omitempty"`
	RequestID    string `json:"requestId,omitempty"`
	Limit        int    `json:"limit,omitempty"`
	// TenantID keeps the invocations of one tenant (tenant isolation
	// mode).
	TenantID string `json:"tenantId,omitempty"`
	// TriggerSource keeps the invocations whose event came from one
	// source: a queue's or table's name, a route ("POST /orders/{id}").
	TriggerSource string `json:"triggerSource,omitempty"`
	// FailedOnly keeps the invocations that count as errors: a status
	// other than success, or an HTTP status of 500 or more.
	FailedOnly bool `json:"failedOnly,omitempty"`
	// ErrorType keeps the invocations whose error has this type, the
	// platform's (Runtime.Unknown) or the function's (errorString,
	// TypeError).
	ErrorType string `json:"errorType,omitempty"`

	// Trace search.
	ServiceName   string            `json:"serviceName,omitempty"`
	SpanName      string            `json:"spanName,omitempty"`
	Status        string            `json:"status,omitempty"`
	MinDurationMs float64           `json:"minDurationMs,omitempty"`
	MaxDurationMs float64           `json:"maxDurationMs,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
	ColdStartOnly bool              `json:"coldStartOnly,omitempty"`

	// Metrics names figures of frames.Metrics; default invocations.
	Metrics []string `json:"metrics,omitempty"`
	// StepSeconds is the bucket width; 0 follows the panel's interval.
	StepSeconds int `json:"stepSeconds,omitempty"`
	// OrLatest makes a trace query without a trace ID show the latest
	// failed trace of the time range (of the function, when set), else
	// the latest trace, instead of asking for an ID.
	OrLatest bool `json:"orLatest,omitempty"`
	// WholeRange makes a metrics query one point per function and metric
	// over the whole time range, whatever the clock (alert rules on "the
	// last N minutes").
	WholeRange bool `json:"wholeRange,omitempty"`

	// Text keeps log lines containing it, ignoring case.
	Text string `json:"text,omitempty"`

	// CostBy is "function" (default), "version", "day", "observability"
	// (what the extension added to the bill, beside CloudWatch Logs) or
	// "tenant" (cost, invocations, cold starts and errors per tenant).
	CostBy string `json:"costBy,omitempty"`

	// Error spikes. Format is "table" (default: the verdicts at the end of
	// the range) or "timeSeries" (the verdict at every step, SpikeSeries
	// naming the figures: errorRate, baselineRate, threshold, firing).
	Format      string   `json:"format,omitempty"`
	SpikeSeries []string `json:"spikeSeries,omitempty"`
	// WindowMinutes and BaselineMinutes override the detector's window
	// (default 5) and baseline (default 60).
	WindowMinutes   int `json:"windowMinutes,omitempty"`
	BaselineMinutes int `json:"baselineMinutes,omitempty"`
	// MinInvocations overrides how many invocations a function needs to be
	// judged (spikes, default 20) or advised on (rightsize, default 100);
	// MinErrors how many errors a spike needs (default 5).
	MinInvocations int `json:"minInvocations,omitempty"`
	MinErrors      int `json:"minErrors,omitempty"`

	// Annotation is what an annotations query marks: errorSpikes,
	// coldStartStorms or deployments; MinColdStarts the cold starts in a
	// minute that make a storm (default 10).
	Annotation    string `json:"annotation,omitempty"`
	MinColdStarts int    `json:"minColdStarts,omitempty"`

	// AdhocFilters are the dashboard's ad hoc filters (see applyAdhocFilters).
	AdhocFilters []AdhocFilter `json:"adhocFilters,omitempty"`
	// names are the function and service filters of AdhocFilters that the
	// query's own fields cannot express, applied to the rows read.
	names query.NameFilters
}

// Datasource is one configured Lambdascope datasource. It connects to
// ClickHouse on first use, so that a server that is down when Grafana
// starts is reported by the health check rather than hiding the instance.
type Datasource struct {
	settings    Settings
	settingsErr error
	uid, name   string
	logger      *slog.Logger

	mu  sync.Mutex
	svc *query.Service
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// NewDatasource is the instance factory Grafana's instance manager calls
// when a datasource is created or its settings change. Invalid settings do
// not fail the instance: the health check and every query report them.
func NewDatasource(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	cfg, err := LoadSettings(s)
	ds := &Datasource{settings: cfg, settingsErr: err, uid: s.UID, name: s.Name,
		logger: slog.Default().With("component", "datasource", "datasource_uid", s.UID)}
	if err != nil {
		ds.logger.Warn("invalid datasource settings", "error", err)
	}
	return ds, nil
}

// Dispose closes the connections when Grafana drops the instance.
func (d *Datasource) Dispose() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.svc != nil {
		if err := d.svc.Close(); err != nil {
			d.logger.Warn("close clickhouse connections", "error", err)
		}
		d.svc = nil
	}
}

// connect opens the query layer once; a failed attempt is retried on next
// use.
func (d *Datasource) connect(ctx context.Context) (*query.Service, error) {
	if d.settingsErr != nil {
		return nil, d.settingsErr
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.svc != nil {
		return d.svc, nil
	}
	svc, err := query.Open(ctx, d.settings.StorageConfig())
	if err != nil {
		if perr := httpPortError(ctx, &d.settings); perr != nil {
			return nil, perr
		}
		return nil, fmt.Errorf("connect to clickhouse %s: %w", d.settings.Redacted(), err)
	}
	d.svc = svc
	return d.svc, nil
}

// QueryData answers each query on its own: one failing query does not fail
// the others.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, q backend.DataQuery) backend.DataResponse {
	var m QueryModel
	if len(q.JSON) > 0 {
		if err := json.Unmarshal(q.JSON, &m); err != nil {
			return errorResponse(fmt.Errorf("%w: decode query %s: %w", ErrInvalidQuery, q.RefID, err))
		}
	}
	if q.QueryType != "" {
		m.QueryType = q.QueryType
	}
	skipped, err := applyAdhocFilters(&m)
	if err != nil {
		return errorResponse(err)
	}
	var out data.Frames
	one := func(f *data.Frame, e error) (data.Frames, error) {
		if e != nil {
			return nil, e
		}
		return data.Frames{f}, nil
	}
	switch m.QueryType {
	case QueryTypeTrace:
		out, err = one(d.queryTrace(ctx, q, m))
	case QueryTypeInvocations, "":
		out, err = one(d.queryInvocations(ctx, q, m))
	case QueryTypeSearch:
		out, err = one(d.querySearch(ctx, q, m))
	case QueryTypeServiceMap:
		out, err = d.queryServiceMap(ctx, q, m)
	case QueryTypeMetrics:
		out, err = d.queryMetrics(ctx, q, m)
	case QueryTypeLogs:
		out, err = one(d.queryLogs(ctx, q, m))
	case QueryTypeLogsVolume:
		out, err = d.queryLogsVolume(ctx, q, m)
	case QueryTypeAnnotations:
		out, err = one(d.queryAnnotations(ctx, q, m))
	case QueryTypeCatalog:
		out, err = one(d.queryCatalog(ctx, q, m))
	case QueryTypeCost:
		out, err = one(d.queryCost(ctx, q, m))
	case QueryTypeSpikes:
		out, err = d.querySpikes(ctx, q, m)
	case QueryTypeRightsize:
		out, err = one(d.queryRightsize(ctx, q, m))
	case QueryTypeTraceCost:
		out, err = one(d.queryTraceCost(ctx, q, m))
	case QueryTypeCompleteness:
		out, err = d.queryCompleteness(ctx, q, m)
	default:
		err = fmt.Errorf("%w %q: want one of %s", ErrUnknownQueryType, m.QueryType, strings.Join(QueryTypes, ", "))
	}
	if err != nil {
		switch {
		case isUserError(err):
		case errors.Is(err, ErrInvalidSettings), errors.Is(err, context.Canceled):
			d.logger.Debug("query not run", "ref_id", q.RefID, "query_type", m.QueryType, "error", err)
		default:
			d.logger.Error("query failed", "ref_id", q.RefID, "query_type", m.QueryType, "error", err)
		}
		return errorResponse(err)
	}
	skippedNotice(out, m.QueryType, skipped)
	for _, f := range out {
		f.RefID = q.RefID
	}
	return backend.DataResponse{Frames: out}
}

func (d *Datasource) queryTrace(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	if strings.TrimSpace(m.TraceID) == "" && m.OrLatest {
		return d.queryLatestTrace(ctx, q, m)
	}
	if strings.TrimSpace(m.TraceID) == "" {
		return nil, fmt.Errorf("%w: traceId must be set for a trace query", ErrInvalidQuery)
	}
	id, err := query.ParseTraceID(m.TraceID)
	if err != nil {
		return nil, err
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	tr, err := svc.TraceByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return frames.Trace(tr, d.traceLink()), nil
}

// queryLatestTrace shows the latest failed trace of the query's range, else
// its latest trace, saying which; with none, an empty trace and a notice.
func (d *Datasource) queryLatestTrace(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	search := query.TraceSearch{Since: q.TimeRange.From, Until: q.TimeRange.To, FunctionName: strings.TrimSpace(m.FunctionName), Limit: 1}
	for _, status := range []string{"error", ""} {
		search.Status = status
		found, err := svc.SearchTraces(ctx, search)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			continue
		}
		tr, err := svc.TraceByID(ctx, found[0].TraceID)
		if err != nil {
			return nil, err
		}
		what := "latest trace"
		if status == "error" {
			what = "latest failed trace"
		}
		f := frames.Trace(tr, d.traceLink())
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("The %s of the time range, %s; enter a trace ID to see another.", what, tr.TraceID)})
		return f, nil
	}
	f := frames.Trace(&query.Trace{}, d.traceLink())
	f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: "No trace in the time range."})
	return f, nil
}

func (d *Datasource) queryInvocations(ctx context.Context, q backend.DataQuery, m QueryModel) (*data.Frame, error) {
	f := query.InvocationFilter{
		FunctionName:  strings.TrimSpace(m.FunctionName),
		Since:         q.TimeRange.From,
		Until:         q.TimeRange.To,
		Limit:         m.Limit,
		TenantID:      strings.TrimSpace(m.TenantID),
		TriggerSource: strings.TrimSpace(m.TriggerSource),
		Failed:        m.FailedOnly,
		ErrorType:     strings.TrimSpace(m.ErrorType),
	}
	if r := strings.TrimSpace(m.RequestID); r != "" {
		f.RequestIDs = []string{r}
	}
	if strings.TrimSpace(m.TraceID) != "" {
		id, err := query.ParseTraceID(m.TraceID)
		if err != nil {
			return nil, err
		}
		f.TraceID = id
	}
	limit := cmp.Or(f.Limit, query.DefaultInvocationLimit)
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	page, err := svc.InvocationsPage(ctx, f, m.names)
	if err != nil {
		return nil, err
	}
	frame := frames.Invocations(page.Rows, d.traceLink())
	limitNotice(frame, len(page.Rows), limit, "invocations")
	filterCapNotice(frame, page.Capped, query.MaxInvocationLimit, "invocations")
	return frame, nil
}

// CheckHealth says in one sentence whether the datasource can be used, and
// if not, what is wrong: the settings, the server, the credentials or the
// schema.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	fail := func(format string, args ...any) (*backend.CheckHealthResult, error) {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf(format, args...)}, nil
	}
	if d.settingsErr != nil {
		return fail("The datasource settings are invalid: %s.", strings.ReplaceAll(
			strings.TrimPrefix(d.settingsErr.Error(), "datasource settings: "), "\n", "; "))
	}
	addr := strings.Join(d.settings.Addresses, ", ")
	if d.settings.TLS {
		if a, err := probeTLS(ctx, &d.settings); err != nil {
			return fail("%s.", describeTLSError(err, a, &d.settings))
		}
	}
	svc, err := d.connect(ctx)
	if err != nil {
		return fail("%s.", describeConnectError(err, addr, &d.settings))
	}
	schema, err := svc.Schema(ctx)
	if err != nil {
		return fail("%s.", describeConnectError(err, addr, &d.settings))
	}
	return schemaHealth(schema.Server, addr, d.settings.Database, schema.Have, schema.Want), nil
}

// schemaHealth judges the schema version have found in database against
// the version want this plugin reads.
func schemaHealth(server, addr, database string, have, want uint32) *backend.CheckHealthResult {
	res := &backend.CheckHealthResult{Status: backend.HealthStatusError}
	switch {
	case have == 0:
		res.Message = fmt.Sprintf("ClickHouse %s at %s is reachable but database %q has no Lambdascope schema: start the collector against it once to create the schema.",
			server, addr, database)
	case have < want:
		res.Message = fmt.Sprintf("The Lambdascope schema in database %q is at version %d, older than version %d that this plugin reads: restart the collector (it migrates the schema).",
			database, have, want)
	case have > want:
		res.Status = backend.HealthStatusOk
		res.Message = fmt.Sprintf("Connected to ClickHouse %s, but database %q has schema version %d, newer than version %d this plugin knows: upgrade the plugin.",
			server, database, have, want)
	default:
		res.Status = backend.HealthStatusOk
		res.Message = fmt.Sprintf("Connected to ClickHouse %s at %s; database %q holds Lambdascope schema version %d.", server, addr, database, have)
	}
	return res
}

func describeConnectError(err error, addr string, s *Settings) string {
	switch {
	case errors.Is(err, ErrInvalidSettings):
		return "The datasource settings are invalid: " + strings.TrimPrefix(err.Error(), ErrInvalidSettings.Error()+": ")
	case storage.IsAuthRefused(err):
		return fmt.Sprintf("ClickHouse at %s refused user %q: check the username and password", addr, s.Username)
	case storage.IsUnknownDatabase(err):
		return fmt.Sprintf("ClickHouse at %s has no such database: %v", addr, err)
	case isUnreachable(err):
		return fmt.Sprintf("ClickHouse at %s is unreachable: %v", addr, err)
	case !s.TLS && errors.Is(err, io.EOF):
		return fmt.Sprintf("ClickHouse at %s closed the connection during the handshake: if that is its secure port (tcp_port_secure, usually 9440), turn TLS on", addr)
	default:
		return fmt.Sprintf("Cannot use ClickHouse at %s: %v", addr, err)
	}
}
