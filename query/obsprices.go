package query

import (
	"errors"
	"fmt"
	"strings"
)

// CloudWatch Logs' log classes, as a price file names them.
const (
	LogClassStandard         = "standard"
	LogClassInfrequentAccess = "infrequent_access"
)

// ParseLogClass reads a CloudWatch Logs class: standard or
// infrequent_access, in any case, with - for _ (AWS's API writes
// INFREQUENT_ACCESS); "" is standard.
func ParseLogClass(s string) (string, error) {
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_") {
	case "", LogClassStandard:
		return LogClassStandard, nil
	case LogClassInfrequentAccess:
		return LogClassInfrequentAccess, nil
	}
	return "", fmt.Errorf("log class must be standard or infrequent_access, got %q", s)
}

// GBTier is one band of a tiered price per GB as a price file writes it:
// the GB up to UpToGB in a month (0: no limit, the last band) cost
// PricePerGB each.
type GBTier struct {
	UpToGB     float64 `json:"up_to_gb" yaml:"up_to_gb"`
	PricePerGB float64 `json:"price_per_gb" yaml:"price_per_gb"`
}

// ObservabilityPriceFile is the observability section of a price file:
// what it sets replaces DefaultObservabilityPrices' figure, what it leaves
// out keeps it.
type ObservabilityPriceFile struct {
	EffectiveDate string `json:"effective_date,omitempty" yaml:"effective_date,omitempty"`
	// LogClass is the CloudWatch Logs class the log lines are priced in:
	// standard (the default) or infrequent_access.
	LogClass string `json:"cloudwatch_logs_class,omitempty" yaml:"cloudwatch_logs_class,omitempty"`
	// TransferOut replaces data transfer out's tiers.
	TransferOut []GBTier `json:"transfer_out,omitempty" yaml:"transfer_out,omitempty"`
	// CloudWatchLogsStandard and CloudWatchLogsInfrequentAccess replace
	// the ingestion tiers of each class.
	CloudWatchLogsStandard         []GBTier `json:"cloudwatch_logs_standard,omitempty" yaml:"cloudwatch_logs_standard,omitempty"`
	CloudWatchLogsInfrequentAccess []GBTier `json:"cloudwatch_logs_infrequent_access,omitempty" yaml:"cloudwatch_logs_infrequent_access,omitempty"`
}

func (f *ObservabilityPriceFile) isZero() bool {
	return f.EffectiveDate == "" && f.LogClass == "" && len(f.TransferOut) == 0 &&
		len(f.CloudWatchLogsStandard) == 0 && len(f.CloudWatchLogsInfrequentAccess) == 0
}

// Validate reports what makes the section unusable, naming the key.
func (f *ObservabilityPriceFile) Validate() error {
	var errs []error
	if _, err := ParseLogClass(f.LogClass); err != nil {
		errs = append(errs, fmt.Errorf("observability.cloudwatch_logs_class: %w", err))
	}
	for _, s := range []struct {
		key   string
		tiers []GBTier
	}{
		{"observability.transfer_out", f.TransferOut},
		{"observability.cloudwatch_logs_standard", f.CloudWatchLogsStandard},
		{"observability.cloudwatch_logs_infrequent_access", f.CloudWatchLogsInfrequentAccess},
	} {
		prev := 0.0
		for i, t := range s.tiers {
			last := i == len(s.tiers)-1
			switch {
			case t.PricePerGB < 0:
				errs = append(errs, fmt.Errorf("%s[%d].price_per_gb must not be negative", s.key, i))
			case !last && t.UpToGB <= prev:
				errs = append(errs, fmt.Errorf("%s[%d].up_to_gb must grow", s.key, i))
			case last && t.UpToGB != 0:
				errs = append(errs, fmt.Errorf("%s[%d].up_to_gb must be 0 (unbounded) on the last tier", s.key, i))
			}
			prev = t.UpToGB
		}
	}
	return errors.Join(errs...)
}

func logTiersOf(tiers []GBTier) []LogTier {
	out := make([]LogTier, len(tiers))
	for i, t := range tiers {
		out[i] = LogTier(t)
	}
	return out
}

// ObservabilityPrices are DefaultObservabilityPrices with the price
// file's observability section over them.
func (p *Prices) ObservabilityPrices() ObservabilityPrices {
	o := DefaultObservabilityPrices()
	f := &p.Observability
	if f.EffectiveDate != "" {
		o.EffectiveDate = f.EffectiveDate
	}
	if c, err := ParseLogClass(f.LogClass); err == nil {
		o.LogClass = c
	}
	if len(f.TransferOut) > 0 {
		o.TransferOut = logTiersOf(f.TransferOut)
	}
	if len(f.CloudWatchLogsStandard) > 0 {
		o.CloudWatchLogs = logTiersOf(f.CloudWatchLogsStandard)
	}
	if len(f.CloudWatchLogsInfrequentAccess) > 0 {
		o.CloudWatchLogsInfrequentAccess = logTiersOf(f.CloudWatchLogsInfrequentAccess)
	}
	o.Unconfirmed = o.unconfirmed(false)
	return o
}
