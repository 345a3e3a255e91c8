package local_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
)

// TestCollectorLossesNamedByCompleteness sends, to the collector binary
// as deploy/local runs it (its store opened in the background), a batch
// with spans it leaves out on purpose (span IDs of the wrong length) and
// a clean batch of another function, each with the invocation record
// whose counts say what was sent. `lambdascope completeness --since 1h`
// must then name the spans left out at the collector stage, with their
// count, and read the clean function at 100 %: the spans left out reach
// ingest_losses through the binary's store, not only through a store a
// test opens itself.
func TestCollectorLossesNamedByCompleteness(t *testing.T) {
	ctx := testContext(t)
	stack := startStackWith(t, ctx, local.Options{BackendOnly: true}, nil)

	conn, err := grpc.NewClient(stack.CollectorAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial collector: %v", err)
	}
	defer conn.Close()
	client := ingestv1.NewIngestServiceClient(conn)
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+stack.APIKey)

	const (
		lossy, clean          = "losses-lossy", "losses-clean"
		goodSpans, badSpans   = 3, 2
		cleanSpans, cleanLogs = 4, 2
	)
	now := time.Now()
	lossyReq := lossBatch(lossy, now, goodSpans+badSpans, 0)
	for _, sp := range lossyReq.ResourceSpans[0].ScopeSpans[0].Spans[goodSpans:] {
		sp.SpanId = []byte{1, 2, 3} // not 8 bytes: the collector leaves it out
	}
	resp, err := client.Export(actx, lossyReq)
	if err != nil {
		t.Fatalf("export %s: %v", lossy, err)
	}
	if resp.GetAcceptedSpans() != goodSpans || resp.GetRejectedItems() != badSpans {
		t.Fatalf("export %s: accepted %d spans, rejected %d items; want %d and %d",
			lossy, resp.GetAcceptedSpans(), resp.GetRejectedItems(), goodSpans, badSpans)
	}
	resp, err = client.Export(actx, lossBatch(clean, now, cleanSpans, cleanLogs))
	if err != nil {
		t.Fatalf("export %s: %v", clean, err)
	}
	if resp.GetAcceptedSpans() != cleanSpans || resp.GetAcceptedLogs() != cleanLogs || resp.GetRejectedItems() != 0 {
		t.Fatalf("export %s: %+v, want %d spans and %d logs accepted, none rejected", clean, resp, cleanSpans, cleanLogs)
	}
	if err := stack.WaitStored(ctx); err != nil {
		t.Fatal(err)
	}

	// The WAL is empty once every batch's insert returned, and a write
	// records the losses pending before it returns: the report is whole.
	got := completenessByFunction(ctx, t, stack)

	l := got[lossy]
	if l.Invocations != 1 || l.SpansExpected != goodSpans+badSpans || l.SpansStored != goodSpans {
		t.Errorf("%s: %d records, spans stored/expected %d/%d; want 1, %d/%d",
			lossy, l.Invocations, l.SpansStored, l.SpansExpected, goodSpans, goodSpans+badSpans)
	}
	wantLost := []query.Loss{{Stage: query.StageCollector, Spans: badSpans}}
	if fmt.Sprint(l.Lost) != fmt.Sprint(wantLost) {
		t.Errorf("%s: lost %+v, want %+v (the spans the collector left out, recorded in ingest_losses)", lossy, l.Lost, wantLost)
	}
	if want := 100 * float64(goodSpans) / (goodSpans + badSpans); l.Percent != want {
		t.Errorf("%s: %.2f %% complete, want %.2f %%", lossy, l.Percent, want)
	}

	c := got[clean]
	if c.Invocations != 1 || c.SpansExpected != cleanSpans || c.LogLinesExpected != cleanLogs ||
		c.SpansStored != cleanSpans || c.LogLinesStored != cleanLogs {
		t.Errorf("%s: %d records, spans %d/%d, logs %d/%d stored/expected; want 1, %d/%d, %d/%d", clean, c.Invocations,
			c.SpansStored, c.SpansExpected, c.LogLinesStored, c.LogLinesExpected, cleanSpans, cleanSpans, cleanLogs, cleanLogs)
	}
	if c.Percent != 100 || len(c.Lost) != 0 {
		t.Errorf("%s: %.2f %% complete, lost %+v; want 100 %% and nothing lost", clean, c.Percent, c.Lost)
	}

	// The table a user reads names the stage and the count.
	out := runCLI(ctx, t, stack, "completeness", "--since", "1h")
	seen := map[string]bool{}
	for line := range strings.Lines(out) {
		fields := strings.Fields(line)
		if len(fields) < 3 {
			continue
		}
		seen[fields[2]] = true
		switch fields[2] {
		case lossy:
			if !strings.Contains(line, fmt.Sprintf("collector: %d spans", badSpans)) {
				t.Errorf("%s's line does not name the collector stage with %d spans:\n%s", lossy, badSpans, out)
			}
		case clean:
			if !strings.Contains(line, "100.00 %") {
				t.Errorf("%s's line does not read 100.00 %%:\n%s", clean, out)
			}
		}
	}
	if !seen[lossy] || !seen[clean] {
		t.Errorf("the table lists %s %v and %s %v, want both:\n%s", lossy, seen[lossy], clean, seen[clean], out)
	}
}

