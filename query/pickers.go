package query

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lambdascope/lambdascope/storage"
)

// PickerStore is what Pickers reads: distinct values of span fields in a
// time range.
type PickerStore interface {
	// SpanNames lists distinct span names, sorted.
	SpanNames(ctx context.Context, f storage.PickerFilter) ([]string, error)
	// ServiceNames lists distinct service names of spans, sorted.
	ServiceNames(ctx context.Context, f storage.PickerFilter) ([]string, error)
	// AttributeKeys lists distinct span attribute keys, sorted.
	AttributeKeys(ctx context.Context, f storage.PickerFilter) ([]string, error)
	// AttributeValues lists distinct values of one span attribute, sorted.
	AttributeValues(ctx context.Context, f storage.PickerFilter) ([]string, error)
}

var _ PickerStore = (*storage.Store)(nil)

// Limits of PickerQuery.Limit.
const (
	DefaultPickerLimit = storage.DefaultPickerLimit
	MaxPickerLimit     = storage.MaxPickerLimit
)

// PickerQuery selects the spans whose names, services, attribute keys or
// attribute values a picker lists.
type PickerQuery struct {
	TimeRange
	// FunctionName, when set, keeps spans of that function.
	FunctionName string
	// Key is the attribute whose values AttributeValues lists.
	Key string
	// Limit caps the values listed: 0 means DefaultPickerLimit.
	Limit int
}

// Validate reports a query that cannot be run.
func (q PickerQuery) Validate() error {
	var errs []error
	if err := q.TimeRange.Validate(); err != nil {
		errs = append(errs, err)
	}
	if q.Limit < 0 || q.Limit > MaxPickerLimit {
		errs = append(errs, fmt.Errorf("%w: limit must be between 0 and %d", ErrInvalidFilter, MaxPickerLimit))
	}
	return errors.Join(errs...)
}

func (q PickerQuery) filter() storage.PickerFilter {
	return storage.PickerFilter{Since: q.Since, Until: q.Until, FunctionName: strings.TrimSpace(q.FunctionName), Key: q.Key, Limit: q.Limit}
}

// Pickers lists the values the query editor offers for span names,
// services and span attributes. It is safe for concurrent use.
type Pickers struct {
	store PickerStore
}

// NewPickers returns Pickers reading from store.
func NewPickers(store PickerStore) *Pickers { return &Pickers{store: store} }

// SpanNames lists the distinct span names in the range, sorted.
func (p *Pickers) SpanNames(ctx context.Context, q PickerQuery) ([]string, error) {
	return p.list(ctx, q, "span names", p.store.SpanNames)
}

// ServiceNames lists the distinct services of spans in the range, sorted.
func (p *Pickers) ServiceNames(ctx context.Context, q PickerQuery) ([]string, error) {
	return p.list(ctx, q, "services", p.store.ServiceNames)
}

// AttributeKeys lists the distinct span attribute keys in the range, sorted.
func (p *Pickers) AttributeKeys(ctx context.Context, q PickerQuery) ([]string, error) {
	return p.list(ctx, q, "attribute keys", p.store.AttributeKeys)
}

// AttributeValues lists the distinct values of span attribute q.Key in the
// range, sorted.
func (p *Pickers) AttributeValues(ctx context.Context, q PickerQuery) ([]string, error) {
	if q.Key == "" {
		return nil, fmt.Errorf("%w: key is required to list attribute values", ErrInvalidFilter)
	}
	return p.list(ctx, q, "attribute values", p.store.AttributeValues)
}

func (p *Pickers) list(ctx context.Context, q PickerQuery, what string,
	read func(context.Context, storage.PickerFilter) ([]string, error)) ([]string, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	out, err := read(ctx, q.filter())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}
