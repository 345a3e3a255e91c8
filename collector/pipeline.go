package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// Errors the pipeline returns; receivers map them to gRPC and HTTP statuses
// in one place (status.go).
var (
	// errInvalidBatch marks a request that will never be accepted.
	errInvalidBatch = errors.New("invalid batch")
	// errTooManyItems marks a request over max_batch_items.
	errTooManyItems = errors.New("too many items")
	// errInFlight: the same batch ID is being written right now.
	errInFlight = errors.New("a batch with this batch_id is being written; retry later")
	// errStorage: ClickHouse refused the write and there is no WAL.
	errStorage = errors.New("store batch")
	// errBusy: the caller gave up while waiting for a place in the queue.
	errBusy = errors.New("collector busy")
	// errQueueTimeout: no writer took the batch within write_timeout.
	errQueueTimeout = fmt.Errorf("%w: no insert took the batch within write_timeout; retry later", errBusy)
	// errStopping: the collector is shutting down.
	errStopping = errors.New("collector is shutting down")
)

// result is what the pipeline tells the receiver about an accepted request.
type result struct {
	duplicate bool
	counts    storage.WriteCounts
}

type job struct {
	req   *ingestv1.ExportRequest
	spans *spanDecode // the request's spans and log records in columns, or nil
	items itemCounts
	done  chan jobResult
	// deadline is when the job is abandoned if no writer took it yet
	// (write_timeout after it was submitted).
	deadline time.Time
	// state: jobQueued until a writer takes it (jobTaken) or its waiter
	// abandons it at its deadline (jobAbandoned), whichever comes first:
	// an abandoned job is never written.
	state atomic.Int32
}

const (
	jobQueued int32 = iota
	jobTaken
	jobAbandoned
)

// take claims j for a writer; false: j was abandoned, and is skipped.
func (j *job) take() bool { return j.state.CompareAndSwap(jobQueued, jobTaken) }

// abandon gives up j when no writer took it yet, and drops its request
// (the queue may keep j until a writer skips it); false: a writer took it,
// and its insert ends within write_timeout.
func (j *job) abandon() bool {
	if !j.state.CompareAndSwap(jobQueued, jobAbandoned) {
		return false
	}
	j.req, j.spans = nil, nil
	return true
}

type jobResult struct {
	counts storage.WriteCounts
	err    error
}

// pipeline takes validated requests to ClickHouse: directly through the
// batching writer while ClickHouse answers and the WAL is empty, through the
// WAL otherwise. The WAL replayer drains it in order.
type pipeline struct {
	cfg    Config
	writer BatchWriter
	wal    *wal
	quar   *quarantine // nil without a data_dir
	dedup  *dedup
	log    *slog.Logger
	m      *metrics
	stats  *counters
	tracer trace.Tracer

	queue     chan *job
	walNotify chan struct{}
	connected chan struct{} // the store was opened: replay now
	stop      chan struct{}
	closing   atomic.Bool
	down      atomic.Bool
	sendMu    sync.RWMutex // held for reading while sending on queue
	writers   sync.WaitGroup
	replayer  sync.WaitGroup
	// shadows are the WAL records acknowledged before their direct
	// insert ended (wal.ack_after); settling waits for those inserts.
	shadows  *shadows
	settling sync.WaitGroup
	walAcks  *prometheus.CounterVec // outcome
	// queueTimeouts counts batches no writer took within write_timeout,
	// by outcome; queueLog limits their log lines.
	queueTimeouts *prometheus.CounterVec
	queueLog      logLimiter
	closeOnce     sync.Once

	quarantined atomic.Uint64
	// losses are the items left out since the last write, recorded in
	// ClickHouse with the next one.
	losses losses
	// The WAL's head batch and how many times in a row ClickHouse refused
	// it for a reason a retry may cure; the replayer's alone.
	refusedID [16]byte
	refusals  int
}

