package agent

import (
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/spool"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// ledger turns the running counters of the buffer, the spool and the
// tracker into the counts each invocation record carries: what changed
// since the previous record. Summed over an environment's records they
// are the counters themselves, which is what lets the backend compare
// what was sent with what it stored.
type ledger struct {
	buf     *buffer.Buffer
	spool   *spool.Spool // nil without a spool
	tracker *invocation.Tracker

	mu   sync.Mutex
	last ledgerSnapshot
	// carried are the counts of records the buffer dropped, which the
	// next record carries.
	carried *ingestv1.TelemetryCounts
}

// carry keeps the counts of a record that was dropped for the next one.
func (l *ledger) carry(c *ingestv1.TelemetryCounts) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.carried == nil {
		l.carried = &ingestv1.TelemetryCounts{}
	}
	addCounts(l.carried, c)
}

// addCounts adds o to c.
func addCounts(c, o *ingestv1.TelemetryCounts) {
	c.SpansReceived += o.GetSpansReceived()
	c.LogLinesReceived += o.GetLogLinesReceived()
	c.BytesReceived += o.GetBytesReceived()
	c.BytesShipped += o.GetBytesShipped()
	c.SpansSampledOut += o.GetSpansSampledOut()
	c.SpansDropped += o.GetSpansDropped()
	c.LogLinesDropped += o.GetLogLinesDropped()
	c.SpansSpooled += o.GetSpansSpooled()
	c.LogLinesSpooled += o.GetLogLinesSpooled()
	c.SpansSpoolDropped += o.GetSpansSpoolDropped()
	c.LogLinesSpoolDropped += o.GetLogLinesSpoolDropped()
	c.PlatformLogsDropped += o.GetPlatformLogsDropped()
	c.SpansRefused += o.GetSpansRefused()
	c.LogLinesRefused += o.GetLogLinesRefused()
}

type ledgerSnapshot struct {
	buf           buffer.Stats
	spool         spool.Stats
	platformDrops uint64
}

func (l *ledger) snapshot() ledgerSnapshot {
	s := ledgerSnapshot{buf: l.buf.Stats(), platformDrops: l.tracker.Stats().LogsDropped}
	if l.spool != nil {
		s.spool = l.spool.Stats()
	}
	return s
}

// next returns the counts since the previous call.
func (l *ledger) next() *ingestv1.TelemetryCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.snapshot()
	prev := l.last
	l.last = now
	d := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	out := &ingestv1.TelemetryCounts{
		SpansReceived:        d(now.buf.Received[buffer.Spans], prev.buf.Received[buffer.Spans]),
		LogLinesReceived:     d(now.buf.Received[buffer.Logs], prev.buf.Received[buffer.Logs]),
		BytesReceived:        d(now.buf.ReceivedBytes, prev.buf.ReceivedBytes),
		BytesShipped:         d(now.buf.SentBytes, prev.buf.SentBytes),
		SpansSampledOut:      d(now.buf.SampledOut[buffer.Spans], prev.buf.SampledOut[buffer.Spans]),
		SpansDropped:         d(now.buf.Dropped[buffer.Spans], prev.buf.Dropped[buffer.Spans]),
		LogLinesDropped:      d(now.buf.Dropped[buffer.Logs], prev.buf.Dropped[buffer.Logs]),
		SpansRefused:         d(now.buf.Refused[buffer.Spans], prev.buf.Refused[buffer.Spans]),
		LogLinesRefused:      d(now.buf.Refused[buffer.Logs], prev.buf.Refused[buffer.Logs]),
		SpansSpooled:         d(now.spool.Spooled[buffer.Spans], prev.spool.Spooled[buffer.Spans]),
		LogLinesSpooled:      d(now.spool.Spooled[buffer.Logs], prev.spool.Spooled[buffer.Logs]),
		SpansSpoolDropped:    d(now.spool.Dropped[buffer.Spans], prev.spool.Dropped[buffer.Spans]),
		LogLinesSpoolDropped: d(now.spool.Dropped[buffer.Logs], prev.spool.Dropped[buffer.Logs]),
		PlatformLogsDropped:  d(now.platformDrops, prev.platformDrops),
	}
	if l.carried != nil {
		addCounts(out, l.carried)
		l.carried = nil
	}
	return out
}

// precount counts n bytes as shipped now, before the collector has taken
// them: the next call of next does not count them again when the shipper
// does. It is how the last record carries the bytes of its own batch.
func (l *ledger) precount(n uint64) {
	l.mu.Lock()
	l.last.buf.SentBytes += n
	l.mu.Unlock()
}

// close puts on inv, the environment's last record, everything the
// counters moved since the previous record. With sending set, the record
// is about to be sent in a batch of its own (beside pending bytes still
// buffered, sent with it): the bytes of that flush, its own encoded size
// included, are counted as shipped before they are, since no record comes
// after it to count them. The size depends on the count, so the two are
// brought to agree (the count's varint grows by a byte at most a few
// times).
func (l *ledger) close(inv *ingestv1.Invocation, sending bool, pending int) {
	c := l.next()
	if inv.Telemetry == nil {
		inv.Telemetry = &ingestv1.TelemetryCounts{}
	}
	addCounts(inv.Telemetry, c)
	if !sending {
		return
	}
	base := inv.GetTelemetry().GetBytesShipped() + uint64(max(pending, 0))
	own := 0
	for {
		inv.Telemetry.BytesShipped = base + uint64(own)
		n := proto.Size(inv)
		if n == own {
			break
		}
		own = n
	}
	l.precount(uint64(max(pending, 0) + own))
}

