package emulator

import (
	"testing"
	"time"
)

// TestPhaseLimitsDefaultToLambdas: unset, INIT is bounded at 10 s and
// SHUTDOWN at 2000 ms, as on Lambda; set, the values are kept.
func TestPhaseLimitsDefaultToLambdas(t *testing.T) {
	c := Config{}.withDefaults()
	if c.InitTimeout != 10*time.Second || c.ShutdownDeadline != 2000*time.Millisecond {
		t.Errorf("defaults: init %v, shutdown %v; want 10s and 2s", c.InitTimeout, c.ShutdownDeadline)
	}
	c = Config{InitTimeout: time.Minute, ShutdownDeadline: 20 * time.Second}.withDefaults()
	if c.InitTimeout != time.Minute || c.ShutdownDeadline != 20*time.Second {
		t.Errorf("set: init %v, shutdown %v; want 1m and 20s", c.InitTimeout, c.ShutdownDeadline)
	}
}
