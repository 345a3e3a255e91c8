package plugin

import (
	"context"
	"slices"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/frames"
	"github.com/lambdascope/lambdascope/query"
)

// costByTenant is the costBy of a cost query that shows cost,
// invocations, cold starts and errors per tenant (tenant isolation mode).
const costByTenant = "tenant"

// queryTenantCost prices the invocations that name a tenant, per tenant
// and function, at the datasource's prices.
func (d *Datasource) queryTenantCost(ctx context.Context, cq query.CostQuery, m QueryModel) (*data.Frame, error) {
	svc, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	prices := d.settings.PriceList()
	rep, err := svc.TenantCosts(ctx, &prices, cq)
	if err != nil {
		return nil, err
	}
	sel, err := svc.Select(ctx, cq.TimeRange, m.names)
	if err != nil {
		return nil, err
	}
	rep.Tenants = slices.DeleteFunc(rep.Tenants, func(l query.TenantLine) bool { return !sel.Keep(l.FunctionName, "") })
	return frames.TenantTable(rep), nil
}
