package agent

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/spool"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// reportOf is the platform.report of invocationScript's invocation.
const reportOf = `{"time":"2024-05-01T10:00:00.310Z","type":"platform.report","record":{"requestId":"` + reqID + `","status":"success","metrics":{"durationMs":100.2,"billedDurationMs":101,"memorySizeMB":512,"maxMemoryUsedMB":77,"initDurationMs":180.5}}}`

// sumCounts adds up the counts of the invocation records of reqs.
func sumCounts(reqs []*ingestv1.ExportRequest) (*ingestv1.TelemetryCounts, int) {
	sum := &ingestv1.TelemetryCounts{}
	n := 0
	for _, req := range reqs {
		for _, inv := range req.GetInvocations() {
			n++
			addCounts(sum, inv.GetTelemetry())
		}
	}
	return sum, n
}

// itemBytes is what the collector took, measured as the extension counts
// what it shipped: the encoded size of each record, resource spans,
// resource logs and resource metrics of the requests.
func itemBytes(reqs []*ingestv1.ExportRequest) uint64 {
	var n int
	for _, req := range reqs {
		for _, m := range req.GetInvocations() {
			n += proto.Size(m)
		}
		for _, m := range req.GetResourceSpans() {
			n += proto.Size(m)
		}
		for _, m := range req.GetResourceLogs() {
			n += proto.Size(m)
		}
		for _, m := range req.GetResourceMetrics() {
			n += proto.Size(m)
		}
	}
	return uint64(n)
}

// finalCounts are the counters the records' counts must add up to.
func finalCounts(st buffer.Stats, ss spool.Stats, platformDrops uint64) *ingestv1.TelemetryCounts {
	return &ingestv1.TelemetryCounts{
		SpansReceived:        st.Received[buffer.Spans],
		LogLinesReceived:     st.Received[buffer.Logs],
		BytesReceived:        st.ReceivedBytes,
		BytesShipped:         st.SentBytes,
		SpansSampledOut:      st.SampledOut[buffer.Spans],
		SpansDropped:         st.Dropped[buffer.Spans],
		LogLinesDropped:      st.Dropped[buffer.Logs],
		SpansRefused:         st.Refused[buffer.Spans],
		LogLinesRefused:      st.Refused[buffer.Logs],
		SpansSpooled:         ss.Spooled[buffer.Spans],
		LogLinesSpooled:      ss.Spooled[buffer.Logs],
		SpansSpoolDropped:    ss.Dropped[buffer.Spans],
		LogLinesSpoolDropped: ss.Dropped[buffer.Logs],
		PlatformLogsDropped:  platformDrops,
	}
}

// agentCounters are the final counters of the agent f ran.
func agentCounters(f *fakeLambda) *ingestv1.TelemetryCounts {
	a := f.agent.Load()
	var ss spool.Stats
	if a.spool != nil {
		ss = a.spool.Stats()
	}
	return finalCounts(a.buf.Stats(), ss, a.tracker.Stats().LogsDropped)
}

// TestRecordsCountWhatShutdownShipped: the counts on an environment's
// records add up to the extension's final counters, the bytes of the last
// flushes at SHUTDOWN included (the batch carrying the last record with
// them), and so do the bytes the collector took: also when the function's
// last span comes after the last record was built, and the extension's own
// counters are added at SHUTDOWN after it. Lambda pushes the last report
// when it wakes the environment for SHUTDOWN, before the extension's
// /event/next returns; it may also come after.
func TestRecordsCountWhatShutdownShipped(t *testing.T) {
	for _, tc := range []struct {
		name string
		// reportBefore pushes the report before SHUTDOWN is answered.
		reportBefore bool
	}{
		{"report before SHUTDOWN", true},
		{"report after SHUTDOWN", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			collector := collectortest.Start(t)
			var otlpAddr string
			f := &fakeLambda{}
			f.script = func(n int) (extapi.Event, []string) {
				ev, after := invocationScript(2)(n)
				switch {
				case n == 0:
					sendSpan(t, otlpAddr)
				case tc.reportBefore:
					after = nil
				}
				return ev, after
			}
			f.beforeNext = func(n int) {
				if n != 1 {
					return
				}
				if tc.reportBefore {
					f.push(reportOf)
					// The record is built before the span below comes.
					if err := f.agent.Load().listener.Handled(t.Context()); err != nil {
						t.Errorf("push not handled: %v", err)
					}
				}
				// The function's span, exported late: after the
				// invocation's record was built, when the report came
				// before SHUTDOWN.
				sendSpan(t, otlpAddr)
			}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.Endpoint = collector.Addr
				otlpAddr = o.Config.OTLPHTTPAddr
			})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, logs)
			}
			accepted := collector.Accepted()
			sum, records := sumCounts(accepted)
			if records != 1 {
				t.Fatalf("%d records shipped, want 1\n%s", records, logs)
			}
			want := agentCounters(f)
			if want.GetSpansReceived() < 2 || want.GetBytesShipped() == 0 {
				t.Fatalf("final counters %v: want the two function spans received, bytes shipped", want)
			}
			if !proto.Equal(sum, want) {
				t.Errorf("the records count\n  %v\nthe extension's counters are\n  %v\n%s", sum, want, logs)
			}
			if got := itemBytes(accepted); sum.GetBytesShipped() != got {
				t.Errorf("the records count %d bytes shipped, the collector took %d", sum.GetBytesShipped(), got)
			}
			if strings.Contains(logs.String(), "counted_on_no_record") {
				t.Errorf("counts left on no record:\n%s", logs)
			}
		})
	}
}