func newPipeline(cfg Config, w BatchWriter, log *slog.Logger, stats *counters) (*pipeline, error) {
	p := &pipeline{
		cfg: cfg, writer: w, log: log, stats: stats,
		dedup:     newDedup(cfg.DedupWindow),
		shadows:   newShadows(),
		queue:     make(chan *job, cfg.Batch.QueueSize),
		walNotify: make(chan struct{}, 1),
		connected: make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	if dir := cfg.QuarantineDir(); dir != "" {
		p.quar = newQuarantine(dir, cfg.Quarantine.MaxBytes)
	}
	if walDir := cfg.WALDir(); walDir != "" {
		wl, ids, err := openWAL(walDir, cfg.WAL.MaxBytes, cfg.WAL.SegmentBytes)
		if err != nil {
			return nil, err
		}
		p.wal = wl
		// Batches acknowledged before a restart: a retry of one is a
		// duplicate. Those recorded in the dedup log first, then those still
		// in the WAL.
		loaded, err := p.dedup.persist(walDir, log)
		if err != nil {
			return nil, errors.Join(err, wl.close())
		}
		p.dedup.seed(ids)
		shadowed, err := p.shadows.open(walDir, ids, log)
		if err != nil {
			return nil, errors.Join(err, wl.close(), p.dedup.close())
		}
		if shadowed > 0 {
			log.Info("WAL holds batches stored directly before the restart; the replay skips them", "batches", shadowed, "file", filepath.Join(walDir, storedDirectFile))
		}
		if loaded > 0 {
			log.Info("remembering batch IDs stored before the restart", "batches", loaded, "file", filepath.Join(walDir, dedupLogFile))
		}
		if len(ids) > 0 {
			log.Info("WAL holds batches from before the restart; replaying them", "batches", len(ids), "dir", walDir)
		}
		p.m = newMetrics(func() (int, int64) { return wl.depth() }, p.viewsAtRisk)
	} else {
		p.m = newMetrics(nil, p.viewsAtRisk)
	}
	p.walAcks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lambdascope_collector_wal_acks_total",
		Help: "Batches acknowledged from the WAL after wal.ack_after while their direct insert went on (acked), and how that insert ended: stored_directly (the WAL record is skipped), insert_failed (the WAL replays the batch); skipped_on_replay: WAL records consumed without an insert as their direct insert stored them (also after a restart); wal_refused: the WAL could not take the batch, busy: wal.ack_max_pending batches were being acknowledged so already; these two waited for their insert.",
	}, []string{"outcome"})
	p.queueTimeouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lambdascope_collector_queue_timeouts_total",
		Help: "Batches no insert took within write_timeout (waiting for a place in the insert queue or for a writer), by outcome: to_wal (put in the WAL and acknowledged), refused (the sender was told to retry; never stored by this collector), wal_replays (acknowledged from the WAL before; the WAL replays it). The insert never runs for them.",
	}, []string{"outcome"})
	p.m.reg.MustRegister(p.walAcks, p.queueTimeouts)
	return p, nil
}

func (p *pipeline) start() {
	for range p.cfg.Batch.Parallelism {
		p.writers.Add(1)
		go p.writeLoop()
	}
	if p.wal != nil {
		p.replayer.Add(1)
		go p.replayLoop()
	}
}

// close drains the queue, stops the replayer and closes the WAL. Callers
// must have stopped submitting (the receivers are shut down first).
func (p *pipeline) close() error {
	var err error
	p.closeOnce.Do(func() {
		p.closing.Store(true)
		p.sendMu.Lock()
		close(p.queue)
		p.sendMu.Unlock()
		p.writers.Wait()
		p.settling.Wait()
		close(p.stop)
		p.replayer.Wait()
		if p.wal != nil {
			err = errors.Join(p.wal.close(), p.dedup.close(), p.shadows.close())
		}
		if p.quar != nil {
			err = errors.Join(err, p.quar.close())
		}
	})
	return err
}

