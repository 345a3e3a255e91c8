package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/lambdascope/lambdascope/storage"
)

// TenantLine is what the invocations of one tenant of a function in
// tenant isolation mode did and cost over a range.
type TenantLine struct {
	TenantID     string `json:"tenantId"`
	AccountID    string `json:"accountId,omitempty"`
	Region       string `json:"region,omitempty"`
	FunctionName string `json:"functionName"`
	Invocations  uint64 `json:"invocations"`
	ColdStarts   uint64 `json:"coldStarts"`
	Errors       uint64 `json:"errors"`
	// Cost is the billed duration at the first-tier (list) price of its
	// region and architecture (the provisioned rate for provisioned
	// concurrency), requests, ephemeral storage and Isolation: tiers,
	// SnapStart and Managed Instances' instances are shared per function,
	// not per tenant.
	GBSeconds float64 `json:"gbSeconds"`
	Cost      float64 `json:"cost"`
	// Isolation is the tenant isolation charge: each execution environment
	// created for the tenant (a cold start) at the architecture's
	// TenantIsolationPerGB times its memory. IsolationUnpriced says some
	// cold starts were on an architecture whose price is not known; they
	// are left out of Isolation and Cost.
	Isolation         float64 `json:"isolation"`
	IsolationUnpriced bool    `json:"isolationUnpriced,omitempty"`
}

// TenantReport is the cost of each tenant over a range.
type TenantReport struct {
	Currency string       `json:"currency"`
	Tenants  []TenantLine `json:"tenants"`
}

// TenantCosts reports cost, invocations, cold starts and errors per
// tenant and function, for the invocations the platform gave a tenant ID;
// the costliest first.
func (s *Service) TenantCosts(ctx context.Context, prices *Prices, q CostQuery) (*TenantReport, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	recs, err := s.store.TenantUsage(ctx, storage.UsageFilter{Since: q.Since, Until: q.Until, FunctionName: q.FunctionName})
	if err != nil {
		return nil, fmt.Errorf("read tenant usage: %w", err)
	}
	return PriceTenants(prices, recs), nil
}

// PriceTenants prices tenant usage records as TenantCosts does.
func PriceTenants(prices *Prices, recs []storage.TenantRecord) *TenantReport {
	rep := &TenantReport{Tenants: []TenantLine{}}
	if def, _ := prices.For(""); def != nil {
		rep.Currency = def.Currency
	}
	type key struct{ tenant, account, region, fn string }
	lines := map[key]*TenantLine{}
	for _, r := range recs {
		k := key{r.TenantID, r.AccountID, r.Region, r.FunctionName}
		l := lines[k]
		if l == nil {
			l = &TenantLine{TenantID: r.TenantID, AccountID: r.AccountID, Region: r.Region, FunctionName: r.FunctionName}
			lines[k] = l
		}
		t, _ := prices.For(r.Region)
		row := UsageRow{Architecture: r.Architecture, MemorySizeMB: r.MemorySizeMB, EphemeralStorageMB: r.EphemeralStorageMB,
			InitializationType: r.InitializationType, Invocations: r.Invocations, BilledDurationMs: r.BilledDurationMs}
		ap := archPrices(t, r.Architecture)
		rate := ap.firstTierPrice()
		switch {
		case row.provisioned():
			rate = ap.ProvisionedDurationPerGBSecond
		case row.managedInstances():
			rate = 0
		}
		l.Invocations += r.Invocations
		l.ColdStarts += r.ColdStarts
		l.Errors += r.Errors
		l.GBSeconds += row.GBSeconds()
		l.Cost += row.GBSeconds()*rate + float64(r.Invocations)/1e6*t.RequestsPerMillion + row.ephemeralGBSeconds()*t.EphemeralStoragePerGBSecond
		if r.ColdStarts > 0 {
			if p := ap.TenantIsolationPerGB; p != nil {
				iso := float64(r.ColdStarts) * float64(r.MemorySizeMB) / 1024 * *p
				l.Isolation += iso
				l.Cost += iso
			} else {
				l.IsolationUnpriced = true
			}
		}
	}
	for _, l := range lines {
		rep.Tenants = append(rep.Tenants, *l)
	}
	slices.SortFunc(rep.Tenants, func(a, b TenantLine) int {
		return cmp.Or(cmp.Compare(b.Cost, a.Cost), cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(a.FunctionName, b.FunctionName),
			cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.Region, b.Region))
	})
	return rep
}
