package collector

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
)

// LossWriter records, per function and hour, the items the collector took
// in and did not store, so that readers can name where telemetry went
// missing (lambdascope completeness). *storage.Store is the real one; a
// BatchWriter without it loses only that record.
type LossWriter interface {
	WriteIngestLosses(ctx context.Context, losses []storage.IngestLoss) error
}

var _ LossWriter = (*storage.Store)(nil)

// ViewsAtRiskCounter says how many rows of failed inserts the store's
// materialized views may miss for good (storage.Store.ViewsAtRisk: a
// cluster insert that failed after a shard may have stored the rows, on
// servers whose retry cannot mend the views).
type ViewsAtRiskCounter interface {
	ViewsAtRisk() uint64
}

var _ ViewsAtRiskCounter = (*storage.Store)(nil)

// viewsAtRisk is the writer's ViewsAtRisk, 0 for a writer without it.
func (p *pipeline) viewsAtRisk() uint64 {
	if c, ok := p.writer.(ViewsAtRiskCounter); ok {
		return c.ViewsAtRisk()
	}
	return 0
}

// maxPendingLosses bounds the loss rows waiting to be written while
// ClickHouse does not take them; beyond it new keys are counted in the
// log only.
const maxPendingLosses = 10000

type lossKey struct {
	hour                            int64 // unix seconds of the hour
	function, signal, stage, reason string
}

// losses gathers loss rows until the next write to ClickHouse.
type losses struct {
	mu      sync.Mutex
	pending map[lossKey]uint64
}

// add counts n items of the given key; t is the items' own time.
func (l *losses) add(t time.Time, function, signal, stage, reason string, n uint64) {
	if n == 0 {
		return
	}
	k := lossKey{t.UTC().Truncate(time.Hour).Unix(), function, signal, stage, reason}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[lossKey]uint64{}
	}
	if _, ok := l.pending[k]; !ok && len(l.pending) >= maxPendingLosses {
		return
	}
	l.pending[k] += n
}

// addRequest counts every span and log record of req, by the hour of its
// own time.
func (l *losses) addRequest(req *ingestv1.ExportRequest, stage, reason string) {
	fn := req.GetFunction().GetName()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				l.add(nanoTime(sp.GetStartTimeUnixNano()), fn, sigSpans, stage, reason, 1)
			}
		}
	}
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				t := lr.GetTimeUnixNano()
				if t == 0 {
					t = lr.GetObservedTimeUnixNano()
				}
				l.add(nanoTime(t), fn, sigLogs, stage, reason, 1)
			}
		}
	}
}

func nanoTime(ns uint64) time.Time {
	return time.Unix(0, int64(min(ns, uint64(1<<63-1))))
}

// take returns the pending rows and forgets them.
func (l *losses) take() []storage.IngestLoss {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		return nil
	}
	out := make([]storage.IngestLoss, 0, len(l.pending))
	for k, n := range l.pending {
		out = append(out, storage.IngestLoss{Hour: time.Unix(k.hour, 0).UTC(), FunctionName: k.function,
			Signal: k.signal, Stage: k.stage, Reason: k.reason, Items: n})
	}
	clear(l.pending)
	return out
}

// putBack returns rows a write could not store to the pending ones.
func (l *losses) putBack(rows []storage.IngestLoss) {
	for _, r := range rows {
		l.add(r.Hour, r.FunctionName, r.Signal, r.Stage, r.Reason, r.Items)
	}
}

// flushLosses writes the pending loss rows when the writer can; rows a
// failed write did not store wait for the next one.
func (p *pipeline) flushLosses(ctx context.Context) {
	lw, ok := p.writer.(LossWriter)
	if !ok {
		return
	}
	rows := p.losses.take()
	if len(rows) == 0 {
		return
	}
	if err := lw.WriteIngestLosses(ctx, rows); err != nil {
		p.losses.putBack(rows)
		if !errors.Is(err, storage.ErrOutcomeUnknown) {
			p.log.Warn("could not record the items left out; trying again with the next write", "rows", len(rows), "err", err)
			return
		}
		// ClickHouse may have stored the rows: the next write records
		// them again, and their items may count twice (ingest_losses is
		// not deduplicated, so that equal losses of two flushes count).
		var items uint64
		for _, r := range rows {
			items += r.Items
		}
		p.m.dupRisk.WithLabelValues("loss_record_outcome_unknown").Add(float64(items))
		p.log.Warn("recording the items left out failed after the rows were sent: ClickHouse may have stored them, and the next write records them again, counting them twice",
			"rows", len(rows), "items", items, "err", err)
	}
}