// submit stores req, with its spans and log records in columns if it came
// with them, or puts it in the WAL, and says what was accepted.
func (p *pipeline) submit(ctx context.Context, req *ingestv1.ExportRequest, spans *spanDecode) (result, error) {
	items := countItems(req)
	items.spans += spans.spanItems()
	items.logs += spans.logItems()
	ctx, span := p.startSpan(ctx, "collector.submit", attribute.Int("items", items.total()))
	defer span.End()
	p.m.addItems(p.m.received, items)
	if n := items.total(); n > p.cfg.MaxBatchItems {
		p.m.addItems(p.m.rejected, items, "too_many_items")
		p.m.batches.WithLabelValues("rejected").Inc()
		p.stats.rejected.Add(1)
		p.log.Warn("rejected request over max_batch_items", "items", n, "max_batch_items", p.cfg.MaxBatchItems)
		return result{}, fmt.Errorf("%w: the request has %d items, the limit is %d (max_batch_items); split it", errTooManyItems, n, p.cfg.MaxBatchItems)
	}
	lim := attrLimiter{maxKey: p.cfg.MaxAttributeKeyBytes, maxValue: p.cfg.MaxAttributeValueBytes}
	lim.apply(req)
	if spans != nil {
		lim.dropped += spans.attrs.dropped
		lim.truncated += spans.attrs.truncated
	}
	if lim.dropped > 0 || lim.truncated > 0 {
		p.m.dropped.WithLabelValues("attributes", "key_too_long").Add(float64(lim.dropped))
		p.m.truncated.Add(float64(lim.truncated))
		p.log.Warn("attribute limits applied", "dropped_long_keys", lim.dropped, "truncated_values", lim.truncated,
			"max_attribute_key_bytes", p.cfg.MaxAttributeKeyBytes, "max_attribute_value_bytes", p.cfg.MaxAttributeValueBytes)
	}
	fl := fieldLimiter{lim: p.cfg.Fields}
	fl.apply(req)
	if spans != nil {
		for field, n := range spans.fields.cut {
			if fl.cut == nil {
				fl.cut = map[string]int{}
			}
			fl.cut[field] += n
		}
		fl.largest = max(fl.largest, spans.fields.largest)
	}
	if len(fl.cut) > 0 {
		for field, n := range fl.cut {
			p.m.truncatedFields.WithLabelValues(field).Add(float64(n))
		}
		p.log.Warn("field limits applied: values cut and marked", "cut", fl.cut, "largest_bytes", fl.largest,
			"name_bytes", p.cfg.Fields.NameBytes, "status_message_bytes", p.cfg.Fields.StatusMessageBytes,
			"log_body_bytes", p.cfg.Fields.LogBodyBytes, "other_bytes", p.cfg.Fields.OtherBytes)
	}
	var id [16]byte
	copy(id[:], req.GetBatchId())
	switch p.dedup.claim(id) {
	case alreadyStored:
		p.stats.duplicates.Add(1)
		p.m.batches.WithLabelValues("duplicate").Inc()
		return result{duplicate: true}, nil
	case inFlight:
		return result{}, errInFlight
	}
	res, err := p.store(ctx, req, spans, id, items)
	p.dedup.finish(id, err == nil)
	if err != nil {
		p.stats.failed.Add(1)
		p.m.batches.WithLabelValues("failed").Inc()
		p.m.addItems(p.m.rejected, items, "not_stored")
		return res, err
	}
	p.m.batches.WithLabelValues("accepted").Inc()
	return res, nil
}

func (p *pipeline) store(ctx context.Context, req *ingestv1.ExportRequest, spans *spanDecode, id [16]byte, items itemCounts) (result, error) {
	accepted := result{counts: storage.WriteCounts{
		Spans: items.spans, Logs: items.logs, MetricPoints: items.points, Invocations: items.invocations,
	}}
	if p.wal != nil && (p.down.Load() || p.walPending()) {
		return accepted, p.toWAL(withSpanMessages(req, spans), id)
	}
	var ackAfter <-chan time.Time
	if p.wal != nil && p.cfg.WAL.AckAfter > 0 && items.total() <= p.cfg.WAL.AckMaxItems {
		t := time.NewTimer(p.cfg.WAL.AckAfter)
		defer t.Stop()
		ackAfter = t.C
	}
	// A batch no writer took within write_timeout is given up (job.abandon):
	// every wait is bounded, in the queue as in the insert.
	j := &job{req: req, spans: spans, items: items, done: make(chan jobResult, 1), deadline: time.Now().Add(p.cfg.WriteTimeout)}
	if err := p.enqueue(ctx, j); err != nil {
		if errors.Is(err, errQueueTimeout) {
			return p.queueTimedOut(req, spans, id, accepted)
		}
		return result{}, err
	}
	// The write runs to its end even if the caller gives up: cutting it
	// off half-way would leave part of the batch stored.
	deadline := time.NewTimer(time.Until(j.deadline))
	defer deadline.Stop()
	var r jobResult
	select {
	case r = <-j.done:
	case <-deadline.C:
		if !j.abandon() {
			r = <-j.done
			break
		}
		return p.queueTimedOut(req, spans, id, accepted)
	case <-ackAfter:
		// Taken by a writer or still queued for one (a burst of cold
		// starts keeps every writer busy): a small batch either way, and
		// at most wal.ack_max_pending of them at a time.
		if p.ackFromWAL(ctx, j, id) {
			return accepted, nil
		}
		r = p.await(j)
		if errors.Is(r.err, errQueueTimeout) {
			return p.queueTimedOut(req, spans, id, accepted)
		}
	}
	if r.err == nil {
		return result{counts: r.counts}, nil
	}
	if errors.Is(r.err, storage.ErrRefusedPermanent) {
		// Retrying cannot help: set it aside and acknowledge it, as the
		// WAL would.
		if p.toQuarantine(withSpanMessages(req, spans), id, "refused_permanent", r.err) == nil {
			return accepted, nil
		}
	}
	if p.wal == nil {
		p.log.Error("store batch failed; the sender will retry", "batch_id", fmt.Sprintf("%x", id), "err", r.err)
		return result{}, fmt.Errorf("%w: %v", errStorage, r.err)
	}
	return accepted, p.toWAL(withSpanMessages(req, spans), id)
}

