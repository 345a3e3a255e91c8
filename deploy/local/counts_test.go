package local_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/storage"
)

// shutdownCounters are what the extensions of one function said, each in
// its "extension shut down" line, they received and shipped in all.
type shutdownCounters struct {
	environments                  int
	spans, logLines               uint64
	bytesReceived, bytesShipped   uint64
	linesWithCountsOnNoRecord     int
	linesWithoutTheCountersWeNeed int
}

// extensionCounters reads the "extension shut down" lines of fn's
// extensions in out.
func extensionCounters(out, fn string) shutdownCounters {
	var c shutdownCounters
	for line := range strings.Lines(out) {
		if !strings.HasPrefix(line, "["+fn+"/") || !strings.Contains(line, `msg="extension shut down"`) {
			continue
		}
		c.environments++
		if strings.Contains(line, "counted_on_no_record=") {
			c.linesWithCountsOnNoRecord++
		}
		fields := map[string]uint64{}
		for _, f := range strings.Fields(line) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				fields[k] = n
			}
		}
		for _, k := range []string{"received.spans", "received.logs", "received_bytes", "sent_bytes"} {
			if _, ok := fields[k]; !ok {
				c.linesWithoutTheCountersWeNeed++
				break
			}
		}
		c.spans += fields["received.spans"]
		c.logLines += fields["received.logs"]
		c.bytesReceived += fields["received_bytes"]
		c.bytesShipped += fields["sent_bytes"]
	}
	return c
}

// TestStoredCountsAreTheExtensionsFinalCounters runs the sample functions
// through the real collector into ClickHouse and shuts their environments
// down: for each function, the counts its invocation records stored add
// up to what its extensions counted in the end, the bytes of the flushes
// at SHUTDOWN included, and the spans and log lines they received are the
// ones stored (the completeness report reads 100 % with nothing
// unaccounted for).
func TestStoredCountsAreTheExtensionsFinalCounters(t *testing.T) {
	ctx := testContext(t)
	started := time.Now()
	stack, fnOut := startStackWithOutput(t, ctx, nil)
	calls := run(t, ctx, stack, local.Workload{Invocations: 8, Concurrency: 2})
	for _, c := range calls {
		if c.FunctionError != "" || c.StatusCode != 200 {
			t.Fatalf("orders call %d: function error %q, status %d", c.Index, c.FunctionError, c.StatusCode)
		}
	}
	if err := stack.StopFunctions(ctx); err != nil {
		t.Fatalf("stop functions: %v", err)
	}
	store, err := storage.Open(ctx, stack.DSN)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	defer store.Close()

	out := fnOut.String()
	for _, fn := range local.AllFunctions() {
		ext := extensionCounters(out, fn)
		if ext.environments == 0 || ext.linesWithoutTheCountersWeNeed > 0 {
			t.Fatalf("%s: %d shutdown lines, %d without the counters", fn, ext.environments, ext.linesWithoutTheCountersWeNeed)
		}
		if ext.linesWithCountsOnNoRecord > 0 {
			t.Errorf("%s: %d of %d environments left counts on no record", fn, ext.linesWithCountsOnNoRecord, ext.environments)
		}
		stored := storedCounts(ctx, t, store, fn, started)
		if stored.BytesShipped != ext.bytesShipped || stored.BytesReceived != ext.bytesReceived {
			t.Errorf("%s: records stored %d bytes shipped and %d received; its %d extensions shipped %d and received %d",
				fn, stored.BytesShipped, stored.BytesReceived, ext.environments, ext.bytesShipped, ext.bytesReceived)
		}
		if stored.SpansReceived != ext.spans || stored.LogLinesReceived != ext.logLines {
			t.Errorf("%s: records stored %d spans and %d log lines received; its extensions received %d and %d",
				fn, stored.SpansReceived, stored.LogLinesReceived, ext.spans, ext.logLines)
		}
		if stored.SpansStored != stored.SpansReceived || stored.LogLinesStored != stored.LogLinesReceived {
			t.Errorf("%s: %d spans and %d log lines stored, %d and %d received", fn,
				stored.SpansStored, stored.LogLinesStored, stored.SpansReceived, stored.LogLinesReceived)
		}
		if stored.BytesShipped == 0 || stored.SpansReceived == 0 {
			t.Errorf("%s: nothing counted: %+v", fn, stored)
		}
	}
}

// storedCounts sums fn's completeness report from since to now.
func storedCounts(ctx context.Context, t *testing.T, store *storage.Store, fn string, since time.Time) storage.CompletenessRecord {
	t.Helper()
	recs, err := store.Completeness(ctx, storage.UsageFilter{Since: since.Add(-time.Hour), Until: time.Now().Add(time.Hour), FunctionName: fn})
	if err != nil {
		t.Fatalf("%s completeness: %v", fn, err)
	}
	var sum storage.CompletenessRecord
	for _, r := range recs {
		sum.Invocations += r.Invocations
		sum.SpansReceived += r.SpansReceived
		sum.LogLinesReceived += r.LogLinesReceived
		sum.BytesReceived += r.BytesReceived
		sum.BytesShipped += r.BytesShipped
		sum.SpansStored += r.SpansStored
		sum.LogLinesStored += r.LogLinesStored
	}
	return sum
}
