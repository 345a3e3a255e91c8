package querytest

import (
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestLoadWritesWholeTraces(t *testing.T) {
	st, _ := OpenStore(t)
	cfg := DefaultLoadConfig()
	cfg.End = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cfg.Traces, cfg.UntracedInvocations, cfg.BatchInvocations, cfg.Days = 50, 70, 40, 2
	res, err := Load(t.Context(), st, cfg)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if res.Spans != 50*3*4 || res.Invocations != 50*3+70 || len(res.SampleTraces) != 16 {
		t.Fatalf("Load = %d spans, %d invocations, %d sample traces; want 600, 220, 16", res.Spans, res.Invocations, len(res.SampleTraces))
	}
	invs, err := st.Invocations(t.Context(), storage.InvocationFilter{Since: cfg.End.AddDate(0, 0, -cfg.Days), Until: cfg.End, Limit: 1000})
	if err != nil || len(invs) != res.Invocations {
		t.Errorf("Invocations = %d, %v; want %d", len(invs), err, res.Invocations)
	}
	for _, id := range res.SampleTraces[:4] {
		spans, err := st.SpansByTraceID(t.Context(), id)
		if err != nil || len(spans) != 12 {
			t.Fatalf("SpansByTraceID(%x) = %d spans, %v; want 12", id, len(spans), err)
		}
		ids := map[[8]byte]bool{}
		for _, s := range spans {
			ids[s.SpanID] = true
		}
		roots := 0
		for _, s := range spans {
			switch {
			case s.ParentSpanID == [8]byte{}:
				roots++
			case !ids[s.ParentSpanID]:
				t.Errorf("span %q of trace %x has a parent outside the trace", s.Name, id)
			}
		}
		if roots != 1 {
			t.Errorf("trace %x has %d roots, want 1", id, roots)
		}
	}
}
