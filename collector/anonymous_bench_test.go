package collector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // the anonymous gRPC requests are gzip-compressed
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/internal/freeport"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// Knobs of BenchmarkCollectorMemoryAnonymous, from the environment.
const (
	anonConcurrentEnv = "LAMBDASCOPE_BENCH_ANON_CONCURRENT" // requests at once per wave (60)
	anonWavesEnv      = "LAMBDASCOPE_BENCH_ANON_WAVES"      // waves per protocol (3)
	anonSteadyEnv     = "LAMBDASCOPE_BENCH_STEADY_REQUESTS" // authenticated requests of 1,000 spans (600)
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// procMemory reads a process's resident set size and its peak (VmRSS,
// VmHWM) in bytes.
func procMemory(pid int) (rss, hwm uint64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// rssSampler samples a process's resident set size every 100 ms until
// stopped, and returns the highest and the median sample.
func rssSampler(pid int) (stop func() (peak, median uint64)) {
	done := make(chan struct{})
	var samples []uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			rss, _ := procMemory(pid)
			samples = append(samples, rss)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
		return samples[len(samples)-1], samples[len(samples)/2]
	}
}

// anonymousTraces is an OTLP traces request of about 15 MiB, one span
// with a 15 MiB name, which gzip takes to about 15 KB.
func anonymousTraces() *coltracepb.ExportTraceServiceRequest {
	req := otlpTraces([16]byte{0xa, 0x0, 0x0, 0xe}, 1)
	req.ResourceSpans[0].ScopeSpans[0].Spans[0].Name = strings.Repeat("a", 15<<20)
	return req
}

// BenchmarkCollectorMemoryAnonymous runs the collector binary with an API
// key and measures its resident memory (VmRSS of the process, sampled
// every 100 ms): idle; under steady authenticated load (requests of 1,000
// spans from 8 senders, the median and peak); then in waves of 60 (by
// default) concurrent requests without an API key, each about 15 KB of gzip
// that decompresses to 15 MiB, first over gRPC, then over OTLP/HTTP, the
// peak of each; and 5 s after the last wave. Every anonymous request must
// be refused. A collector that reads and decodes a body before checking
// the key holds up to 60 × 15 MiB at once; one that checks the key first,
// or bounds what in-flight requests may hold, stays near its steady state.
// Run with -benchtime 1x (bench/collector/anonymous-memory.sh).
func BenchmarkCollectorMemoryAnonymous(b *testing.B) {
	concurrent, waves, steady := envInt(anonConcurrentEnv, 60), envInt(anonWavesEnv, 3), envInt(anonSteadyEnv, 600)
	bin := filepath.Join(b.TempDir(), "lambdascope-collector")
	if out, err := execCommand(b.Context(), "go", "build", "-o", bin, "./cmd/lambdascope-collector").CombinedOutput(); err != nil {
		b.Fatalf("build collector: %v\n%s", err, out)
	}
	dsn, db := chtest.NewDatabase(b)
	b.Cleanup(func() {
		// Many rows: drop them here, without the short deadline of the
		// test database's own cleanup.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := chtest.Conn(b).Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			b.Errorf("drop %s: %v", db, err)
		}
	})
	addrs := make([]string, 3)
	for i := range addrs {
		a, err := freeport.Addr()
		if err != nil {
			b.Fatal(err)
		}
		addrs[i] = a
	}
	grpcAddr, httpAddr, adminAddr := addrs[0], addrs[1], addrs[2]
	cfgPath := filepath.Join(b.TempDir(), "collector.yaml")
	cfgYAML := fmt.Sprintf("grpc_addr: %s\nhttp_addr: %s\nadmin_addr: %s\nclickhouse_dsn: %s\napi_key_sha256: [%s]\ndata_dir: %s\n",
		grpcAddr, httpAddr, adminAddr, dsn, collector.HashAPIKey(apiKey), b.TempDir())
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		b.Fatal(err)
	}
	proc := startCollector(b, bin, cfgPath)
	pid := proc.cmd.Process.Pid
	ready := time.Now().Add(2 * time.Minute)
	for {
		if resp, err := http.Get("http://" + adminAddr + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(ready) {
			b.Fatalf("collector not ready after 2 minutes:\n%s", proc.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	const mib = 1 << 20
	// One log entry at the end: the framework keeps only a benchmark's
	// first 10 lines, and errors must not be cut.
	var summary strings.Builder
	defer func() { b.Log("\n" + summary.String()) }()
	report := func(name string, v uint64) {
		b.ReportMetric(float64(v)/mib, name+"-MiB")
		fmt.Fprintf(&summary, "%-28s %7.1f MiB\n", name, float64(v)/mib)
	}
	time.Sleep(2 * time.Second)
	idle, _ := procMemory(pid)
	report("rss-idle", idle)

	// Steady state: authenticated spans.
	stop := rssSampler(pid)
	l := &load{trace: [16]byte{0x57, 0xea, 0xd1}, perReq: 1000}
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	defer cancel()
	if err := l.run(ctx, 8, int64(steady), func() string { return grpcAddr }); err != nil {
		b.Fatalf("steady load: %v", err)
	}
	peak, median := stop()
	report("rss-steady-median", median)
	report("rss-steady-peak", peak)

	// Anonymous waves over gRPC: the client compresses each request.
	req := anonymousTraces()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.UseCompressor("gzip")))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := coltracepb.NewTraceServiceClient(conn)
	var accepted, failed sync.Map
	wave := func(send func(i int) error) {
		var wg sync.WaitGroup
		for i := range concurrent {
			wg.Go(func() {
				if err := send(i); err == nil {
					accepted.Store(i, true)
				} else {
					failed.Store(err.Error()[:min(len(err.Error()), 120)], true)
				}
			})
		}
		wg.Wait()
	}
	stop = rssSampler(pid)
	for range waves {
		wave(func(int) error {
			ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
			defer cancel()
			_, err := client.Export(ctx, req)
			return err
		})
	}
	peak, _ = stop()
	report("rss-anonymous-grpc-peak", peak)

	// Anonymous waves over OTLP/HTTP: one gzip body, sent by all.
	raw, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	var gzBody bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gzBody, gzip.BestCompression)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	fmt.Fprintf(&summary, "each anonymous request: %d bytes of protobuf, %d bytes of gzip\n", len(raw), gzBody.Len())
	httpClient := &http.Client{Timeout: time.Minute}
	stop = rssSampler(pid)
	for range waves {
		wave(func(int) error {
			r, err := http.NewRequestWithContext(b.Context(), http.MethodPost, "http://"+httpAddr+"/v1/traces", bytes.NewReader(gzBody.Bytes()))
			if err != nil {
				return err
			}
			r.Header.Set("Content-Type", "application/x-protobuf")
			r.Header.Set("Content-Encoding", "gzip")
			resp, err := httpClient.Do(r)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		})
	}
	peak, _ = stop()
	report("rss-anonymous-http-peak", peak)

	time.Sleep(5 * time.Second)
	after, hwm := procMemory(pid)
	report("rss-5s-after", after)
	report("rss-high-water", hwm)
	n := 0
	accepted.Range(func(any, any) bool { n++; return true })
	if n > 0 {
		b.Errorf("%d anonymous requests were accepted; want all refused", n)
	}
	failed.Range(func(k, _ any) bool { fmt.Fprintf(&summary, "refused: %s\n", k); return true })
}
