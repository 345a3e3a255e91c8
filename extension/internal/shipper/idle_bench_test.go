package shipper

import (
	"context"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
)

// BenchmarkFirstFlushAfterIdle measures the first flush after the
// connection idled past idlePing (as across a long freeze), with the
// default configuration, on a connection that died silently meanwhile
// ("dead": a relay drops its bytes both ways) and on one that is alive;
// "ping" is the shipper as it is, "no-ping" without the keepalive ping (as
// before it). Each op idles idlePing+1 s outside the timer; ms/flush is
// the flush alone. The sub-benchmarks alternate within each -count round.
func BenchmarkFirstFlushAfterIdle(b *testing.B) {
	for _, conn := range []string{"dead", "alive"} {
		for _, mode := range []string{"no-ping", "ping"} {
			b.Run(conn+"/"+mode, func(b *testing.B) {
				var total time.Duration
				for b.Loop() {
					total += firstFlushAfterIdle(b, conn == "dead", mode == "no-ping")
				}
				b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/flush")
			})
		}
	}
}

// firstFlushAfterIdle connects, idles past idlePing (timer stopped),
// kills the connection when dead is set, and times the next flush.
func firstFlushAfterIdle(b *testing.B, dead, noPing bool) time.Duration {
	b.StopTimer()
	srv := collectortest.Start(b)
	r := startRelay(b, srv.Addr)
	buf := buffer.New(1<<20, 1<<20, nil)
	cfg := DefaultConfig()
	cfg.Endpoint, cfg.Identity, cfg.Interval, cfg.noIdlePing = r.addr(), identity, 0, noPing
	s, err := New(cfg, buf, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background()) }()
	addWork(buf, "req-1")
	if err := s.Flush(b.Context()); err != nil {
		b.Fatal(err)
	}
	waitStarted := time.Now()
	time.Sleep(idleLonger)
	if dead {
		r.blackHole(false)
	}
	s.Resumed(waitStarted)
	addWork(buf, "req-2")
	b.StartTimer()
	start := time.Now()
	err = s.Flush(b.Context())
	took := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if n := len(srv.Accepted()); n != 2 {
		b.Fatalf("%d batches accepted, want 2", n)
	}
	b.StartTimer()
	return took
}
