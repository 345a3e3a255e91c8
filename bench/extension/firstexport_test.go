package extbench

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/extension"
)

// BenchmarkFirstExport measures, from process start, the extension's first
// /event/next (start-up) and its first served OTLP/HTTP export (what a cold
// invocation of an instrumented function waits for), side by side with the
// raw-socket baseline (internal/rawext: a Go extension that binds the
// OTLP/HTTP port, registers, asks for the next event and answers exports,
// over package net with HTTP written by hand), alternating the two, with a
// hosts file like Lambda's. The ratios are the extension's p50 over the
// baseline's.
//
// With EXTBENCH_BEFORE set to a launcher built from another revision (its
// agent beside it, as in the layer), that launcher is measured in the same
// rotation too (before-*), so that a change is compared in one run.
// Every program it starts is synced to disk first (see syncFiles), as a
// layer is at rest.
func BenchmarkFirstExport(b *testing.B) {
	bins := build(b)
	raw := filepath.Join(b.TempDir(), "rawext")
	cmd := exec.CommandContext(b.Context(), "go", "build", "-trimpath", "-ldflags", layer.LDFlags, "-o", raw, "./bench/extension/internal/rawext")
	cmd.Dir = bins.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build the raw-socket baseline: %v\n%s", err, o)
	}
	before := os.Getenv("EXTBENCH_BEFORE")
	toSync := []string{raw}
	if before != "" {
		// Its agent sits beside it as in the layer.
		agent := filepath.Join(filepath.Dir(filepath.Dir(before)), filepath.FromSlash(extension.AgentPath))
		toSync = append(toSync, before, agent)
	}
	if err := syncFiles(toSync...); err != nil {
		b.Fatal(err)
	}
	api := startFakeExtensionsAPI(b)
	c := startCollector(b)
	hostsFile := filepath.Join(b.TempDir(), "hosts")
	if err := os.WriteFile(hostsFile, []byte("127.0.0.1 localhost\n::1 localhost\n127.0.0.1 sandbox.localdomain\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_RUNTIME_API=" + api.addr,
		"AWS_LAMBDA_FUNCTION_NAME=bench",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_REGION=us-east-1",
		"LAMBDASCOPE_ENDPOINT=" + c.addr,
		"LAMBDASCOPE_API_KEY=bench-key",
		extension.HostsFileEnv + "=" + hostsFile,
	}
	type side struct {
		name, path       string
		next, ready, gap []float64
	}
	sides := []*side{{name: "ext", path: bins.extension}, {name: "raw", path: raw}}
	if before != "" {
		sides = append(sides, &side{name: "before", path: before})
	}
	// Every order of the sides in turn, so that each follows each other
	// side as often: an extension's run leaves the collector work to do
	// (its shutdown's batch), which the next run shares the CPU with, and
	// a plain rotation would always put the same side after the baseline,
	// which leaves none.
	orders := permutations(len(sides))
	for i := 0; b.Loop(); i++ {
		for _, k := range orders[i%len(orders)] {
			s := sides[k]
			httpAddr := freeAddr(b)
			e := append(slices.Clone(env), "LAMBDASCOPE_OTLP_GRPC_ADDR="+freeAddr(b), "LAMBDASCOPE_OTLP_HTTP_ADDR="+httpAddr)
			n, r := api.startToFirstNext(b, s.path, e, httpAddr)
			s.next, s.ready = append(s.next, ms(n)), append(s.ready, ms(r))
			s.gap = append(s.gap, ms(r-n))
		}
	}
	p50 := map[string][2]float64{}
	b.ReportMetric(0, "ns/op")
	for _, s := range sides {
		p50[s.name] = [2]float64{percentile(s.next, 0.5), percentile(s.ready, 0.5)}
		b.ReportMetric(p50[s.name][0], s.name+"-next-p50-ms")
		b.ReportMetric(p50[s.name][1], s.name+"-ready-p50-ms")
		b.ReportMetric(percentile(s.ready, 0.9), s.name+"-ready-p90-ms")
		// What the program takes, once it has asked for its first event,
		// to answer an export sent then: the start it shares with any
		// extension left out.
		b.ReportMetric(percentile(s.gap, 0.5), s.name+"-gap-p50-ms")
	}
	b.ReportMetric(p50["ext"][0]/p50["raw"][0], "next-ratio-p50")
	b.ReportMetric(p50["ext"][1]/p50["raw"][1], "ready-ratio-p50")
	if before != "" {
		b.ReportMetric(p50["before"][0]/p50["raw"][0], "before-next-ratio-p50")
		b.ReportMetric(p50["before"][1]/p50["raw"][1], "before-ready-ratio-p50")
	}
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := slices.Insert(slices.Clone(p), i, n-1)
			out = append(out, q)
		}
	}
	return out
}
