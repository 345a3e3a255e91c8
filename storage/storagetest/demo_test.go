package storagetest

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// TestDemoLogRequestIsWhole holds DemoLogRequest to exactly the records
// asked for, every one of which the writer stores: a benchmark divides by
// that number.
func TestDemoLogRequestIsWhole(t *testing.T) {
	for _, n := range []int{1, 5, 999, 1000} {
		req := DemoLogRequest(rand.New(rand.NewPCG(1, 2)), time.Unix(1_780_000_000, 0), n, n%2 == 0)
		var c dbmodel.LogColumns
		c.AppendExport(req)
		if c.Len() != n || c.Rejected != 0 {
			t.Errorf("n=%d: %d rows, %d rejected", n, c.Len(), c.Rejected)
		}
		if c.Len() > 0 && (c.RequestID[0] == "" || c.FunctionName[0] == "") {
			t.Errorf("n=%d: first row without request ID or function: %q, %q", n, c.RequestID[0], c.FunctionName[0])
		}
	}
}
