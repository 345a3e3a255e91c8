package agent

import (
	"sync"

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
