package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/spool"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func pushEvents(t *testing.T, tr *invocation.Tracker, lines ...string) {
	t.Helper()
	evs, err := telemetry.Parse([]byte("[" + strings.Join(lines, ",") + "]"))
	if err != nil {
		t.Fatalf("parse events: %v", err)
	}
	tr.HandleTelemetry(evs)
}

// takeRecords empties the buffer as the shipper would, counting what it
// takes as sent, and returns the invocation records it held.
func takeRecords(buf *buffer.Buffer) []*ingestv1.Invocation {
	var out []*ingestv1.Invocation
	for b := buf.Take(1 << 30); b != nil; b = buf.Take(1 << 30) {
		buf.MarkSent(b.Counts)
		buf.MarkSentBytes(b.Bytes)
		out = append(out, b.Request.GetInvocations()...)
	}
	return out
}

// Each invocation record carries what the extension received and lost
// since the previous one, its own push's log lines included; summed over
// the records the counts are the buffer's own counters.
func TestRecordsCarryTelemetryCounts(t *testing.T) {
	buf := buffer.New(8<<10, 1<<20, nil)
	buf.SetSampler(func(id []byte) bool { return id[0] != 0xff })
	tr := invocation.New(buf, nil, nil)
	led := &ledger{buf: buf, tracker: tr}
	tr.SetTally(led.next, led.carry)
	p := pipeline{buf: buf, tracker: tr}

	span := func(first byte) *tracepb.Span {
		id := make([]byte, 16)
		id[0] = first
		return &tracepb.Span{TraceId: id, SpanId: make([]byte, 8), Name: "work"}
	}
	pushEvents(t, tr, `{"time":"2025-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r1"}}`)
	p.ConsumeSpans([]*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{span(1), span(1), span(0xff)}}}}})
	pushEvents(t, tr,
		`{"time":"2025-03-01T10:00:00.010Z","type":"function","record":"[INFO] r1 one"}`,
		`{"time":"2025-03-01T10:00:00.011Z","type":"function","record":"[INFO] r1 two"}`,
		`{"time":"2025-03-01T10:00:00.012Z","type":"function","record":"[INFO] r1 three"}`,
		`{"time":"2025-03-01T10:00:00.013Z","type":"platform.logsDropped","record":{"droppedBytes":500,"droppedRecords":5,"reason":"slow"}}`,
		`{"time":"2025-03-01T10:00:00.050Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success","metrics":{"durationMs":50}}}`,
		`{"time":"2025-03-01T10:00:00.060Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":50,"billedDurationMs":50,"memorySizeMB":128,"maxMemoryUsedMB":60}}}`)
	first := takeRecords(buf)
	shipped := buf.Stats().SentBytes

	// The second invocation's log line does not fit the buffer.
	pushEvents(t, tr,
		`{"time":"2025-03-01T10:00:01.000Z","type":"platform.start","record":{"requestId":"r2"}}`,
		`{"time":"2025-03-01T10:00:01.010Z","type":"function","record":"`+strings.Repeat("x", 10<<10)+`"}`)
	pushEvents(t, tr,
		`{"time":"2025-03-01T10:00:01.050Z","type":"platform.runtimeDone","record":{"requestId":"r2","status":"success","metrics":{"durationMs":50}}}`,
		`{"time":"2025-03-01T10:00:01.060Z","type":"platform.report","record":{"requestId":"r2","status":"success","metrics":{"durationMs":50,"billedDurationMs":50,"memorySizeMB":128,"maxMemoryUsedMB":60}}}`)
	second := takeRecords(buf)

	if len(first) != 1 || len(second) != 1 {
		t.Fatalf("records = %d, %d; want 1, 1", len(first), len(second))
	}
	r1, r2 := first[0].GetTelemetry(), second[0].GetTelemetry()
	if r1 == nil || r2 == nil {
		t.Fatalf("records without counts: %v, %v", first[0], second[0])
	}
	// Three function lines and the warning about Lambda's drop.
	if r1.GetLogLinesReceived() != 4 || r1.GetSpansSampledOut() != 1 || r1.GetPlatformLogsDropped() != 5 || r1.GetLogLinesDropped() != 0 {
		t.Errorf("first record counts = %v; want 4 log lines, 1 span sampled out, 5 dropped by Lambda, none by the buffer", r1)
	}
	if r1.GetSpansReceived() < 3 || r1.GetBytesReceived() == 0 || r1.GetBytesShipped() != 0 {
		t.Errorf("first record counts = %v; want at least 3 spans, bytes received, nothing shipped yet", r1)
	}
	if r2.GetLogLinesDropped() != 1 || r2.GetBytesShipped() != shipped || r2.GetPlatformLogsDropped() != 0 {
		t.Errorf("second record counts = %v; want 1 log line dropped, %d bytes shipped, no Lambda drop", r2, shipped)
	}
	st := buf.Stats()
	sum := func(f func(*ingestv1.TelemetryCounts) uint64) uint64 { return f(r1) + f(r2) }
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"spans received", sum((*ingestv1.TelemetryCounts).GetSpansReceived), st.Received[buffer.Spans]},
		{"log lines received", sum((*ingestv1.TelemetryCounts).GetLogLinesReceived), st.Received[buffer.Logs]},
		{"log lines dropped", sum((*ingestv1.TelemetryCounts).GetLogLinesDropped), st.Dropped[buffer.Logs]},
		{"spans sampled out", sum((*ingestv1.TelemetryCounts).GetSpansSampledOut), st.SampledOut[buffer.Spans]},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: records say %d, buffer %d", c.name, c.got, c.want)
		}
	}
}