func (p *pipeline) enqueue(ctx context.Context, j *job) error {
	p.sendMu.RLock()
	defer p.sendMu.RUnlock()
	if p.closing.Load() {
		return errStopping
	}
	select {
	case p.queue <- j:
		return nil
	default:
	}
	t := time.NewTimer(time.Until(j.deadline))
	defer t.Stop()
	select {
	case p.queue <- j:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waited for a place in the insert queue until the request ended: %v", errBusy, ctx.Err())
	case <-t.C:
		return errQueueTimeout
	}
}

// await waits for j's insert; a job no writer took by its deadline is
// abandoned and ends with errQueueTimeout.
func (p *pipeline) await(j *job) jobResult {
	t := time.NewTimer(time.Until(j.deadline))
	defer t.Stop()
	select {
	case r := <-j.done:
		return r
	case <-t.C:
		if j.abandon() {
			return jobResult{err: errQueueTimeout}
		}
		return <-j.done
	}
}

// queueTimedOut answers a batch no insert took within write_timeout: it
// goes to the WAL and is acknowledged when there is one, or is refused,
// retryable. Either way it is counted and logged, and no writer stores it.
func (p *pipeline) queueTimedOut(req *ingestv1.ExportRequest, spans *spanDecode, id [16]byte, accepted result) (result, error) {
	outcome, err := "refused", errQueueTimeout
	if p.wal != nil {
		if err = p.toWAL(withSpanMessages(req, spans), id); err == nil {
			outcome = "to_wal"
		}
	}
	p.queueTimeouts.WithLabelValues(outcome).Inc()
	if p.queueLog.allow() {
		p.log.Warn("no insert took a batch within write_timeout", "outcome", outcome, "batch_id", fmt.Sprintf("%x", id),
			"write_timeout", p.cfg.WriteTimeout, "queue_size", p.cfg.Batch.QueueSize, "parallelism", p.cfg.Batch.Parallelism)
	}
	if err != nil {
		return result{}, err
	}
	return accepted, nil
}

// logLimiter lets one log line through every 10 s, so that a flood does
// not flood the log too; the counters count every event.
type logLimiter struct {
	mu   sync.Mutex
	last time.Time
}

func (l *logLimiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.last) < 10*time.Second {
		return false
	}
	l.last = now
	return true
}

// walPending reports whether the WAL holds batches waiting for the
// replayer: those acknowledged while their direct insert runs or after it
// stored them are not (shadows).
func (p *pipeline) walPending() bool {
	n, _ := p.wal.depth()
	return n > p.shadows.count()
}

// maxShadowed is how many batches may be acknowledged from the WAL while
// their inserts run or wait for a writer (wal.ack_max_pending): each costs
// encoding its spans again for the WAL and an fsync, which under a steady
// load past wal.ack_after would be every batch's; the batches over it wait
// for their inserts.
func (p *pipeline) maxShadowed() int { return p.cfg.WAL.AckMaxPending }

// walEmpty reports whether the WAL holds no record at all.
func (p *pipeline) walEmpty() bool {
	n, _ := p.wal.depth()
	return n == 0
}

