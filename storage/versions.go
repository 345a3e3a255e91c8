package storage

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// VersionFirstSeenRecord is when one version of a function was first
// invoked within a range.
type VersionFirstSeenRecord struct {
	FunctionName, FunctionVersion string
	FirstSeen                     time.Time
}

// VersionsFirstSeen lists every function version invoked in the range
// with its first invocation there.
func (s *Store) VersionsFirstSeen(ctx context.Context, f UsageFilter) ([]VersionFirstSeenRecord, error) {
	if err := f.check("read first invocations of versions"); err != nil {
		return nil, err
	}
	query, args := versionsFirstSeenSQL(s.database, f)
	var out []VersionFirstSeenRecord
	err := s.scanAll(ctx, "versions first seen", query, args, func(rows driver.Rows) error {
		var (
			r     VersionFirstSeenRecord
			first uint64
		)
		if err := rows.Scan(&r.FunctionName, &r.FunctionVersion, &first); err != nil {
			return err
		}
		r.FirstSeen = unixTime(first)
		out = append(out, r)
		return nil
	})
	return out, err
}

// Tenants lists the tenants (tenant isolation mode) of the invocations in
// the range, of one function when f names it, sorted, at most limit.
func (s *Store) Tenants(ctx context.Context, f UsageFilter, limit int) ([]string, error) {
	if err := f.check("read tenants"); err != nil {
		return nil, err
	}
	query, args := tenantsSQL(s.database, f, limitBetween(limit, DefaultPickerLimit, DefaultPickerLimit))
	out := []string{}
	err := s.scanAll(ctx, "tenants", query, args, func(rows driver.Rows) error {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}