// What a full buffer moves to the spool, and what the spool drops over its
// cap, is on the next record.
func TestRecordsCarrySpoolCounts(t *testing.T) {
	sp, err := spool.Open(spool.Config{Dir: t.TempDir(), MaxBytes: 3 << 10}, nil)
	if err != nil {
		t.Fatalf("open spool: %v", err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	buf := buffer.New(4<<10, 1<<20, nil)
	n := 0
	buf.SetOverflow(func(b *buffer.Batch) {
		n++
		b.Request.BatchId = []byte(fmt.Sprintf("spill-%010d", n))
		_ = sp.Put(b.Request, b.Counts)
	})
	tr := invocation.New(buf, nil, nil)
	led := &ledger{buf: buf, spool: sp, tracker: tr}
	tr.SetTally(led.next, led.carry)

	pushEvents(t, tr, `{"time":"2025-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r1"}}`)
	for i := range 6 {
		pushEvents(t, tr, fmt.Sprintf(`{"time":"2025-03-01T10:00:00.%03dZ","type":"function","record":"%s"}`, i+1, strings.Repeat("y", 1800)))
	}
	pushEvents(t, tr,
		`{"time":"2025-03-01T10:00:00.050Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success","metrics":{"durationMs":50}}}`,
		`{"time":"2025-03-01T10:00:00.060Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":50,"billedDurationMs":50,"memorySizeMB":128,"maxMemoryUsedMB":60}}}`)
	recs := takeRecords(buf)
	// Adding r1's record may itself move older lines to the spool: the
	// next record carries that.
	pushEvents(t, tr,
		`{"time":"2025-03-01T10:00:01.000Z","type":"platform.start","record":{"requestId":"r2"}}`,
		`{"time":"2025-03-01T10:00:01.050Z","type":"platform.runtimeDone","record":{"requestId":"r2","status":"success","metrics":{"durationMs":50}}}`,
		`{"time":"2025-03-01T10:00:01.060Z","type":"platform.report","record":{"requestId":"r2","status":"success","metrics":{"durationMs":50,"billedDurationMs":50,"memorySizeMB":128,"maxMemoryUsedMB":60}}}`)
	recs = append(recs, takeRecords(buf)...)
	if len(recs) != 2 {
		t.Fatalf("%d records in the buffer, want 2", len(recs))
	}
	first, st := recs[0].GetTelemetry(), sp.Stats()
	if first.GetLogLinesSpooled() == 0 || first.GetLogLinesSpoolDropped() == 0 || first.GetLogLinesDropped() != 0 {
		t.Fatalf("first record's counts = %v; want log lines spooled and dropped by the spool, none by the buffer", first)
	}
	second := recs[1].GetTelemetry()
	spooled := first.GetLogLinesSpooled() + second.GetLogLinesSpooled()
	lost := first.GetLogLinesSpoolDropped() + second.GetLogLinesSpoolDropped()
	if spooled != st.Spooled[buffer.Logs] || lost != st.Dropped[buffer.Logs] {
		t.Errorf("records say spooled %d, lost %d; the spool says %d, %d", spooled, lost, st.Spooled[buffer.Logs], st.Dropped[buffer.Logs])
	}
}

// refusingSink drops the first invocation record, as a full buffer does.
type refusingSink struct {
	*buffer.Buffer
	refused bool
}

func (s *refusingSink) AddInvocation(inv *ingestv1.Invocation) bool {
	if !s.refused {
		s.refused = true
		return false
	}
	return s.Buffer.AddInvocation(inv)
}

// The counts of a record the buffer dropped go on the next record, so that
// a full buffer does not hide what it dropped.
func TestDroppedRecordsCountsCarried(t *testing.T) {
	buf := buffer.New(1<<20, 1<<20, nil)
	sink := &refusingSink{Buffer: buf}
	tr := invocation.New(sink, nil, nil)
	led := &ledger{buf: buf, tracker: tr}
	tr.SetTally(led.next, led.carry)
	for i, id := range []string{"r1", "r2"} {
		sec := fmt.Sprintf("%02d", i)
		pushEvents(t, tr,
			`{"time":"2025-03-01T10:00:`+sec+`.000Z","type":"platform.start","record":{"requestId":"`+id+`"}}`,
			`{"time":"2025-03-01T10:00:`+sec+`.010Z","type":"function","record":"line of `+id+`"}`,
			`{"time":"2025-03-01T10:00:`+sec+`.050Z","type":"platform.runtimeDone","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":50}}}`,
			`{"time":"2025-03-01T10:00:`+sec+`.060Z","type":"platform.report","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":50,"billedDurationMs":50,"memorySizeMB":128,"maxMemoryUsedMB":60}}}`)
	}
	recs := takeRecords(buf)
	if len(recs) != 1 || recs[0].GetRequestId() != "r2" {
		t.Fatalf("records = %v, want r2's alone", recs)
	}
	if got := recs[0].GetTelemetry().GetLogLinesReceived(); got != 2 {
		t.Errorf("r2 carries %d log lines received, want 2 (its own and r1's)", got)
	}
}

// What the collector refused for good is dropped, and also counted as
// refused, so that the backend names the collector rather than the buffer.
func TestRecordsCarryRefusals(t *testing.T) {
	buf := buffer.New(1<<20, 1<<20, nil)
	tr := invocation.New(buf, nil, nil)
	led := &ledger{buf: buf, tracker: tr}
	tr.SetTally(led.next, led.carry)
	var refused buffer.Counts
	refused[buffer.Spans], refused[buffer.Logs] = 3, 2
	buf.MarkRefused(refused)
	pushEvents(t, tr,
		`{"time":"2025-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r1"}}`,
		`{"time":"2025-03-01T10:00:00.060Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":50,"billedDurationMs":50,"memorySizeMB":128,"maxMemoryUsedMB":60}}}`)
	recs := takeRecords(buf)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	c := recs[0].GetTelemetry()
	if c.GetSpansDropped() != 3 || c.GetSpansRefused() != 3 || c.GetLogLinesDropped() != 2 || c.GetLogLinesRefused() != 2 {
		t.Errorf("counts = %v; want 3 spans and 2 log lines dropped, all refused", c)
	}
}

// The last record counts the bytes of the flush that carries it, its own
// encoded size included, whatever the size of the count itself: across
// the points where its varint grows a byte the count still equals what
// the shipper counts once the batch is taken.
func TestLedgerCloseCountsItsOwnBatch(t *testing.T) {
	for _, pending := range []int{0, 1, 100, 16000, 16200, 16300, 16383, 2097000, 2097100} {
		buf := buffer.New(8<<20, 8<<20, nil)
		tr := invocation.New(buf, nil, nil)
		led := &ledger{buf: buf, tracker: tr}
		// Bytes shipped before the last record, on no record yet.
		buf.MarkSentBytes(1234)
		inv := &ingestv1.Invocation{RequestId: "r1", Telemetry: led.next()}
		led.close(inv, true, pending)
		want := 1234 + uint64(pending) + uint64(proto.Size(inv))
		if got := inv.GetTelemetry().GetBytesShipped(); got != want {
			t.Errorf("pending %d: the record counts %d bytes shipped, want %d (its own %d bytes included)", pending, got, want, proto.Size(inv))
		}
		// The shipper counts the batch once it is taken; the ledger does
		// not count it again.
		buf.AddInvocation(inv)
		buf.MarkSentBytes(pending)
		takeRecords(buf)
		if rest := led.next(); rest.GetBytesShipped() != 0 {
			t.Errorf("pending %d: %d bytes counted again after the last record", pending, rest.GetBytesShipped())
		}
		if st := buf.Stats(); st.SentBytes != want {
			t.Errorf("pending %d: the buffer counts %d bytes sent, the record %d", pending, st.SentBytes, want)
		}
	}
}

// The sink holds the records built while the extension waits on
// /event/next until an INVOKE comes, or the bound ends; from SHUTDOWN on
// it keeps the latest for the final counts and queues the others.
func TestRecordSinkHolds(t *testing.T) {
	buf := buffer.New(1<<20, 1<<20, nil)
	tr := invocation.New(buf, nil, nil)
	sink := &recordSink{Buffer: buf, led: &ledger{buf: buf, tracker: tr}, bound: time.Hour}
	queued := func() int { return int(buf.Stats().Buffered[buffer.Invocations]) }
	rec := func(id string) *ingestv1.Invocation { return &ingestv1.Invocation{RequestId: id} }

	sink.AddInvocation(rec("r0"))
	sink.hold()
	if !sink.AddInvocation(rec("r1")) || queued() != 1 {
		t.Fatalf("while waiting: %d records queued, want r0 alone", queued())
	}
	sink.release()
	if queued() != 2 {
		t.Fatalf("after INVOKE: %d records queued, want 2", queued())
	}
	sink.AddInvocation(rec("r2"))
	if queued() != 3 {
		t.Fatalf("during the invocation: %d records queued, want 3", queued())
	}

	// The bound ends a hold: an environment that is not frozen while idle
	// does not keep a record.
	short := &recordSink{Buffer: buf, led: sink.led, bound: 10 * time.Millisecond}
	short.hold()
	short.AddInvocation(rec("r3"))
	deadline := time.Now().Add(10 * time.Second)
	for queued() != 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if queued() != 4 {
		t.Fatalf("after the bound: %d records queued, want 4", queued())
	}

	// A timer armed before a freeze runs out at the thaw, beside the push
	// the thaw brings: it takes the records held for the bound, not the
	// one just built.
	clock := time.Now()
	frozen := &recordSink{Buffer: buf, led: sink.led, bound: time.Hour, now: func() time.Time { return clock }}
	frozen.hold()
	frozen.AddInvocation(rec("before the freeze"))
	clock = clock.Add(2 * time.Hour)
	frozen.AddInvocation(rec("thawed"))
	frozen.expire()
	if queued() != 5 {
		t.Fatalf("at the thaw: %d records queued, want 5 (the record held before the freeze)", queued())
	}
	frozen.shutdown()
	if last := frozen.takeLast(); last.GetRequestId() != "thawed" || queued() != 5 {
		t.Fatalf("kept %v at SHUTDOWN with %d queued, want the record built at the thaw, 5 queued", last, queued())
	}

	sink.hold()
	sink.AddInvocation(rec("r4"))
	sink.AddInvocation(rec("r5"))
	sink.shutdown()
	if queued() != 6 {
		t.Fatalf("at SHUTDOWN: %d records queued, want r4 too", queued())
	}
	sink.AddInvocation(rec("r6"))
	if queued() != 7 {
		t.Fatalf("after SHUTDOWN: %d records queued, want r5 too", queued())
	}
	sink.release() // a late release does not take the kept record
	last := sink.takeLast()
	if last.GetRequestId() != "r6" || queued() != 7 {
		t.Fatalf("kept %v with %d queued, want r6 with 7", last, queued())
	}
	sink.AddInvocation(rec("r7"))
	if queued() != 8 || sink.takeLast() != nil {
		t.Fatalf("after the last was taken: %d records queued, want 8, none kept", queued())
	}
}
