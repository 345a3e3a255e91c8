package query

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var base = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// sp describes one span of a test trace; times are milliseconds after base.
type sp struct {
	id, parent string
	start, dur int
	fn, req    string
	kind       int32
	name       string // span name; defaults to id
}

func spanID(name string) SpanID {
	var id SpanID
	copy(id[:], name)
	return id
}

func makeSpans(t testing.TB, specs ...sp) []Span {
	t.Helper()
	out := make([]Span, len(specs))
	for i, s := range specs {
		if len(s.id) == 0 || len(s.id) > 8 || len(s.parent) > 8 {
			t.Fatalf("span spec %d: ids must be 1-8 characters", i)
		}
		name := s.name
		if name == "" {
			name = s.id
		}
		out[i] = Span{
			TraceID:      TraceID{1},
			SpanID:       spanID(s.id),
			ParentSpanID: spanID(s.parent),
			Start:        base.Add(time.Duration(s.start) * time.Millisecond),
			Duration:     time.Duration(s.dur) * time.Millisecond,
			Name:         name,
			FunctionName: s.fn,
			RequestID:    s.req,
			Kind:         s.kind,
		}
	}
	return out
}

// outline renders a trace's shape: name{flags}[children], roots separated by
// spaces.
func outline(tr *Trace) string {
	var b strings.Builder
	var write func(n *Node)
	write = func(n *Node) {
		b.WriteString(n.Span.Name)
		var flags []string
		if n.Orphan {
			flags = append(flags, "orphan")
		}
		if n.CycleBroken {
			flags = append(flags, "cycle")
		}
		if n.DuplicateID {
			flags = append(flags, "dup")
		}
		if n.Rehung {
			flags = append(flags, "rehung")
		}
		if n.Skew != 0 {
			flags = append(flags, "skew="+n.Skew.String())
		}
		switch {
		case n.InvocationEntry:
			flags = append(flags, "inv="+n.Invocation.RequestID)
		case n.Invocation != nil:
			flags = append(flags, "in="+n.Invocation.RequestID)
		}
		if len(flags) > 0 {
			b.WriteString("{" + strings.Join(flags, ",") + "}")
		}
		if len(n.Children) > 0 {
			b.WriteString("[")
			for i, c := range n.Children {
				if i > 0 {
					b.WriteString(",")
				}
				write(c)
			}
			b.WriteString("]")
		}
	}
	for i, r := range tr.Roots {
		if i > 0 {
			b.WriteString(" ")
		}
		write(r)
	}
	return b.String()
}

