package storage

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPickerSQLTextDoesNotDependOnValues(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := func(v string) PickerFilter {
		return PickerFilter{Since: since, Until: since.Add(time.Hour), FunctionName: v, Key: v, Limit: 5}
	}
	for _, expr := range []string{pickerSpanNameExpr, pickerServiceExpr, pickerAttrKeyExpr, pickerAttrValueExpr} {
		want, _ := pickerSQL("db", expr, f("x"), expr == pickerAttrValueExpr)
		for _, v := range hostileValues {
			got, args := pickerSQL("db", expr, f(v), expr == pickerAttrValueExpr)
			if got != want {
				t.Errorf("%s: text changed for %q:\n%s", expr, v, got)
			}
			if strings.Contains(got, v) {
				t.Errorf("%s: value %q reached the SQL text", expr, v)
			}
			if n := strings.Count(got, "?"); n != len(args) {
				t.Errorf("%s: %d placeholders, %d args", expr, n, len(args))
			}
		}
	}
}

func TestPickers(t *testing.T) {
	s := openStore(t)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	writeReadFixture(t, s, base)
	since, until := base.Add(-time.Minute), base.Add(5*time.Minute)
	tests := []struct {
		name string
		list func(context.Context, PickerFilter) ([]string, error)
		f    PickerFilter
		want []string
	}{
		{"span names", s.SpanNames, PickerFilter{}, []string{"POST /orders", "UPDATE accounts", "charge", "invoke billing"}},
		{"span names of function", s.SpanNames, PickerFilter{FunctionName: "billing"}, []string{"UPDATE accounts", "charge"}},
		{"span names limited", s.SpanNames, PickerFilter{Limit: 1}, []string{"POST /orders"}},
		{"services", s.ServiceNames, PickerFilter{FunctionName: "orders"}, []string{"orders"}},
		{"attribute keys", s.AttributeKeys, PickerFilter{}, []string{"db.system", "faas.trigger", "tenant"}},
		{"attribute keys of function", s.AttributeKeys, PickerFilter{FunctionName: "orders"}, []string{"faas.trigger", "tenant"}},
		{"attribute values", s.AttributeValues, PickerFilter{Key: "tenant"}, []string{"o'brien"}},
		{"attribute values hostile key", s.AttributeValues, PickerFilter{Key: "tenant' OR 1=1 --"}, nil},
		{"attribute values hostile function", s.AttributeValues, PickerFilter{Key: "tenant", FunctionName: "x' OR '1'='1"}, nil},
		{"outside range", s.SpanNames, PickerFilter{Since: base.Add(-48 * time.Hour), Until: base.Add(-24 * time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			if f.Since.IsZero() {
				f.Since, f.Until = since, until
			}
			got, err := tt.list(t.Context(), f)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := s.AttributeValues(t.Context(), PickerFilter{Since: since, Until: until}); err == nil {
		t.Error("AttributeValues without key: want error")
	}
	if _, err := s.SpanNames(t.Context(), PickerFilter{}); err == nil {
		t.Error("SpanNames without range: want error")
	}
}
