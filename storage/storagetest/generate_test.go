package storagetest_test

import (
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestGenerateWritesWholeTraces(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	st, err := storage.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
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
	again, err := storagetest.Generated(t.Context(), st, cfg)
	if err != nil || len(again.SampleTraces) != 16 || again.SampleTraces[0] != g.SampleTraces[0] {
		t.Errorf("Generated = %+v, %v; want the sample traces of Generate", again, err)
	}
	if err := storagetest.WaitForMerges(t.Context(), st); err != nil {
		t.Errorf("WaitForMerges: %v", err)
	}
}

func TestGenerateRefusesAnotherStore(t *testing.T) {
	if _, err := storagetest.Generate(t.Context(), fakeStore{}, storagetest.GenerateConfig{Spans: 12, End: time.Now(), Days: 1}); err == nil {
		t.Error("Generate into a store that is not a *storage.Store succeeded")
	}
}

type fakeStore struct{}

func (fakeStore) Database() string { return "db" }