// ackFromWAL puts j's batch in the WAL while its direct insert goes on, and
// says whether it did: the request may then be acknowledged. The insert's
// end is recorded for the replayer, which skips the record when the insert
// stored the batch. The request's spans in columns are held until then,
// and so is its charge to max_inflight_bytes (keepHeld).
func (p *pipeline) ackFromWAL(ctx context.Context, j *job, id [16]byte) bool {
	if !p.shadows.add(id, p.maxShadowed()) {
		p.walAcks.WithLabelValues("busy").Inc()
		return false
	}
	if err := p.toWAL(withSpanMessages(j.req, j.spans), id); err != nil {
		// toWAL logged why; the request waits for its insert.
		p.shadows.abandon(id)
		p.walAcks.WithLabelValues("wal_refused").Inc()
		return false
	}
	p.walAcks.WithLabelValues("acked").Inc()
	spans := j.spans
	spans.hold()
	kept := keepHeld(ctx)
	p.settling.Add(1)
	go func() {
		defer p.settling.Done()
		r := p.await(j)
		spans.release()
		kept.release()
		if errors.Is(r.err, errQueueTimeout) {
			p.queueTimeouts.WithLabelValues("wal_replays").Inc()
		}
		if r.err == nil {
			p.shadows.settle(id, true)
			p.walAcks.WithLabelValues("stored_directly").Inc()
			return
		}
		p.shadows.settle(id, false)
		p.walAcks.WithLabelValues("insert_failed").Inc()
		p.log.Warn("insert of a batch acknowledged from the WAL failed; the WAL replays it", "batch_id", fmt.Sprintf("%x", id), "err", r.err)
		select {
		case p.walNotify <- struct{}{}:
		default:
		}
	}()
	return true
}

func (p *pipeline) toWAL(req *ingestv1.ExportRequest, id [16]byte) error {
	payload, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode batch for the WAL: %w", err)
	}
	if err := p.wal.append([]walRecord{{id: id, payload: payload}}); err != nil {
		if errors.Is(err, errWALFull) {
			p.log.Warn("WAL full; refusing batch, the sender will retry", "batch_id", fmt.Sprintf("%x", id), "max_bytes", p.cfg.WAL.MaxBytes)
		} else {
			p.log.Error("WAL append failed; refusing batch", "batch_id", fmt.Sprintf("%x", id), "err", err)
		}
		return err
	}
	p.m.walAppends.Inc()
	select {
	case p.walNotify <- struct{}{}:
	default:
	}
	return nil
}

// alone says whether each batch is inserted on its own rather than grouped
// with others. On a cluster the tables are ReplicatedMergeTree, which drop
// a block identical to one recently inserted (and, from ClickHouse 22.2, a
// block with the same insert_deduplication_token, the batch ID): a batch
// retried through another collector, whose blocks are the same only when
// nothing else shares them, is then stored once.
func (p *pipeline) alone() bool { return p.cfg.ClickHouse.Cluster != "" }

