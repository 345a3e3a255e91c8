package storage

import (
	"context"
	"errors"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SpanNames lists the distinct span names in the range, sorted.
func (s *Store) SpanNames(ctx context.Context, f PickerFilter) ([]string, error) {
	return s.pickerValues(ctx, "span names", pickerSpanNameExpr, f, false)
}

// ServiceNames lists the distinct service names of spans in the range, sorted.
func (s *Store) ServiceNames(ctx context.Context, f PickerFilter) ([]string, error) {
	return s.pickerValues(ctx, "service names", pickerServiceExpr, f, false)
}

// AttributeKeys lists the distinct span attribute keys in the range, sorted.
func (s *Store) AttributeKeys(ctx context.Context, f PickerFilter) ([]string, error) {
	return s.pickerValues(ctx, "attribute keys", pickerAttrKeyExpr, f, false)
}

// AttributeValues lists the distinct values of span attribute f.Key in the
// range, sorted.
func (s *Store) AttributeValues(ctx context.Context, f PickerFilter) ([]string, error) {
	if f.Key == "" {
		return nil, errors.New("list attribute values: key is required")
	}
	return s.pickerValues(ctx, "attribute values", pickerAttrValueExpr, f, true)
}

func (s *Store) pickerValues(ctx context.Context, what, expr string, f PickerFilter, key bool) ([]string, error) {
	if err := requireRange("list "+what, f.Since, f.Until); err != nil {
		return nil, err
	}
	f.Limit = limitBetween(f.Limit, DefaultPickerLimit, MaxPickerLimit)
	query, args := pickerSQL(s.database, expr, f, key)
	out := []string{}
	err := s.scanAll(ctx, what, query, args, func(rows driver.Rows) error {
		var v string
		if err := rows.Scan(&v); err != nil {
			return err
		}
		if v != "" {
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
