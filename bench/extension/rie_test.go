package extbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/rie"
)

// BenchmarkRIEClassic runs the benchmark function under AWS's Lambda
// Runtime Interface Emulator in classic mode, where the Telemetry API is
// not supported (the extension runs without it), with the layer zip and
// without any extension, two sandboxes side by side per run. After one
// cold invocation each, it sends 60 warm invocations to each in
// alternating blocks of 10 and reads the emulator's REPORT lines: their
// duration runs until the runtime and every extension are back on next,
// which is what Lambda bills (billed-*, whole milliseconds; duration-*, to
// the hundredth), and the caller's wall time to the answer, which this
// emulator gives only then too (wall-*). added-* = with - without.
func BenchmarkRIEClassic(b *testing.B) {
	bins := build(b)
	rieBin, err := rie.Find(bins.root)
	if err != nil {
		b.Fatal(err)
	}
	if os.Geteuid() != 0 {
		b.Fatal("sandboxes of AWS's emulator need root (a private mount namespace)")
	}
	c := startCollector(b)
	const blocks, perBlock = 6, 10
	var billed, dur, wall [2][]float64 // [0] with the layer, [1] without
	for i := 0; b.Loop(); i++ {
		sbs := [2]*rie.Sandbox{}
		for side, zip := range []string{bins.layerZip, ""} {
			sb, err := rie.Start(b.Context(), rie.Options{
				RIE:          rieBin,
				WorkDir:      filepath.Join(b.TempDir(), fmt.Sprint(side)),
				Layer:        zip,
				Bootstrap:    bins.function,
				FunctionName: fmt.Sprintf("rie-bench-%d", side),
				Timeout:      10 * time.Second,
				Env:          map[string]string{"LAMBDASCOPE_ENDPOINT": c.addr, "LAMBDASCOPE_API_KEY": "bench-key"},
			})
			if err != nil {
				b.Fatal(err)
			}
			sbs[side] = sb
		}
		var ids [2][]string
		call := func(side int, warm bool) {
			id := fmt.Sprintf("%08d-0000-4000-8000-%012d", i, len(ids[side])+side*1000)
			res, err := sbs[side].Invoke(b.Context(), rie.Invocation{RequestID: id, Payload: []byte(`{"spans":0}`)})
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("invoke: %v (status %d: %s)", err, res.StatusCode, res.Body)
			}
			if warm {
				ids[side] = append(ids[side], id)
				wall[side] = append(wall[side], ms(res.Elapsed))
			}
		}
		call(0, false)
		call(1, false)
		for k := range blocks {
			side := (i + k) % 2
			for range perBlock {
				call(side, true)
			}
			for range perBlock {
				call(1-side, true)
			}
		}
		for side, sb := range sbs {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := sb.Shutdown(ctx)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			reports := sb.Reports()
			for _, id := range ids[side] {
				rep, ok := reports[id]
				if !ok {
					b.Fatalf("no REPORT for %s", id)
				}
				billed[side] = append(billed[side], rep.BilledDurationMs)
				dur[side] = append(dur[side], rep.DurationMs)
			}
		}
	}
	b.ReportMetric(0, "ns/op")
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p99", 0.99}} {
		with, without := percentile(billed[0], p.q), percentile(billed[1], p.q)
		b.ReportMetric(with, "billed-"+p.name+"-ms")
		b.ReportMetric(without, "baseline-billed-"+p.name+"-ms")
		b.ReportMetric(with-without, "added-billed-"+p.name+"-ms")
		b.ReportMetric(percentile(dur[0], p.q)-percentile(dur[1], p.q), "added-duration-"+p.name+"-ms")
		w, wo := percentile(wall[0], p.q), percentile(wall[1], p.q)
		b.ReportMetric(w-wo, "added-wall-"+p.name+"-ms")
	}
	b.ReportMetric(percentile(billed[0], 1), "billed-max-ms")
}
