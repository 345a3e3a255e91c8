package collector_test

import (
	"os"
	"testing"

	"github.com/lambdascope/lambdascope/storage/chtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(benchClientEnv) != "" {
		// BenchmarkEndToEndSpans's load client needs no ClickHouse.
		os.Exit(m.Run())
	}
	chtest.Main(m)
}
