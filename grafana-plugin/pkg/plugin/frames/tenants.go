package frames

import (
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// TenantTable lists cost, invocations, cold starts and errors per tenant
// and function, the costliest first, as the CLI's cost --by tenant does.
// "isolation unpriced" marks tenants with cold starts on an architecture
// whose tenant isolation price is not known.
func TenantTable(rep *query.TenantReport) *data.Frame {
	n := len(rep.Tenants)
	tenants, fns, accounts, regions := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	inv, cold, errs := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	gbs, iso, cost := make([]float64, n), make([]float64, n), make([]float64, n)
	unpriced := make([]bool, n)
	for i, l := range rep.Tenants {
		tenants[i], fns[i], accounts[i], regions[i] = l.TenantID, l.FunctionName, l.AccountID, l.Region
		inv[i], cold[i], errs[i] = l.Invocations, l.ColdStarts, l.Errors
		gbs[i], iso[i], cost[i], unpriced[i] = l.GBSeconds, l.Isolation, l.Cost, l.IsolationUnpriced
	}
	money := &data.FieldConfig{Unit: currencyUnit(rep.Currency), Decimals: ptr(uint16(6))}
	return data.NewFrame("tenant cost",
		data.NewField("tenant", nil, tenants),
		data.NewField("function", nil, fns),
		data.NewField("account", nil, accounts),
		data.NewField("region", nil, regions),
		data.NewField("invocations", nil, inv),
		data.NewField("cold starts", nil, cold),
		data.NewField("errors", nil, errs),
		data.NewField("GB-seconds", nil, gbs),
		data.NewField("isolation", nil, iso).SetConfig(money),
		data.NewField("isolation unpriced", nil, unpriced),
		data.NewField("cost", nil, cost).SetConfig(money),
	)
}