func TestBuildTraceShapes(t *testing.T) {
	tests := []struct {
		name  string
		spans []sp
		invs  []Invocation
		want  string
	}{
		{
			name: "children sorted by start whatever the input order",
			spans: []sp{
				{id: "c", parent: "a", start: 50, dur: 10},
				{id: "a", start: 0, dur: 100},
				{id: "d", parent: "b", start: 20, dur: 5},
				{id: "b", parent: "a", start: 10, dur: 30},
			},
			want: "a[b[d],c]",
		},
		{
			name: "missing parent becomes a flagged extra root",
			spans: []sp{
				{id: "a", start: 0, dur: 100},
				{id: "b", parent: "a", start: 10, dur: 10},
				{id: "x", parent: "gone", start: 5, dur: 50},
				{id: "y", parent: "x", start: 6, dur: 5},
			},
			want: "a[b] x{orphan}[y]",
		},
		{
			name: "span that is its own parent",
			spans: []sp{
				{id: "a", parent: "a", start: 0, dur: 10},
			},
			want: "a{cycle}",
		},
		{
			name: "two-span cycle is cut at the span where the walk meets itself",
			spans: []sp{
				{id: "a", parent: "b", start: 0, dur: 10},
				{id: "b", parent: "a", start: 1, dur: 5},
			},
			want: "a{cycle}[b]",
		},
		{
			name: "cycle with a branch hanging off it, next to a normal tree",
			spans: []sp{
				{id: "r", start: 0, dur: 100},
				{id: "h", parent: "b", start: 1, dur: 1},
				{id: "a", parent: "c", start: 2, dur: 10},
				{id: "b", parent: "a", start: 3, dur: 5},
				{id: "c", parent: "b", start: 4, dur: 3},
			},
			want: "r b{cycle}[h,c[a]]",
		},
		{
			name: "identical copies of a span are dropped",
			spans: []sp{
				{id: "a", start: 0, dur: 100},
				{id: "b", parent: "a", start: 10, dur: 10},
				{id: "b", parent: "a", start: 10, dur: 10},
			},
			want: "a[b]",
		},
		{
			name: "spans after a dropped copy keep their parents and flags",
			spans: []sp{
				{id: "a", start: 0, dur: 100},
				{id: "b", parent: "a", start: 10, dur: 10},
				{id: "b", parent: "a", start: 10, dur: 10},
				{id: "c", parent: "b", start: 20, dur: 5},
				{id: "d", parent: "c", start: 30, dur: 1},
				{id: "c", parent: "a", start: 40, dur: 5, name: "c2"},
				{id: "b", parent: "a", start: 10, dur: 10},
			},
			want: "a[b[c{dup}[d]],c2{dup}]",
		},
		{
			name: "different spans sharing an ID are both kept and flagged",
			spans: []sp{
				{id: "a", start: 0, dur: 100},
				{id: "b", parent: "a", start: 10, dur: 10, name: "b1"},
				{id: "b", parent: "a", start: 20, dur: 10, name: "b2"},
				{id: "c", parent: "b", start: 30, dur: 1},
			},
			want: "a[b1{dup}[c],b2{dup}]",
		},
		{
			name: "other function starting before its parent is moved in, with its subtree",
			spans: []sp{
				{id: "a", start: 100, dur: 100, fn: "front"},
				{id: "b", parent: "a", start: 70, dur: 50, fn: "back"},
				{id: "c", parent: "b", start: 80, dur: 10, fn: "back"},
			},
			want: "a[b{skew=30ms}[c{skew=30ms}]]",
		},
		{
			name: "other function ending after its parent is moved back",
			spans: []sp{
				{id: "a", start: 0, dur: 100, fn: "front"},
				{id: "b", parent: "a", start: 80, dur: 40, fn: "back"},
			},
			want: "a[b{skew=-20ms}]",
		},
		{
			name: "child longer than its parent is aligned to the parent's start",
			spans: []sp{
				{id: "a", start: 0, dur: 100, fn: "front"},
				{id: "b", parent: "a", start: 50, dur: 200, fn: "back"},
			},
			want: "a[b{skew=-50ms}]",
		},
		{
			name: "same function outliving its parent is left alone",
			spans: []sp{
				{id: "a", start: 0, dur: 100, fn: "front"},
				{id: "b", parent: "a", start: 80, dur: 40, fn: "front"},
			},
			want: "a[b]",
		},
		{
			name: "consumer after its producer is left alone",
			spans: []sp{
				{id: "a", start: 0, dur: 100, fn: "front", kind: SpanKindProducer},
				{id: "b", parent: "a", start: 500, dur: 40, fn: "worker", kind: SpanKindConsumer},
			},
			want: "a[b]",
		},
		{
			name: "skew reorders siblings by displayed start",
			spans: []sp{
				{id: "a", start: 100, dur: 100, fn: "front"},
				{id: "b", parent: "a", start: 50, dur: 10, fn: "back"},
				{id: "c", parent: "a", start: 105, dur: 10, fn: "front"},
			},
			want: "a[b{skew=50ms},c]",
		},
		{
			name: "invocations joined by request ID, entry marked once",
			spans: []sp{
				{id: "a", start: 0, dur: 100, fn: "front", req: "r1"},
				{id: "b", parent: "a", start: 10, dur: 50, fn: "front", req: "r1"},
				{id: "c", parent: "b", start: 20, dur: 20, fn: "back", req: "r2"},
				{id: "d", parent: "c", start: 25, dur: 5, fn: "back", req: "r2"},
				{id: "e", parent: "a", start: 70, dur: 5, fn: "other", req: "r3"},
			},
			invs: []Invocation{{RequestID: "r1", FunctionName: "front"}, {RequestID: "r2", FunctionName: "back"}},
			want: "a{inv=r1}[b{in=r1}[c{inv=r2}[d{in=r2}]],e]",
		},
		{
			name: "spans without request ID inherit the invocation within one function only",
			spans: []sp{
				{id: "a", start: 0, dur: 100, fn: "front", req: "r1"},
				{id: "b", parent: "a", start: 10, dur: 50, fn: "front"},
				{id: "c", parent: "b", start: 20, dur: 20, fn: "front"},
				{id: "d", parent: "b", start: 45, dur: 5, fn: "back"},
			},
			invs: []Invocation{{RequestID: "r1", FunctionName: "front"}},
			want: "a{inv=r1}[b{in=r1}[c{in=r1},d]]",
		},
		{
			// As the extension stores them: the platform's spans under the
			// handler span they began before.
			name: "lambda.invoke holds the handler it was stored under, lambda.init beside it",
			spans: []sp{
				{id: "h", start: 0, dur: 200, fn: "orders", req: "r1", kind: SpanKindServer},
				{id: "q", parent: "h", start: 20, dur: 10, fn: "orders"},
				{id: "inv", parent: "h", start: -3, dur: 210, fn: "orders", req: "r1", name: "lambda.invoke"},
				{id: "ovh", parent: "inv", start: 205, dur: 2, fn: "orders", req: "r1", name: "lambda.runtime_overhead"},
				{id: "init", parent: "h", start: -300, dur: 297, fn: "orders", req: "r1", name: "lambda.init"},
			},
			invs: []Invocation{{RequestID: "r1", FunctionName: "orders"}},
			want: "lambda.init{rehung,in=r1} lambda.invoke{rehung,inv=r1}[h{rehung,in=r1}[q{in=r1}],lambda.runtime_overhead{in=r1}]",
		},
		{
			name: "under a caller lambda.invoke takes the handler's place",
			spans: []sp{
				{id: "a", start: 0, dur: 400, fn: "front", req: "r0"},
				{id: "call", parent: "a", start: 10, dur: 300, fn: "front", req: "r0", kind: SpanKindClient},
				{id: "h", parent: "call", start: 20, dur: 200, fn: "orders", req: "r1", kind: SpanKindServer},
				{id: "inv", parent: "h", start: 17, dur: 210, fn: "orders", req: "r1", name: "lambda.invoke"},
			},
			invs: []Invocation{{RequestID: "r0", FunctionName: "front"}, {RequestID: "r1", FunctionName: "orders"}},
			want: "a{inv=r0}[call{in=r0}[lambda.invoke{rehung,inv=r1}[h{rehung,in=r1}]]]",
		},
		{
			name: "an orphaned handler is still held by its lambda.invoke",
			spans: []sp{
				{id: "h", parent: "gone", start: 0, dur: 100, fn: "orders", req: "r1"},
				{id: "inv", parent: "h", start: -2, dur: 104, fn: "orders", req: "r1", name: "lambda.invoke"},
			},
			want: "lambda.invoke{rehung}[h{orphan,rehung}]",
		},
		{
			name: "platform spans of another invocation or function stay where they are",
			spans: []sp{
				{id: "h", start: 0, dur: 100, fn: "orders", req: "r1"},
				{id: "inv", parent: "h", start: 10, dur: 20, fn: "orders", req: "r2", name: "lambda.invoke"},
				{id: "inv2", parent: "h", start: 40, dur: 20, fn: "billing", req: "r1", name: "lambda.invoke"},
			},
			want: "h[lambda.invoke,lambda.invoke]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans := makeSpans(t, tt.spans...)
			tr := BuildTrace(TraceID{1}, spans, tt.invs)
			if got := outline(tr); got != tt.want {
				t.Fatalf("outline = %s\nwant      %s", got, tt.want)
			}
			checkInvariants(t, tr, len(spans))
		})
	}
}