// TestRecordsCountWhatShutdownSpooled: when the collector takes nothing,
// the last record goes to the spool after everything else, counting what
// was spooled; the next start replays it with the rest, so the counts
// stored add up to what the first run received and spooled.
func TestRecordsCountWhatShutdownSpooled(t *testing.T) {
	spoolDir := filepath.Join(t.TempDir(), "spool")
	down := collectortest.Start(t)
	fails := make([]codes.Code, 10000)
	for i := range fails {
		fails[i] = codes.Unavailable
	}
	down.Script(fails...)
	var otlpAddr string
	f := &fakeLambda{}
	f.script = func(n int) (extapi.Event, []string) {
		ev, after := invocationScript(2)(n)
		if n == 0 {
			sendSpan(t, otlpAddr)
		} else {
			after = nil
		}
		return ev, after
	}
	f.beforeNext = func(n int) {
		if n == 1 {
			f.push(reportOf)
			sendSpan(t, otlpAddr)
		}
	}
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = down.Addr
		o.Config.SpoolDir = spoolDir
		otlpAddr = o.Config.OTLPHTTPAddr
	})
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	want := agentCounters(f)
	if want.GetSpansSpooled() < 2 || want.GetLogLinesSpooled() == 0 || want.GetBytesShipped() != 0 {
		t.Fatalf("first run's counters %v: want spans and log lines spooled, nothing shipped\n%s", want, logs)
	}
	if strings.Contains(logs.String(), "counted_on_no_record") {
		t.Errorf("counts left on no record:\n%s", logs)
	}

	up := collectortest.Start(t)
	next := &fakeLambda{script: func(int) (extapi.Event, []string) {
		time.Sleep(200 * time.Millisecond) // let the background replay run
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}}
	if _, err := runAgent(t, next, func(o *Options) {
		o.Config.Endpoint = up.Addr
		o.Config.SpoolDir = spoolDir
	}); err != nil {
		t.Fatalf("second run: %v", err)
	}
	sum, records := sumCounts(up.Accepted())
	if records != 1 {
		t.Fatalf("%d records replayed, want 1", records)
	}
	if !proto.Equal(sum, want) {
		t.Errorf("the replayed record counts\n  %v\nthe first run's counters are\n  %v", sum, want)
	}
}

// TestRecordsCountsLeftOnNoRecordLogged: a record held while the extension
// waits goes to the buffer after the bound when SHUTDOWN does not come,
// and may be shipped before it; then no record is left to carry what the
// counters do after it, and the shutdown line says how much that is.
func TestRecordsCountsLeftOnNoRecordLogged(t *testing.T) {
	collector := collectortest.Start(t)
	f := &fakeLambda{}
	f.script = func(n int) (extapi.Event, []string) {
		ev, after := invocationScript(2)(n)
		if n == 1 {
			after = nil
		}
		return ev, after
	}
	f.beforeNext = func(n int) {
		if n != 1 {
			return
		}
		f.push(reportOf)
		// Past the bound, and long enough for the background flush to
		// ship the record before SHUTDOWN.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, n := sumCounts(collector.Accepted()); n > 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Error("the record held while waiting was not shipped after the bound")
	}
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		o.Config.FlushInterval = 50 * time.Millisecond
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	sum, records := sumCounts(collector.Accepted())
	if records != 1 {
		t.Fatalf("%d records shipped, want 1", records)
	}
	want := agentCounters(f)
	if sum.GetBytesShipped() >= want.GetBytesShipped() {
		t.Errorf("the record counts %d bytes shipped of %d: the last batches should be on no record", sum.GetBytesShipped(), want.GetBytesShipped())
	}
	if !strings.Contains(logs.String(), "counted_on_no_record=") {
		t.Errorf("the shutdown line does not say what no record counts:\n%s", logs)
	}
}