// writeLoop groups queued requests until batch.max_items or
// batch.flush_interval and inserts each group with one WriteExports.
func (p *pipeline) writeLoop() {
	defer p.writers.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-p.queue
		if !ok {
			return
		}
		if !first.take() {
			continue
		}
		group := []*job{first}
		if p.alone() {
			p.writeGroup(group)
			continue
		}
		n := first.items.total()
		timer.Reset(p.cfg.Batch.FlushInterval)
	collect:
		for n < p.cfg.Batch.MaxItems {
			select {
			case j, ok := <-p.queue:
				if !ok {
					break collect
				}
				if !j.take() {
					continue
				}
				group = append(group, j)
				n += j.items.total()
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		p.writeGroup(group)
	}
}

func (p *pipeline) writeGroup(group []*job) {
	reqs := make([]*ingestv1.ExportRequest, len(group))
	var items itemCounts
	for i, j := range group {
		reqs[i] = j.req
		items.spans += j.items.spans
		items.logs += j.items.logs
		items.points += j.items.points
		items.invocations += j.items.invocations
	}
	counts, err := p.writeJobs(group)
	if err != nil && len(group) > 1 && errors.Is(err, storage.ErrRefusedPermanent) {
		// One request's content made ClickHouse refuse the group: write
		// each alone, so that only that one is refused.
		for _, j := range group {
			c, err := p.writeJobs([]*job{j})
			j.done <- jobResult{counts: c, err: err}
		}
		return
	}
	for _, j := range group {
		r := jobResult{err: err}
		if err == nil {
			r.counts = storage.WriteCounts{Spans: j.items.spans, Logs: j.items.logs, MetricPoints: j.items.points, Invocations: j.items.invocations}
			if len(group) == 1 {
				r.counts = counts
			}
		}
		j.done <- r
	}
}

// writeJobs inserts the requests of jobs, the spans and log records each
// read into columns of its own written one after the other in the same
// block (not copied into one set of columns first).
func (p *pipeline) writeJobs(jobs []*job) (storage.WriteCounts, error) {
	reqs := make([]*ingestv1.ExportRequest, len(jobs))
	var cols columns
	for i, j := range jobs {
		reqs[i] = j.req
		if j.spans != nil {
			cols.spans = append(cols.spans, &j.spans.cols)
			cols.logs = append(cols.logs, &j.spans.logs)
		}
	}
	if cols.empty() {
		return p.write(reqs, columns{}, "direct")
	}
	counts, err := p.write(reqs, cols, "direct")
	if errors.Is(err, errNoSpanColumns) {
		for i, j := range jobs {
			reqs[i] = withSpanMessages(j.req, j.spans)
		}
		return p.write(reqs, columns{}, "direct")
	}
	return counts, err
}

// columns are the spans and log records of a write read into columns.
type columns struct {
	spans []*dbmodel.SpanColumns
	logs  []*dbmodel.LogColumns
}

func (c columns) empty() bool { return len(c.spans) == 0 && len(c.logs) == 0 }

// write inserts reqs, with the spans and log records read into cols when
// there are, and records the outcome.
func (p *pipeline) write(reqs []*ingestv1.ExportRequest, cols columns, path string) (storage.WriteCounts, error) {
	var ctx context.Context
	var cancel context.CancelFunc
	if path == "wal" {
		ctx, cancel = p.replayContext()
	} else {
		ctx, cancel = context.WithTimeout(context.Background(), p.cfg.WriteTimeout)
	}
	defer cancel()
	ctx, span := p.startSpan(ctx, "clickhouse.insert", attribute.String("path", path), attribute.Int("batches", len(reqs)))
	defer span.End()
	start := time.Now()
	var counts storage.WriteCounts
	var err error
	if sw, ok := p.writer.(spanColumnsWriter); ok && !cols.empty() {
		counts, err = sw.WriteExportsWithColumns(ctx, reqs, cols.spans, cols.logs)
		if errors.Is(err, errNoSpanColumns) {
			return counts, err
		}
	} else if !cols.empty() {
		return storage.WriteCounts{}, errNoSpanColumns
	} else {
		counts, err = p.writer.WriteExports(ctx, reqs)
	}
	if err == nil {
		p.flushLosses(ctx)
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
		span.RecordError(err)
	}
	p.m.insertDur.WithLabelValues(path, outcome).Observe(time.Since(start).Seconds())
	if err != nil && errors.Is(err, storage.ErrRefusedPermanent) {
		// ClickHouse answered: it is up, the rows are the problem.
		p.countDuplicateRisk(counts, path)
		return counts, err
	}
	if err != nil {
		if !p.down.Swap(true) {
			p.log.Error("ClickHouse insert failed", "path", path, "batches", len(reqs), "wal", p.wal != nil, "err", err)
		}
		p.countDuplicateRisk(counts, path)
		return counts, err
	}
	if p.down.Swap(false) {
		p.log.Info("ClickHouse inserts succeed again")
	}
	p.m.addItems(p.m.written, itemCounts{spans: counts.Spans, logs: counts.Logs, points: counts.MetricPoints, invocations: counts.Invocations})
	p.stats.spans.Add(uint64(counts.Spans))
	p.stats.logs.Add(uint64(counts.Logs))
	p.stats.points.Add(uint64(counts.MetricPoints))
	p.stats.invocations.Add(uint64(counts.Invocations))
	if counts.Rejected > 0 {
		p.stats.rejItems.Add(uint64(counts.Rejected))
		p.m.dropped.WithLabelValues("items", "malformed").Add(float64(counts.Rejected))
	}
	return counts, nil
}

// replayContext bounds an insert from the WAL: by wal.replay_timeout (never
// less than write_timeout), and once the collector stops, by write_timeout
// from then.
func (p *pipeline) replayContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), max(p.cfg.WAL.ReplayTimeout, p.cfg.WriteTimeout))
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-p.stop:
		}
		t := time.NewTimer(p.cfg.WriteTimeout)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
			cancel()
		}
	}()
	return ctx, cancel
}

// countDuplicateRisk counts and logs what a failed write may have stored
// already: the retry of its requests stores those rows again.
func (p *pipeline) countDuplicateRisk(c storage.WriteCounts, path string) {
	if stored := c.Spans + c.Logs + c.MetricPoints + c.Invocations; stored > 0 {
		p.m.dupRisk.WithLabelValues("stored_before_failure").Add(float64(stored))
		p.stats.dupRisk.Add(uint64(stored))
		p.log.Warn("insert failed after earlier tables were stored; the retry stores these rows again",
			"path", path, "spans", c.Spans, "logs", c.Logs, "metric_points", c.MetricPoints, "invocations", c.Invocations)
	}
	if c.Uncertain > 0 {
		p.m.dupRisk.WithLabelValues("outcome_unknown").Add(float64(c.Uncertain))
		p.stats.dupRisk.Add(uint64(c.Uncertain))
		p.log.Warn("insert outcome unknown (no answer after the block was sent); if ClickHouse stored it, the retry stores these rows again",
			"path", path, "rows", c.Uncertain)
	}
}

