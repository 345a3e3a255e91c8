package querybench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// IngestInterval is how often Ingest writes a batch: a collector flushes
// its batches to ClickHouse about once a second under a steady load.
const IngestInterval = time.Second

// Ingest writes demo-shaped traces (storagetest.DemoTrace: the demo's
// twelve spans in two export requests; no invocation reports, no logs)
// through a store's writer at a steady rate, one batch of IngestInterval's traces at a time
// stamped with the current time, as a collector under a live load does:
// spans and every view on them are written, and the server merges the
// parts as it would. A batch that could not start on time is late (the
// writes could not keep up), not written twice.
type Ingest struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	stats   IngestStats
	err     error
	started time.Time
}

// IngestStats is what an Ingest wrote.
type IngestStats struct {
	Batches, Late         int
	Spans                 int
	Elapsed, LongestBatch time.Duration
}

// SpansPerSecond is the rate the spans were written at.
func (s IngestStats) SpansPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Spans) / s.Elapsed.Seconds()
}

func (s IngestStats) String() string {
	return fmt.Sprintf("ingest: %d spans in %d batches over %s (%.0f spans/s), %d batches late, longest batch %s",
		s.Spans, s.Batches, s.Elapsed.Round(time.Millisecond), s.SpansPerSecond(), s.Late, s.LongestBatch.Round(time.Millisecond))
}

// StartIngest starts writing about spansPerSecond spans a second into st
// (whole traces of storagetest.SpansPerDemoTrace spans) until Stop.
func StartIngest(ctx context.Context, st *storage.Store, spansPerSecond int) (*Ingest, error) {
	traces := spansPerSecond * int(IngestInterval/time.Millisecond) / 1000 / storagetest.SpansPerDemoTrace
	if traces < 1 {
		return nil, fmt.Errorf("ingest of %d spans a second: less than one trace of %d spans a batch", spansPerSecond, storagetest.SpansPerDemoTrace)
	}
	ctx, cancel := context.WithCancel(ctx)
	in := &Ingest{cancel: cancel, done: make(chan struct{}), started: time.Now()}
	go in.run(ctx, st, traces)
	return in, nil
}

func (in *Ingest) run(ctx context.Context, st *storage.Store, traces int) {
	defer close(in.done)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 56))
	next := time.Now()
	for {
		now := time.Now()
		if wait := next.Sub(now); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		} else if late := int(-wait / IngestInterval); late > 0 {
			in.mu.Lock()
			in.stats.Late += late
			in.mu.Unlock()
			next = next.Add(time.Duration(late) * IngestInterval)
		}
		next = next.Add(IngestInterval)
		reqs := make([]*ingestv1.ExportRequest, 0, 2*traces)
		at := time.Now()
		for i := range traces {
			reqs = append(reqs, storagetest.DemoTrace(rng, at.Add(time.Duration(i)*IngestInterval/time.Duration(traces)))...)
		}
		t0 := time.Now()
		counts, err := st.WriteExports(ctx, reqs)
		took := time.Since(t0)
		in.mu.Lock()
		if err != nil && ctx.Err() == nil && in.err == nil {
			in.err = fmt.Errorf("ingest batch %d: %w", in.stats.Batches+1, err)
		}
		if err == nil {
			in.stats.Batches++
			in.stats.Spans += counts.Spans
			in.stats.LongestBatch = max(in.stats.LongestBatch, took)
		}
		in.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
	}
}

// Stats is what was written so far.
func (in *Ingest) Stats() IngestStats {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.stats
	s.Elapsed = time.Since(in.started)
	return s
}

// Stop ends the writes and waits for the batch in flight; it returns what
// was written and the first write that failed.
func (in *Ingest) Stop() (IngestStats, error) {
	in.cancel()
	<-in.done
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.stats
	s.Elapsed = time.Since(in.started)
	if in.err != nil && errors.Is(in.err, context.Canceled) {
		return s, nil
	}
	return s, in.err
}
