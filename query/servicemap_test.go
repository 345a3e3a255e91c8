package query_test

import (
	"math"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestServiceMapViewMatchesRawSpans loads the demo-like mix (functions
// invoking functions by faas.invoked_name, DynamoDB calls, failures) and
// reads the map three ways: from the service_map views, from raw spans
// only, and half from each (by the view's recorded horizon). The maps
// must be equal, and agree with the parent/child join of the raw spans on
// who calls whom and how often it failed.
func TestServiceMapViewMatchesRawSpans(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	end := time.Now().Add(-time.Hour).Truncate(time.Hour)
	cfg := querytest.LoadConfig{
		Traces: 3000, FunctionsPerTrace: 3, SpansPerInvocation: 4, Functions: 12,
		End: end, Days: 1, BatchInvocations: 2000, Seed: 7,
	}
	if _, err := querytest.Load(t.Context(), st, cfg); err != nil {
		t.Fatalf("load: %v", err)
	}
	svc := query.NewService(st)
	// Ragged bounds: the partial minutes at both ends come from raw spans.
	r := query.TimeRange{Since: end.Add(-24*time.Hour + 90*time.Second + 500*time.Millisecond), Until: end.Add(-30*time.Second - time.Millisecond)}

	readMap := func(t *testing.T, horizon time.Time) *query.ServiceMap {
		t.Helper()
		if !horizon.IsZero() {
			if err := chtest.ConnTo(t, st.Config().DSN).Exec(t.Context(), "INSERT INTO "+st.Database()+".view_horizons (view, horizon_unix_nano) SELECT 'service_map', toUInt64(?)",
				horizon.UnixNano()); err != nil {
				t.Fatalf("record horizon: %v", err)
			}
		}
		m, err := svc.ServiceMap(t.Context(), r)
		if err != nil {
			t.Fatalf("ServiceMap: %v", err)
		}
		return m
	}
	// Horizons only grow (the latest counts), so the view is read first.
	fromView := readMap(t, time.Time{})
	mixed := readMap(t, end.Add(-12*time.Hour+17*time.Second))
	fromRaw := readMap(t, end.Add(time.Hour))

	for _, tt := range []struct {
		name string
		m    *query.ServiceMap
	}{{"mixed", mixed}, {"raw", fromRaw}} {
		t.Run(tt.name+" equals view", func(t *testing.T) {
			equalMaps(t, tt.m, fromView)
		})
	}

	t.Run("what the map shows", func(t *testing.T) {
		kinds := map[string]string{}
		for _, n := range fromView.Nodes {
			kinds[n.Name] = n.Kind
		}
		if kinds["dynamodb"] != query.NodeResource {
			t.Errorf("dynamodb node kind = %q, want resource (nodes %+v)", kinds["dynamodb"], fromView.Nodes)
		}
		var lambdaEdges, lambdaErrors, dbCalls uint64
		for _, e := range fromView.Edges {
			if kinds[e.Caller] != query.NodeFunction {
				t.Errorf("caller %q is a %q, want a function", e.Caller, kinds[e.Caller])
			}
			if e.P50 != 2*time.Millisecond || e.P99 != 2*time.Millisecond {
				t.Errorf("edge %s > %s: p50 %s, p99 %s; every generated call takes 2ms", e.Caller, e.Callee, e.P50, e.P99)
			}
			switch {
			case e.Callee == "dynamodb":
				dbCalls += e.Calls
			case kinds[e.Callee] == query.NodeFunction:
				lambdaEdges++
				lambdaErrors += e.Errors
			default:
				t.Errorf("unexpected edge %+v", e)
			}
		}
		if lambdaEdges == 0 || lambdaErrors == 0 || dbCalls == 0 {
			t.Errorf("%d function-to-function edges with %d errors, %d database calls; want each above 0", lambdaEdges, lambdaErrors, dbCalls)
		}
	})

	t.Run("agrees with the parent/child join", func(t *testing.T) {
		joined, err := st.SpanEdges(t.Context(), storage.SpanEdgeFilter{Since: r.Since, Until: r.Until})
		if err != nil {
			t.Fatalf("SpanEdges: %v", err)
		}
		type key struct{ caller, callee string }
		edges := map[key]query.MapEdge{}
		for _, e := range fromView.Edges {
			edges[key{e.Caller, e.Callee}] = e
		}
		for _, j := range joined {
			e, ok := edges[key{j.Caller, j.Callee}]
			// The join counts the callee's spans: a call whose client span
			// is at the range's start and its callee's just before it
			// differ by one at most at each end.
			if !ok || diff(e.Calls, j.Calls) > 2 || diff(e.Errors, j.Errors) > 2 {
				t.Errorf("join edge %s > %s: %d calls, %d errors; map has %+v", j.Caller, j.Callee, j.Calls, j.Errors, e)
			}
			delete(edges, key{j.Caller, j.Callee})
		}
		for k := range edges {
			t.Errorf("edge %s > %s is not in the join", k.caller, k.callee)
		}
	})
}

func diff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

func equalMaps(t *testing.T, got, want *query.ServiceMap) {
	t.Helper()
	if len(got.Nodes) != len(want.Nodes) || len(got.Edges) != len(want.Edges) {
		t.Fatalf("%d nodes and %d edges, want %d and %d", len(got.Nodes), len(got.Edges), len(want.Nodes), len(want.Edges))
	}
	for i := range want.Nodes {
		if got.Nodes[i] != want.Nodes[i] {
			t.Errorf("node %+v, want %+v", got.Nodes[i], want.Nodes[i])
		}
	}
	near := func(a, b time.Duration) bool { return math.Abs(float64(a-b)) <= 0.01*float64(b) }
	for i, w := range want.Edges {
		g := got.Edges[i]
		if g.Caller != w.Caller || g.Callee != w.Callee || g.Calls != w.Calls || g.Errors != w.Errors ||
			g.RatePerSecond != w.RatePerSecond || g.ErrorRate != w.ErrorRate ||
			!near(g.P50, w.P50) || !near(g.P95, w.P95) || !near(g.P99, w.P99) {
			t.Errorf("edge %+v, want %+v", g, w)
		}
	}
}