// replayLoop drains the WAL into ClickHouse in order, retrying with backoff
// while ClickHouse is down.
func (p *pipeline) replayLoop() {
	defer p.replayer.Done()
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	idle := time.NewTicker(time.Second)
	defer idle.Stop()
	for {
		if p.walEmpty() {
			select {
			case <-p.stop:
				return
			case <-p.walNotify:
			case <-idle.C:
			}
			continue
		}
		select {
		case <-p.stop:
			return
		default:
		}
		// On a cluster one batch at a time: a crash or failure part way
		// leaves batches stored that the next replay sends again, and
		// ClickHouse drops their blocks only when each was written alone.
		maxRecs := 1024
		if p.alone() {
			maxRecs = 1
		}
		recs, err := p.wal.peek(maxRecs, 16<<20)
		if err == nil && len(recs) > 0 {
			err = p.replay(recs)
		}
		if err == nil {
			backoff = 100 * time.Millisecond
			continue
		}
		select {
		case <-p.stop:
			return
		case <-p.connected:
			backoff = 100 * time.Millisecond
			continue
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// replay inserts records from the head of the WAL and consumes them. An
// outage (ClickHouse not reached, no answer) only delays them. When
// ClickHouse refuses them (it answered), they are written one by one once
// the refusal is permanent or the head record's group was refused
// quarantine.max_refusals times in a row, up to the first one refused
// alone: that one is quarantined and consumed when refused for its content
// or again at the head after that many refusals, and the batches behind it
// are written as groups again.
func (p *pipeline) replay(recs []walRecord) error {
	recs, err := p.skipShadowed(recs)
	if err != nil || len(recs) == 0 {
		return err
	}
	reqs := make([]*ingestv1.ExportRequest, len(recs)) // nil: undecodable
	batch := make([]*ingestv1.ExportRequest, 0, len(recs))
	for i, r := range recs {
		req := &ingestv1.ExportRequest{}
		if err := proto.Unmarshal(r.payload, req); err != nil {
			// Cannot happen for records this collector wrote (they are
			// checksummed); skip rather than block the WAL forever.
			p.m.dropped.WithLabelValues("batches", "wal_undecodable").Inc()
			p.log.Error("dropping undecodable WAL record", "batch_id", fmt.Sprintf("%x", r.id), "err", err)
			continue
		}
		reqs[i] = req
		batch = append(batch, req)
	}
	_, err = p.write(batch, columns{}, "wal")
	if err == nil {
		return p.consume(recs[len(recs)-1].next, len(recs))
	}
	if !refused(err) {
		return err
	}
	if !errors.Is(err, storage.ErrRefusedPermanent) && len(batch) > 1 {
		if n := p.countRefusal(recs[0].id); n < p.cfg.Quarantine.MaxRefusals {
			p.log.Warn("ClickHouse refused the WAL's head batches; retrying", "batches", len(batch),
				"refusals", n, "max_refusals", p.cfg.Quarantine.MaxRefusals, "err", err)
			return err
		}
	}
	done := 0 // records consumed
	for i, r := range recs {
		if reqs[i] == nil {
			continue
		}
		if len(batch) > 1 {
			if _, err = p.write(reqs[i:i+1], columns{}, "wal"); err == nil {
				if err := p.consume(r.next, i+1-done); err != nil {
					return err
				}
				done = i + 1
				continue
			}
			if !refused(err) {
				return err
			}
		}
		// Quarantined (or kept for a retry): the records behind it go
		// back to being written as groups.
		return p.refusedHead(r, reqs[i], err, i+1-done)
	}
	if done < len(recs) {
		return p.consume(recs[len(recs)-1].next, len(recs)-done)
	}
	return nil
}

// skipShadowed consumes the records at the head of recs that their direct
// insert stored, after waiting for the head one's insert to end, and
// returns none of recs; otherwise it returns the records up to the first
// one whose direct insert runs or stored it, for the replayer to insert.
func (p *pipeline) skipShadowed(recs []walRecord) ([]walRecord, error) {
	stored, ok := p.shadows.wait(recs[0].id, p.stop)
	if !ok {
		return nil, errStopping
	}
	if stored {
		k := 1
		for k < len(recs) && p.shadows.storedNow(recs[k].id) {
			k++
		}
		if err := p.consume(recs[k-1].next, k); err != nil {
			return nil, err
		}
		for _, r := range recs[:k] {
			p.shadows.drop(r.id)
		}
		p.walAcks.WithLabelValues("skipped_on_replay").Add(float64(k))
		return nil, nil
	}
	for k := 1; k < len(recs); k++ {
		if p.shadows.has(recs[k].id) {
			return recs[:k], nil
		}
	}
	return recs, nil
}

// countRefusal counts one more refusal of the head record id and returns
// how many in a row it has had.
func (p *pipeline) countRefusal(id [16]byte) int {
	if p.refusedID != id {
		p.refusedID, p.refusals = id, 0
	}
	p.refusals++
	return p.refusals
}

// refusedHead handles ClickHouse's refusal of rec, written alone, now at
// the head of the WAL (records counts it and the undecodable records
// before it): it is quarantined and consumed when the refusal is
// permanent or the record was refused too often; otherwise the refusal is
// counted and returned, and the replayer backs off and retries.
func (p *pipeline) refusedHead(rec walRecord, req *ingestv1.ExportRequest, err error, records int) error {
	reason := "refused_permanent"
	if !errors.Is(err, storage.ErrRefusedPermanent) {
		n := p.countRefusal(rec.id)
		if n < p.cfg.Quarantine.MaxRefusals {
			p.log.Warn("ClickHouse refused the WAL's head batch; retrying", "batch_id", fmt.Sprintf("%x", rec.id),
				"refusals", n, "max_refusals", p.cfg.Quarantine.MaxRefusals, "err", err)
			return err
		}
		reason = "refused_repeatedly"
	}
	if qerr := p.toQuarantine(req, rec.id, reason, err); qerr != nil {
		return errors.Join(err, qerr)
	}
	p.refusedID, p.refusals = [16]byte{}, 0
	return p.consume(rec.next, records)
}

// consume moves the WAL's reader to next, past records records.
func (p *pipeline) consume(next int64, records int) error {
	if err := p.wal.consume(next, records); err != nil {
		p.log.Error("advance WAL reader", "err", err)
		return err
	}
	return nil
}

// refused reports whether ClickHouse answered a write with a refusal, as
// opposed to not being reached or not answering.
func refused(err error) bool {
	return errors.Is(err, storage.ErrRefusedPermanent) || errors.Is(err, storage.ErrRefusedRetryable)
}

// toQuarantine sets a batch ClickHouse refused aside in the quarantine,
// counted and logged. It fails when there is no quarantine (no data_dir)
// or it is full: the caller then keeps the batch.
func (p *pipeline) toQuarantine(req *ingestv1.ExportRequest, id [16]byte, reason string, cause error) error {
	if p.quar == nil {
		return errors.New("no quarantine: data_dir is not set")
	}
	payload, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode batch for the quarantine: %w", err)
	}
	items := countItems(req)
	path, err := p.quar.put(id, payload, fmt.Sprintf("%s: %v", reason, cause))
	if err != nil {
		p.m.quarantined.WithLabelValues("not_quarantined").Inc()
		p.log.Error("ClickHouse refused a batch and the quarantine cannot take it; keeping it", "batch_id", fmt.Sprintf("%x", id),
			"file", path, "max_bytes", p.cfg.Quarantine.MaxBytes, "err", err, "refused_because", cause)
		return err
	}
	p.quarantined.Add(1)
	p.m.quarantined.WithLabelValues(reason).Inc()
	p.losses.addRequest(req, storage.StageStorage, reason)
	p.m.addItems(p.m.dropped, items, "quarantined")
	p.log.Error("ClickHouse refused a batch; quarantined it so that the batches behind it are stored", "batch_id", fmt.Sprintf("%x", id),
		"reason", reason, "file", path, "spans", items.spans, "logs", items.logs, "metric_points", items.points,
		"invocations", items.invocations, "err", cause)
	return nil
}

// storeConnected is called once a store opened in the background is
// ready: direct writes may resume and the replayer starts at once.
func (p *pipeline) storeConnected() {
	p.down.Store(false)
	select {
	case p.connected <- struct{}{}:
	default:
	}
}

// ready reports why the collector cannot take traffic well, or nil.
func (p *pipeline) ready() error {
	if p.wal != nil && p.wal.full() {
		return errors.New("WAL is full")
	}
	if p.quar != nil && p.quar.isFull() {
		return errors.New("quarantine is full: refused batches wait at the head of the WAL")
	}
	if p.down.Load() {
		return errors.New("ClickHouse inserts are failing")
	}
	return nil
}
