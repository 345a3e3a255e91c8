package query_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
)

func TestPickers(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	tr := querytest.WriteTwoFunctionTrace(t, st)
	p := query.NewPickers(st)
	r := query.TimeRange{Since: tr.Start.Add(-time.Minute), Until: tr.Start.Add(time.Minute)}
	tests := []struct {
		name string
		list func(context.Context, query.PickerQuery) ([]string, error)
		q    query.PickerQuery
		want []string
	}{
		{"span names", p.SpanNames, query.PickerQuery{TimeRange: r}, []string{"POST /orders", "UPDATE accounts", "charge", "invoke billing"}},
		{"span names of function", p.SpanNames, query.PickerQuery{TimeRange: r, FunctionName: " billing "}, []string{"UPDATE accounts", "charge"}},
		{"span names limited", p.SpanNames, query.PickerQuery{TimeRange: r, Limit: 2}, []string{"POST /orders", "UPDATE accounts"}},
		{"services", p.ServiceNames, query.PickerQuery{TimeRange: r}, []string{"billing", "orders-api"}},
		{"attribute keys", p.AttributeKeys, query.PickerQuery{TimeRange: r}, []string{"faas.invoked_name"}},
		{"attribute values", p.AttributeValues, query.PickerQuery{TimeRange: r, Key: "faas.invoked_name"}, []string{"billing"}},
		{"hostile function", p.SpanNames, query.PickerQuery{TimeRange: r, FunctionName: "billing' OR '1'='1"}, []string{}},
		{"hostile key", p.AttributeValues, query.PickerQuery{TimeRange: r, Key: "k') OR 1=1 --"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.list(t.Context(), tt.q)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	bad := []struct {
		name string
		list func(context.Context, query.PickerQuery) ([]string, error)
		q    query.PickerQuery
	}{
		{"no range", p.SpanNames, query.PickerQuery{}},
		{"limit too high", p.AttributeKeys, query.PickerQuery{TimeRange: r, Limit: query.MaxPickerLimit + 1}},
		{"no key", p.AttributeValues, query.PickerQuery{TimeRange: r}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.list(t.Context(), tt.q); !errors.Is(err, query.ErrInvalidFilter) {
				t.Errorf("err = %v, want ErrInvalidFilter", err)
			}
		})
	}
}