// lossBatch is an Ingest API batch of fn with one invocation record at
// t whose counts say it received the spans and log lines the batch
// holds.
func lossBatch(fn string, t time.Time, spans, logs int) *ingestv1.ExportRequest {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	traceID := make([]byte, 16)
	_, _ = rand.Read(traceID)
	start, end := uint64(t.UnixNano()), uint64(t.Add(time.Millisecond).UnixNano())
	req := &ingestv1.ExportRequest{
		BatchId:  id,
		Function: &ingestv1.FunctionIdentity{Name: fn, Version: "$LATEST", Region: "us-east-1", AccountId: "123456789012", MemoryMb: 256},
		Invocations: []*ingestv1.Invocation{{
			RequestId: fmt.Sprintf("req-%x", id[:8]), StartTimeUnixNano: start,
			DurationMs: 12.5, BilledDurationMs: 13, MemorySizeMb: 256, MaxMemoryUsedMb: 40, Status: "success",
			TraceId:   traceID,
			Telemetry: &ingestv1.TelemetryCounts{SpansReceived: uint64(spans), LogLinesReceived: uint64(logs)},
		}},
	}
	var ss []*tracepb.Span
	for i := range spans {
		ss = append(ss, &tracepb.Span{TraceId: traceID, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, byte(i + 1)},
			Name: "work", StartTimeUnixNano: start, EndTimeUnixNano: end})
	}
	req.ResourceSpans = []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: ss}}}}
	var ls []*logspb.LogRecord
	for i := range logs {
		ls = append(ls, &logspb.LogRecord{TimeUnixNano: start, SeverityText: "INFO",
			Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fmt.Sprintf("line %d", i)}}})
	}
	if len(ls) > 0 {
		req.ResourceLogs = []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: ls}}}}
	}
	return req
}

// completenessByFunction reads `lambdascope completeness --since 1h
// --output json` by function.
func completenessByFunction(ctx context.Context, t *testing.T, stack *local.Stack) map[string]query.Completeness {
	t.Helper()
	var hours []query.Completeness
	out := runCLI(ctx, t, stack, "completeness", "--since", "1h", "--output", "json")
	if err := json.Unmarshal([]byte(out), &hours); err != nil {
		t.Fatalf("lambdascope completeness --output json: %v\n%s", err, out)
	}
	byFn := map[string]query.Completeness{}
	for _, h := range hours {
		if _, dup := byFn[h.FunctionName]; dup {
			t.Fatalf("%s in two hours of the report; its items were all sent in one:\n%s", h.FunctionName, out)
		}
		byFn[h.FunctionName] = h
	}
	return byFn
}

// runCLI runs the lambdascope CLI against the stack's ClickHouse and
// returns its standard output.
func runCLI(ctx context.Context, t *testing.T, stack *local.Stack, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, stack.Bin.CLI, args...)
	cmd.Env = append(os.Environ(), "LAMBDASCOPE_CLICKHOUSE_DSN="+stack.DSN)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lambdascope %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}
