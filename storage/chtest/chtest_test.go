package chtest

import (
	"flag"
	"testing"
)

// runFunc is a runner made of a function.
type runFunc func() int

func (f runFunc) Run() int { return f() }

// TestNoServerInFuzzWorkers: a worker of go test -fuzz runs its fuzz
// target without starting a ClickHouse server (every worker of a package
// started one, seconds each on a loaded machine, and a worker whose server
// did not start ended the fuzzing run with no input to show).
func TestNoServerInFuzzWorkers(t *testing.T) {
	f := flag.Lookup("test.fuzzworker")
	if f == nil {
		t.Fatal("testing has no -test.fuzzworker flag")
	}
	old := f.Value.String()
	if err := flag.Set("test.fuzzworker", "true"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set("test.fuzzworker", old) })
	ran := false
	code := run(runFunc(func() int {
		ran = true
		if server != nil {
			t.Error("a fuzz worker's target runs beside a ClickHouse server")
		}
		return 3
	}))
	if !ran || code != 3 {
		t.Errorf("run: the tests ran %v, exit code %d; want them run and their code 3", ran, code)
	}
	if server != nil {
		t.Error("a server is left after run")
	}
}
