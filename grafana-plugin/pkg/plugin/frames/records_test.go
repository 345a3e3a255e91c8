package frames

import (
	"testing"

	"github.com/lambdascope/lambdascope/query"
)

// A figure the platform did not report is null in the invocations table,
// not 0.
func TestInvocationsUnknownFiguresAreNull(t *testing.T) {
	f := Invocations([]query.Invocation{
		{RequestID: "whole", DurationMs: 20.5, BilledDurationMs: 21, MemorySizeMB: 256, MaxMemoryUsedMB: 80},
		{RequestID: "mi", DurationMs: 12.3, BilledDurationMs: 13, BilledEstimated: true, MemorySizeMB: 256, MaxMemoryUsedUnknown: true, Incomplete: true},
	}, TraceLink{})
	for _, tt := range []struct {
		field string
		want  []any // nil for null
	}{
		{"duration", []any{20.5, 12.3}},
		{"billedDuration", []any{21.0, nil}},
		{"memorySize", []any{256.0, 256.0}},
		{"maxMemoryUsed", []any{80.0, nil}},
		{"incomplete", []any{false, true}},
	} {
		field, _ := f.FieldByName(tt.field)
		if field == nil {
			t.Fatalf("no field %s", tt.field)
		}
		for i, want := range tt.want {
			got, ok := field.ConcreteAt(i)
			if want == nil {
				if ok {
					t.Errorf("%s[%d] = %v, want null", tt.field, i, got)
				}
				continue
			}
			if !ok || got != want {
				t.Errorf("%s[%d] = %v, want %v", tt.field, i, got, want)
			}
		}
	}
}
