package querybench

import (
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// spanShape is what makes a span demo-shaped, apart from its values.
type spanShape struct {
	Kind          uint8
	Function      string // the function's name without its -NN suffix
	RequestID     bool
	Attributes    string
	ResourceAttrs string
}

// shapes reads the shape of every span of the store by its function
// (without the -NN suffix) and name: the platform's spans have the same
// names in every function.
func shapes(t *testing.T, st *storage.Store) map[string]spanShape {
	t.Helper()
	rows, err := connOf(t, st).Query(t.Context(), `SELECT name, kind, function_name, request_id != '',
    arrayStringConcat(attributes.key, ','), arrayStringConcat(resource_attributes.key, ',')
FROM `+st.Database()+`.spans`)
	if err != nil {
		t.Fatalf("read span shapes: %v", err)
	}
	defer rows.Close()
	out := map[string]spanShape{}
	for rows.Next() {
		var name string
		var s spanShape
		if err := rows.Scan(&name, &s.Kind, &s.Function, &s.RequestID, &s.Attributes, &s.ResourceAttrs); err != nil {
			t.Fatalf("scan span shape: %v", err)
		}
		s.Function, _, _ = strings.Cut(s.Function, "-")
		key := s.Function + "/" + name
		if prev, ok := out[key]; ok && prev != s {
			t.Errorf("span %q comes in two shapes: %+v and %+v", key, prev, s)
		}
		out[key] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read span shapes: %v", err)
	}
	return out
}

func count(t *testing.T, st *storage.Store, sql string) uint64 {
	t.Helper()
	var n uint64
	if err := connOf(t, st).QueryRow(t.Context(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestGeneratedSpansAreDemoShaped holds the generator to the rows the write
// path stores for the demo's trace (storagetest.DemoTrace): the same spans
// of each function by name, kinds, attribute and resource attribute keys,
// request IDs on the same spans; and the generated traces to holding
// together: every parent stored in its trace, every invocation span with
// its invocation report, every request ID with its function's report.
func TestGeneratedSpansAreDemoShaped(t *testing.T) {
	demo, _ := querytest.OpenStore(t)
	reqs := storagetest.DemoTrace(rand.New(rand.NewPCG(1, 2)), time.Now().Add(-time.Hour))
	if _, err := demo.WriteExports(t.Context(), reqs); err != nil {
		t.Fatalf("write the demo trace: %v", err)
	}
	want := shapes(t, demo)

	st, _ := querytest.OpenStore(t)
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	d, err := Generate(t.Context(), connOf(t, st), st.Database(), Config{Spans: 12_000, End: end, Days: 2}, io.Discard)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	got := shapes(t, st)
	for name, w := range want {
		if got[name] != w {
			t.Errorf("span %q generated as %+v, stored from the demo as %+v", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("generated span names %v, the demo's %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}

	db := st.Database()
	for _, c := range []struct {
		what string
		sql  string
		want uint64
	}{
		{"spans", "SELECT count() FROM " + db + ".spans", 12_000},
		{"traces", "SELECT uniqExact(trace_id) FROM " + db + ".spans", 1_000},
		{"invocations", "SELECT count() FROM " + db + ".invocations", 2_000},
		{"roots", "SELECT countIf(parent_span_id = toFixedString(unhex('0000000000000000'), 8)) FROM " + db + ".spans", 1_000},
		{"spans whose parent is not in their trace", `SELECT count() FROM ` + db + `.spans
WHERE parent_span_id != toFixedString(unhex('0000000000000000'), 8)
    AND (trace_id, parent_span_id) NOT IN (SELECT trace_id, span_id FROM ` + db + `.spans)`, 0},
		{"invocation spans without their invocation", `SELECT count() FROM ` + db + `.spans
WHERE request_id != '' AND kind = 2 AND (request_id, function_name, trace_id, span_id, start_unix_nano) NOT IN
    (SELECT request_id, function_name, trace_id, span_id, start_unix_nano FROM ` + db + `.invocations)`, 0},
		{"request IDs without their invocation", `SELECT count() FROM ` + db + `.spans
WHERE request_id != '' AND (request_id, function_name, trace_id) NOT IN
    (SELECT request_id, function_name, trace_id FROM ` + db + `.invocations)`, 0},
		{"functions", "SELECT uniqExact(function_name) FROM " + db + ".spans", 40},
		{"failed spans against failed invocations", "SELECT countIf(status_code = 2) FROM " + db + ".spans", count(t, st, "SELECT countIf(status = 'error') FROM "+db+".invocations")},
	} {
		if n := count(t, st, c.sql); n != c.want {
			t.Errorf("%s: %d, want %d", c.what, n, c.want)
		}
	}
	// Every table a span feeds is fed.
	for _, table := range []string{"trace_hours", "service_map_minutes", "service_map_hours"} {
		if n := count(t, st, "SELECT count() FROM "+db+"."+table); n == 0 {
			t.Errorf("%s holds no rows", table)
		}
	}

	ids, err := TraceIDs(t.Context(), connOf(t, st), d, []uint64{0, 500, 999})
	if err != nil {
		t.Fatalf("trace IDs: %v", err)
	}
	svc := query.NewService(st)
	for _, id := range ids {
		tr, err := svc.TraceByID(t.Context(), id)
		if err != nil {
			t.Fatalf("trace %s: %v", id, err)
		}
		if len(tr.Roots) != 1 {
			t.Errorf("trace %s has %d roots, want 1", id, len(tr.Roots))
		}
		spans, withInvocation := 0, 0
		tr.Walk(func(n *query.Node) bool {
			spans++
			if n.Orphan {
				t.Errorf("trace %s: span %q is an orphan", id, n.Span.Name)
			}
			if n.Invocation != nil {
				withInvocation++
			}
			return true
		})
		// Every span but the root, API Gateway's hop before orders'
		// invocation, is in an invocation.
		if spans < SpansPerTrace || withInvocation < SpansPerTrace-1 {
			t.Errorf("trace %s: %d nodes, %d in an invocation; want at least %d and %d", id, spans, withInvocation, SpansPerTrace, SpansPerTrace-1)
		}
	}

	// The same data again is kept; other data is refused.
	if _, err := Generate(t.Context(), connOf(t, st), st.Database(), Config{Spans: 12_000, End: end, Days: 2}, io.Discard); err != nil {
		t.Errorf("generate the same data again: %v", err)
	}
	if _, err := Generate(t.Context(), connOf(t, st), st.Database(), Config{Spans: 24_000, End: end, Days: 2}, io.Discard); err == nil || !strings.Contains(err.Error(), "holds 12000 spans") {
		t.Errorf("generate other data into it: %v, want an error naming what it holds", err)
	}
	if d.Traces != 1_000 || d.Invocations != 2_000 {
		t.Errorf("generated %+v", d)
	}
}
