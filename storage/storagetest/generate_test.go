package storagetest_test

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestGenerateWritesWholeTraces(t *testing.T) {
	st := openStore(t)
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cfg := storagetest.GenerateConfig{Spans: 40 * storagetest.GeneratedSpansPerTrace, Invocations: 150, Functions: 8, End: end, Days: 2}
	g, err := storagetest.Generate(t.Context(), st, cfg)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if g.Spans != 480 || g.Invocations != 150 || len(g.SampleTraces) != 16 {
		t.Fatalf("Generate = %d spans, %d invocations, %d sample traces; want 480, 150, 16", g.Spans, g.Invocations, len(g.SampleTraces))
	}
	for _, id := range g.SampleTraces[:3] {
		spans, err := st.SpansByTraceID(t.Context(), id)
		if err != nil || len(spans) != storagetest.GeneratedSpansPerTrace {
			t.Errorf("SpansByTraceID(%x) = %d spans, %v; want %d", id, len(spans), err, storagetest.GeneratedSpansPerTrace)
		}
	}
	invs, err := st.Invocations(t.Context(), storage.InvocationFilter{Since: end.AddDate(0, 0, -2), Until: end, Limit: 1000})
	if err != nil || len(invs) != 150 {
		t.Errorf("Invocations = %d, %v; want 150", len(invs), err)
	}
	// Every report carries the extension's counts, and the log lines they
	// count are stored.
	recs, err := st.Completeness(t.Context(), storage.UsageFilter{Since: end.AddDate(0, 0, -2), Until: end})
	if err != nil {
		t.Fatalf("Completeness: %v", err)
	}
	var reports, spansReceived, spansStored, linesReceived, linesStored, lost uint64
	for _, r := range recs {
		reports += r.Invocations
		spansReceived += r.SpansReceived
		spansStored += r.SpansStored
		linesReceived += r.LogLinesReceived
		linesStored += r.LogLinesStored
		lost += r.SpansCollectorLost
	}
	if reports != 150 || spansReceived != 480 || spansStored != 480 || linesReceived == 0 || linesStored != linesReceived {
		t.Errorf("counted reports %d, spans received %d, stored %d, log lines received %d, stored %d; want 150, 480, 480, the lines received stored",
			reports, spansReceived, spansStored, linesReceived, linesStored)
	}
	again, err := storagetest.Generated(t.Context(), st, cfg)
	if err != nil || len(again.SampleTraces) != 16 || again.SampleTraces[0] != g.SampleTraces[0] {
		t.Errorf("Generated = %+v, %v; want the sample traces of Generate", again, err)
	}
	if err := storagetest.WaitForMerges(t.Context(), st); err != nil {
		t.Errorf("WaitForMerges: %v", err)
	}
}

// spanShape is what makes a stored span the demo's, apart from its values.
type spanShape struct {
	Kind          int32
	Parent        string // the parent's function (without -NN) and name
	RequestID     bool
	Attributes    string
	ResourceAttrs string
}

// traceShapes reads trace id's spans by their function (without the -NN
// suffix) and name.
func traceShapes(t *testing.T, st *storage.Store, id [16]byte) map[string]spanShape {
	t.Helper()
	spans, err := st.SpansByTraceID(t.Context(), id)
	if err != nil {
		t.Fatalf("SpansByTraceID(%x): %v", id, err)
	}
	fn := func(s storage.SpanRecord) string {
		f, _, _ := strings.Cut(s.FunctionName, "-")
		return f + "/" + s.Name
	}
	names := map[[8]byte]string{}
	for _, s := range spans {
		names[s.SpanID] = fn(s)
	}
	out := map[string]spanShape{}
	for _, s := range spans {
		sh := spanShape{Kind: s.Kind, RequestID: s.RequestID != "",
			Attributes:    strings.Join(slices.Sorted(maps.Keys(s.Attributes)), ","),
			ResourceAttrs: strings.Join(slices.Sorted(maps.Keys(s.ResourceAttributes)), ",")}
		if s.ParentSpanID != [8]byte{} {
			p, ok := names[s.ParentSpanID]
			if !ok {
				p = "(not in the trace)"
			}
			sh.Parent = p
		}
		k := fn(s)
		if _, dup := out[k]; dup {
			t.Errorf("trace %x has two spans %q", id, k)
		}
		out[k] = sh
	}
	return out
}

// TestGenerateIsTheDemoTrace holds the generated traces to the rows the
// write path stores for DemoTrace, the trace make demo stores for a placed
// order: the same spans of each function by name, their kinds, parents,
// attribute and resource attribute keys (aws.log.group.names among them),
// and request IDs on the same spans.
func TestGenerateIsTheDemoTrace(t *testing.T) {
	demo := openStore(t)
	at := time.Now().Add(-time.Hour)
	reqs := storagetest.DemoTrace(rand.New(rand.NewPCG(1, 2)), at)
	if _, err := demo.WriteExports(t.Context(), reqs); err != nil {
		t.Fatalf("write the demo trace: %v", err)
	}
	want := traceShapes(t, demo, [16]byte(reqs[0].ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId))
	if len(want) != storagetest.SpansPerDemoTrace {
		t.Fatalf("the demo trace stored as %d distinct spans, want %d", len(want), storagetest.SpansPerDemoTrace)
	}

	st := openStore(t)
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	g, err := storagetest.Generate(t.Context(), st, storagetest.GenerateConfig{Spans: 64 * storagetest.GeneratedSpansPerTrace, End: end, Days: 1})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if storagetest.GeneratedSpansPerTrace != storagetest.SpansPerDemoTrace {
		t.Errorf("GeneratedSpansPerTrace %d, the demo's %d", storagetest.GeneratedSpansPerTrace, storagetest.SpansPerDemoTrace)
	}
	for _, id := range g.SampleTraces[:4] {
		got := traceShapes(t, st, id)
		for name, w := range want {
			if g, ok := got[name]; !ok || g != w {
				t.Errorf("trace %x: span %q generated as %+v (present %t), stored from the demo as %+v", id, name, g, ok, w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("trace %x: generated spans %v, the demo's %v", id, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
	}
}

func TestGenerateRefusesAnotherStore(t *testing.T) {
	if _, err := storagetest.Generate(t.Context(), fakeStore{}, storagetest.GenerateConfig{Spans: 12, End: time.Now(), Days: 1}); err == nil {
		t.Error("Generate into a store that is not a *storage.Store succeeded")
	}
}

type fakeStore struct{}

func (fakeStore) Database() string { return "db" }
