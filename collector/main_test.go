package collector_test

import (
	"os"
	"testing"

	"github.com/lambdascope/lambdascope/storage/chtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(benchClientEnv) != "" || os.Getenv(floodClientEnv) != "" {
		// The benchmarks' load and flood clients need no ClickHouse.
		os.Exit(m.Run())
	}
	chtest.Main(m)
}