// checkInvariants verifies what must hold for any trace: every node is
// reached exactly once, depths follow the tree, children are sorted and lie
// under the span they name as parent, displayed bounds cover every node.
func checkInvariants(t *testing.T, tr *Trace, inputSpans int) {
	t.Helper()
	seen := make(map[*Node]bool)
	var check func(n *Node, parent *Node)
	check = func(n *Node, parent *Node) {
		if seen[n] {
			t.Fatalf("span %s reached twice", n.Span.Name)
		}
		seen[n] = true
		if parent == nil && n.Parent != nil {
			t.Errorf("root %s has Parent %s", n.Span.Name, n.Parent.Span.Name)
		}
		if parent == nil && n.Depth != 0 {
			t.Errorf("root %s has depth %d", n.Span.Name, n.Depth)
		}
		if parent != nil {
			if n.Depth != parent.Depth+1 {
				t.Errorf("span %s depth %d under depth %d", n.Span.Name, n.Depth, parent.Depth)
			}
			if n.Parent != parent {
				t.Errorf("span %s is under %s but its Parent is %v", n.Span.Name, parent.Span.Name, n.Parent)
			}
			if n.Span.ParentSpanID != parent.Span.SpanID && !n.Rehung {
				t.Errorf("span %s is under %s but names parent %s", n.Span.Name, parent.Span.Name, n.Span.ParentSpanID)
			}
		}
		if n.Start().Before(tr.Start) || n.End().After(tr.End) {
			t.Errorf("span %s [%s, %s] outside trace [%s, %s]", n.Span.Name, n.Start(), n.End(), tr.Start, tr.End)
		}
		for i, c := range n.Children {
			if i > 0 && c.Start().Before(n.Children[i-1].Start()) {
				t.Errorf("children of %s not sorted: %s before %s", n.Span.Name, n.Children[i-1].Span.Name, c.Span.Name)
			}
			check(c, n)
		}
	}
	for _, r := range tr.Roots {
		check(r, nil)
	}
	if len(seen) != tr.SpanCount {
		t.Errorf("reached %d nodes, SpanCount %d", len(seen), tr.SpanCount)
	}
	if tr.SpanCount+tr.DroppedDuplicates != inputSpans {
		t.Errorf("SpanCount %d + dropped %d != %d input spans", tr.SpanCount, tr.DroppedDuplicates, inputSpans)
	}
	walked := 0
	tr.Walk(func(*Node) bool { walked++; return true })
	if walked != tr.SpanCount {
		t.Errorf("Walk visited %d nodes, want %d", walked, tr.SpanCount)
	}
}