// recordSink is what the tracker hands its records to: the buffer, except
// that it holds invocation records back while the extension waits on
// /event/next (hold) and from SHUTDOWN on (shutdown).
//
// The counts a record carries are those since the previous record, taken
// when it is built, so whatever the counters do after an environment's
// last record (the bytes of the batch that carries it above all, and what
// SHUTDOWN's flush ships, drops or spools) would be on no record. In
// Lambda that last record is built at SHUTDOWN: its platform.report comes
// with the push that wakes the environment for it, while the extension
// still waits on /event/next. Held there, it is still the extension's
// when SHUTDOWN comes, and the shutdown sends it last, with the final
// counts (ledger.close). A record held while waiting goes to the buffer
// as soon as an INVOKE comes (release), or once it has been held for the
// bound, so that an environment that is not frozen while idle does not
// keep it. The bound is counted for each record from when it was built:
// a timer armed before a freeze runs out at the thaw, and must not take
// the record the thaw's push has just built.
type recordSink struct {
	*buffer.Buffer
	led *ledger
	// bound is how long a record is held while waiting.
	bound time.Duration
	// now is time.Now unless a test sets it.
	now func() time.Time

	mu      sync.Mutex
	holding bool // while waiting on /event/next
	final   bool // from SHUTDOWN on: the latest record is kept
	held    []heldRecord
	timer   *time.Timer
}

func (s *recordSink) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// heldRecord is a record held and when it was.
type heldRecord struct {
	inv *ingestv1.Invocation
	at  time.Time
}

// AddInvocation holds inv when the sink holds records, else queues it.
func (s *recordSink) AddInvocation(inv *ingestv1.Invocation) bool {
	s.mu.Lock()
	switch {
	case s.final:
		// Only the latest record waits for the final counts; an earlier
		// one goes now, with the counts it was built with.
		earlier := s.held
		s.held = []heldRecord{{inv: inv, at: s.clock()}}
		s.mu.Unlock()
		s.forward(earlier)
		return true
	case s.holding:
		s.held = append(s.held, heldRecord{inv: inv, at: s.clock()})
		if s.timer == nil {
			s.timer = time.AfterFunc(s.bound, s.expire)
		}
		s.mu.Unlock()
		return true
	}
	s.mu.Unlock()
	return s.Buffer.AddInvocation(inv)
}

// forward queues records that were held; the counts of one the buffer
// drops go on the next record.
func (s *recordSink) forward(held []heldRecord) {
	for _, h := range held {
		if !s.Buffer.AddInvocation(h.inv) && h.inv.Telemetry != nil {
			s.led.carry(h.inv.Telemetry)
		}
	}
}

// hold holds the records built from now on, until release or the bound.
func (s *recordSink) hold() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if !s.final {
		s.holding = true
	}
	s.mu.Unlock()
}

// expire queues the records held for the bound and waits for the others'
// turn; the sink goes on holding the records built later in the same
// wait.
func (s *recordSink) expire() {
	s.mu.Lock()
	s.timer = nil
	if s.final {
		// SHUTDOWN came first: the shutdown takes them (takeLast).
		s.mu.Unlock()
		return
	}
	now := s.clock()
	n := 0
	for n < len(s.held) && now.Sub(s.held[n].at) >= s.bound {
		n++
	}
	due := s.held[:n:n]
	s.held = s.held[n:]
	if len(s.held) > 0 {
		s.timer = time.AfterFunc(s.bound-now.Sub(s.held[0].at), s.expire)
	}
	s.mu.Unlock()
	s.forward(due)
}

// release queues the records held and stops holding: an INVOKE came, so
// none of them is the environment's last.
func (s *recordSink) release() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.final {
		s.mu.Unlock()
		return
	}
	held := s.held
	s.held, s.holding = nil, false
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.mu.Unlock()
	s.forward(held)
}

// shutdown keeps the latest record held, or the next one built, for the
// final counts; the others held go now.
func (s *recordSink) shutdown() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.final, s.holding = true, false
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	var earlier []heldRecord
	if n := len(s.held); n > 1 {
		earlier, s.held = s.held[:n-1], s.held[n-1:]
	}
	s.mu.Unlock()
	s.forward(earlier)
}

// takeLast returns the record kept for the final counts, nil when none
// was built since SHUTDOWN or held before it; records built from now on
// are queued at once.
func (s *recordSink) takeLast() *ingestv1.Invocation {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.final = false
	if len(s.held) == 0 {
		return nil
	}
	inv := s.held[len(s.held)-1].inv
	s.held = nil
	return inv
}

// countsZero says whether c counts nothing.
func countsZero(c *ingestv1.TelemetryCounts) bool {
	return proto.Size(c) == 0
}
