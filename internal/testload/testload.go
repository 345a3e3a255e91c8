// Package testload fits the time bounds of tests to the machine they run
// on: how loaded it is now (Factor), a bound a test asserts scaled by that
// load (Scale), and a context that ends when the test's own deadline
// nears (Context), so that a slow machine makes a test slow, not red. It
// links nothing but the standard library, so that any package's tests (the
// extension's among them) can use it.
package testload

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Factor is how many runnable tasks there are per CPU now, at least 1:
// the larger of the one-minute load average and the tasks runnable at
// this moment (the average lags a load that has just begun), over the
// CPUs. Where the load cannot be read (not Linux) it is 1.
func Factor() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 1
	}
	return factor(string(b), runtime.NumCPU())
}

// factor reads /proc/loadavg's text ("24.36 23.20 17.15 19/411 23251").
func factor(loadavg string, cpus int) float64 {
	f := strings.Fields(loadavg)
	if len(f) < 4 || cpus < 1 {
		return 1
	}
	load, _ := strconv.ParseFloat(f[0], 64)
	if run, _, ok := strings.Cut(f[3], "/"); ok {
		if n, err := strconv.Atoi(run); err == nil {
			// The reader itself is one of the runnable tasks.
			load = max(load, float64(n-1))
		}
	}
	return max(1, load/float64(cpus))
}

// Scale is d times the machine's load factor, at most limit: the bound
// an unloaded machine meets, widened as far as a loaded one needs, but
// never up to the limit where the fault a test looks for begins.
func Scale(d, limit time.Duration) time.Duration {
	return min(time.Duration(float64(d)*Factor()), limit)
}

// Context is t.Context() ended margin before the test's deadline (go test
// -timeout), so that a test that waits too long fails with its own
// message and cleans up, instead of the binary's panic; without a
// deadline it ends after fallback.
func Context(t testing.TB, margin, fallback time.Duration) context.Context {
	t.Helper()
	var ctx context.Context
	var cancel context.CancelFunc
	if d, ok := deadline(t); ok {
		ctx, cancel = context.WithDeadline(t.Context(), d.Add(-margin))
	} else {
		ctx, cancel = context.WithTimeout(t.Context(), fallback)
	}
	t.Cleanup(cancel)
	return ctx
}

// deadline is the test's deadline, where t has one.
func deadline(t testing.TB) (time.Time, bool) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return d.Deadline()
	}
	return time.Time{}, false
}
