package plugin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/frames"
	"github.com/lambdascope/lambdascope/query"
)

// pickerWindow is how far back the query editor's pickers look when the
// request names no time range.
const pickerWindow = 7 * 24 * time.Hour

// CallResource serves the query editor's pickers:
//
//	GET functions?from=ms&to=ms — names of functions with invocations in
//	the range (default: the last 7 days), sorted.
//	GET metrics — names of the figures a metrics query can show.
//	GET catalog?from=ms&to=ms — the functions with invocations in the
//	range (default: the last 7 days), each with its service, account,
//	region and versions: what template variables list, filtered by one
//	another in the frontend.
//	GET tenants?from=ms&to=ms&function=name — tenants (tenant isolation
//	mode) of the invocations in the range, sorted, at most 200.
//	GET spans?from=ms&to=ms&function=name — span names, sorted.
//	GET services?from=ms&to=ms&function=name — services of spans, sorted.
//	GET attributeKeys?from=ms&to=ms&function=name — span attribute keys.
//	GET attributeValues?key=k&from=ms&to=ms&function=name — values of one
//	span attribute.
//
// The span pickers default to the last 7 days, take an optional function
// and list at most query.DefaultPickerLimit values.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	if req.Method != http.MethodGet {
		return sendJSON(sender, http.StatusMethodNotAllowed, map[string]string{"error": "only GET is supported"})
	}
	switch req.Path {
	case "functions":
		since, until, err := pickerRange(req.URL, time.Now())
		if err != nil {
			return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
		}
		names, err := d.functionNames(ctx, since, until)
		if err != nil {
			d.logger.Error("list functions", "error", err)
			return sendJSON(sender, http.StatusBadGateway, map[string]string{"error": err.Error()})
		}
		return sendJSON(sender, http.StatusOK, names)
	case "metrics":
		return sendJSON(sender, http.StatusOK, frames.MetricNames())
	case "catalog":
		since, until, err := pickerRange(req.URL, time.Now())
		if err != nil {
			return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
		}
		entries, err := d.catalogEntries(ctx, since, until)
		if err != nil {
			d.logger.Error("list catalog", "error", err)
			return sendJSON(sender, http.StatusBadGateway, map[string]string{"error": err.Error()})
		}
		return sendJSON(sender, http.StatusOK, entries)
	case "tenants":
		since, until, err := pickerRange(req.URL, time.Now())
		if err != nil {
			return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
		}
		u, _ := url.Parse(req.URL) // pickerRange parsed it already
		svc, err := d.connect(ctx)
		if err != nil {
			d.logger.Error("list tenants", "error", err)
			return sendJSON(sender, http.StatusBadGateway, map[string]string{"error": err.Error()})
		}
		tenants, err := svc.Tenants(ctx, query.TimeRange{Since: since, Until: until}, u.Query().Get("function"))
		if err != nil {
			d.logger.Error("list tenants", "error", err)
			return sendJSON(sender, http.StatusBadGateway, map[string]string{"error": err.Error()})
		}
		return sendJSON(sender, http.StatusOK, tenants)
	case "spans", "services", "attributeKeys", "attributeValues":
		return d.spanPicker(ctx, req, sender)
	default:
		return sendJSON(sender, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no resource %q", req.Path)})
	}
}

// functionNames lists the functions with invocations in the range, sorted.
func (d *Datasource) functionNames(ctx context.Context, since, until time.Time) ([]string, error) {
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	fns, err := svc.FunctionList(ctx, query.TimeRange{Since: since, Until: until})
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	names := make([]string, 0, len(fns))
	for i := range fns {
		if n := fns[i].FunctionName; n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// catalogEntry is one function of one account and region, as template
// variables list them.
type catalogEntry struct {
	Function string   `json:"function"`
	Service  string   `json:"service"`
	Account  string   `json:"account"`
	Region   string   `json:"region"`
	Versions []string `json:"versions"`
}

// catalogEntries lists the functions with invocations in the range, by
// name, account and region, versions sorted.
func (d *Datasource) catalogEntries(ctx context.Context, since, until time.Time) ([]catalogEntry, error) {
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	fns, err := svc.FunctionList(ctx, query.TimeRange{Since: since, Until: until})
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	out := make([]catalogEntry, 0, len(fns))
	for _, f := range fns {
		versions := slices.Clone(f.Versions)
		slices.Sort(versions)
		if versions == nil {
			versions = []string{}
		}
		out = append(out, catalogEntry{Function: f.FunctionName, Service: f.ServiceName, Account: f.AccountID, Region: f.Region, Versions: versions})
	}
	slices.SortFunc(out, func(a, b catalogEntry) int {
		return cmp.Or(cmp.Compare(a.Function, b.Function), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region))
	})
	return out, nil
}

func sendJSON(sender backend.CallResourceResponseSender, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode resource response: %w", err)
	}
	if err := sender.Send(&backend.CallResourceResponse{
		Status:  status,
		Headers: map[string][]string{"Content-Type": {"application/json"}},
		Body:    body,
	}); err != nil {
		return fmt.Errorf("send resource response: %w", err)
	}
	return nil
}

// pickerRange reads from and to (milliseconds since the epoch) from a
// resource URL such as "functions?from=1700000000000&to=1700003600000".
func pickerRange(rawURL string, now time.Time) (since, until time.Time, err error) {
	since, until = now.Add(-pickerWindow), now
	u, err := url.Parse(rawURL)
	if err != nil {
		return since, until, fmt.Errorf("resource url %q cannot be parsed", rawURL)
	}
	q := u.Query()
	for _, p := range []struct {
		key string
		dst *time.Time
	}{{"from", &since}, {"to", &until}} {
		v := q.Get(p.key)
		if v == "" {
			continue
		}
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return since, until, fmt.Errorf("%s must be milliseconds since the epoch, got %q", p.key, v)
		}
		*p.dst = time.UnixMilli(ms)
	}
	if !since.Before(until) {
		return since, until, errors.New("from must be before to")
	}
	return since, until, nil
}

// spanPicker answers the pickers that list values of spans.
func (d *Datasource) spanPicker(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	since, until, err := pickerRange(req.URL, time.Now())
	if err != nil {
		return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	u, _ := url.Parse(req.URL) // pickerRange parsed it already
	params := u.Query()
	pq := query.PickerQuery{
		TimeRange:    query.TimeRange{Since: since, Until: until},
		FunctionName: params.Get("function"),
		Key:          params.Get("key"),
	}
	svc, err := d.connect(ctx)
	if err != nil {
		d.logger.Error("list "+req.Path, "error", err)
		return sendJSON(sender, http.StatusBadGateway, map[string]string{"error": err.Error()})
	}
	p := svc.Pickers()
	list := map[string]func(context.Context, query.PickerQuery) ([]string, error){
		"spans": p.SpanNames, "services": p.ServiceNames, "attributeKeys": p.AttributeKeys, "attributeValues": p.AttributeValues,
	}[req.Path]
	values, err := list(ctx, pq)
	switch {
	case errors.Is(err, query.ErrInvalidFilter):
		return sendJSON(sender, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case err != nil:
		d.logger.Error("list "+req.Path, "error", err)
		return sendJSON(sender, http.StatusBadGateway, map[string]string{"error": err.Error()})
	}
	return sendJSON(sender, http.StatusOK, values)
}