func TestBuildTraceEmpty(t *testing.T) {
	tr := BuildTrace(TraceID{1}, nil, nil)
	if len(tr.Roots) != 0 || tr.SpanCount != 0 {
		t.Fatalf("empty input gave %d roots, %d spans", len(tr.Roots), tr.SpanCount)
	}
}

func TestBuildTraceDoesNotModifyInput(t *testing.T) {
	spans := makeSpans(t, sp{id: "b", parent: "a", start: 10, dur: 1}, sp{id: "a", start: 0, dur: 100})
	BuildTrace(TraceID{1}, spans, nil)
	if spans[0].Name != "b" || spans[1].Name != "a" {
		t.Fatalf("input reordered: %s, %s", spans[0].Name, spans[1].Name)
	}
}

// bigTrace builds n spans: each span's parent is a random earlier span
// (a few parents missing), on one of several functions with skewed clocks.
func bigTrace(n int, seed uint64) []Span {
	r := rand.New(rand.NewPCG(seed, seed+1))
	spans := make([]Span, n)
	clock := []time.Duration{0, 40 * time.Millisecond, -25 * time.Millisecond}
	for i := range spans {
		s := &spans[i]
		s.TraceID = TraceID{7}
		s.SpanID = SpanID{0: 1, 4: byte(i >> 16), 5: byte(i >> 8), 6: byte(i), 7: 1}
		s.Name = fmt.Sprintf("op-%d", i)
		fn := r.IntN(len(clock))
		s.FunctionName = fmt.Sprintf("fn-%d", fn)
		s.Duration = time.Duration(1+r.IntN(1000)) * time.Microsecond
		s.Start = base.Add(time.Duration(i)*time.Microsecond + clock[fn])
		if i == 0 {
			continue
		}
		if r.IntN(500) == 0 {
			s.ParentSpanID = SpanID{0: 0xee, 7: byte(i)}
			continue
		}
		s.ParentSpanID = spans[r.IntN(i)].SpanID
	}
	r.Shuffle(len(spans), func(i, j int) { spans[i], spans[j] = spans[j], spans[i] })
	return spans
}

func TestBuildTraceLarge(t *testing.T) {
	tests := []struct {
		name  string
		spans func() []Span
	}{
		{name: "10k random tree", spans: func() []Span { return bigTrace(10000, 1) }},
		{name: "10k deep chain", spans: func() []Span {
			spans := make([]Span, 10000)
			for i := range spans {
				spans[i] = Span{SpanID: SpanID{0: 1, 6: byte(i >> 8), 7: byte(i)}, Start: base.Add(time.Duration(i) * time.Microsecond), Duration: time.Second, Name: fmt.Sprint(i)}
				if i > 0 {
					spans[i].ParentSpanID = spans[i-1].SpanID
				}
			}
			return spans
		}},
		{name: "10k ring", spans: func() []Span {
			spans := make([]Span, 10000)
			for i := range spans {
				spans[i] = Span{SpanID: SpanID{0: 1, 6: byte(i >> 8), 7: byte(i)}, Start: base.Add(time.Duration(i) * time.Microsecond), Duration: time.Second, Name: fmt.Sprint(i)}
			}
			for i := range spans {
				spans[i].ParentSpanID = spans[(i+len(spans)-1)%len(spans)].SpanID
			}
			return spans
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans := tt.spans()
			tr := BuildTrace(TraceID{7}, spans, nil)
			checkInvariants(t, tr, len(spans))
			natural, orphans, cycles := 0, 0, 0
			tr.Walk(func(n *Node) bool {
				if n.Span.ParentSpanID.IsZero() {
					natural++
				}
				if n.Orphan {
					orphans++
				}
				if n.CycleBroken {
					cycles++
				}
				return true
			})
			if len(tr.Roots) != natural+orphans+cycles {
				t.Errorf("%d roots, want %d + %d orphans + %d cut cycles", len(tr.Roots), natural, orphans, cycles)
			}
		})
	}
}

func BenchmarkBuildTrace10k(b *testing.B) {
	spans := bigTrace(10000, 2)
	b.ReportAllocs()
	for b.Loop() {
		BuildTrace(TraceID{7}, spans, nil)
	}
}
