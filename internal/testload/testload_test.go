package testload

import (
	"testing"
	"time"
)

func TestFactor(t *testing.T) {
	for _, tc := range []struct {
		loadavg string
		cpus    int
		want    float64
	}{
		{"0.50 0.40 0.30 1/200 123", 2, 1},
		{"24.36 23.20 17.15 19/411 23251", 2, 12.18},
		// Six busy loops started a moment ago: the average has not caught up.
		{"1.20 0.80 0.50 9/300 99", 2, 4},
		{"garbage", 2, 1},
		{"", 4, 1},
	} {
		if got := factor(tc.loadavg, tc.cpus); got != tc.want {
			t.Errorf("factor(%q, %d) = %v, want %v", tc.loadavg, tc.cpus, got, tc.want)
		}
	}
}

func TestScaleKeepsToTheLimit(t *testing.T) {
	if got := Scale(time.Second, 500*time.Millisecond); got != 500*time.Millisecond {
		t.Errorf("Scale(1s, 500ms) = %v, want the limit", got)
	}
	if got := Scale(time.Millisecond, time.Hour); got < time.Millisecond {
		t.Errorf("Scale(1ms, 1h) = %v, want at least 1ms", got)
	}
}

func TestContextEndsBeforeTheDeadline(t *testing.T) {
	ctx := Context(t, time.Second, time.Minute)
	d, ok := ctx.Deadline()
	if !ok {
		t.Fatal("no deadline")
	}
	if td, ok := t.Deadline(); ok && !d.Before(td) {
		t.Errorf("context deadline %v is not before the test's %v", d, td)
	}
}
