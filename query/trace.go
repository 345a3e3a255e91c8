package query

import (
	"bytes"
	"slices"
	"time"
)

// Span kinds, as in OTLP.
const (
	SpanKindUnspecified int32 = 0
	SpanKindInternal    int32 = 1
	SpanKindServer      int32 = 2
	SpanKindClient      int32 = 3
	SpanKindProducer    int32 = 4
	SpanKindConsumer    int32 = 5
)

// Trace is one distributed trace as a forest of spans: normally one root,
// more when spans are missing or the links are broken.
type Trace struct {
	TraceID TraceID `json:"traceId"`
	// Roots are sorted by start; orphans (spans whose parent is not stored)
	// are roots too, flagged on the node.
	Roots []*Node `json:"roots"`
	// SpanCount is the number of nodes in the tree.
	SpanCount int `json:"spanCount"`
	// DroppedDuplicates counts stored copies of a span identical to one
	// already in the tree (same ID, parent, name, start and duration).
	DroppedDuplicates int `json:"droppedDuplicates,omitempty"`
	// Start and End bound the trace as displayed (after skew correction).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// LinksOut are the links this trace's spans hold to spans of other
	// traces (where a consumed batch's records came from), LinksIn the
	// spans of other traces linking to spans of this one (the consumers of
	// what it produced), at most MaxTraceLinksIn. BuildTrace leaves them
	// empty; TraceByID reads them.
	LinksOut         []TraceLink `json:"linksOut,omitempty"`
	LinksIn          []TraceLink `json:"linksIn,omitempty"`
	LinksInTruncated bool        `json:"linksInTruncated,omitempty"`
}

// Duration is the displayed length of the whole trace.
func (t *Trace) Duration() time.Duration { return t.End.Sub(t.Start) }

// Walk calls fn for every node, parents before children, in display order.
// It stops when fn returns false.
func (t *Trace) Walk(fn func(*Node) bool) {
	stack := make([]*Node, 0, len(t.Roots))
	for i := len(t.Roots) - 1; i >= 0; i-- {
		stack = append(stack, t.Roots[i])
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !fn(n) {
			return
		}
		for i := len(n.Children) - 1; i >= 0; i-- {
			stack = append(stack, n.Children[i])
		}
	}
}

// Node is one span in a trace tree.
type Node struct {
	Span Span `json:"span"`
	// Invocation is the platform's record of the invocation the span ran in,
	// nil when there is none: matched by the span's request ID, or inherited
	// from the parent when the span has no request ID and comes from the
	// same function.
	Invocation *Invocation `json:"invocation,omitempty"`
	// InvocationEntry marks the outermost span of its invocation: the parent
	// belongs to another invocation or there is no parent. lambda.init,
	// which runs before the invocation, is never its entry.
	InvocationEntry bool `json:"invocationEntry,omitempty"`
	// Children are sorted by displayed start.
	Children []*Node `json:"children,omitempty"`
	// Depth is 0 for roots.
	Depth int `json:"depth"`
	// Orphan marks a span whose parent is not in the trace; it is shown as
	// an extra root (or under its invocation's lambda.invoke, see Rehung).
	Orphan bool `json:"orphan,omitempty"`
	// CycleBroken marks a span whose parent link was dropped because the
	// links formed a cycle; it is shown as an extra root.
	CycleBroken bool `json:"cycleBroken,omitempty"`
	// DuplicateID marks a span that shares its span ID with another,
	// different span in the trace. Children attach to the earliest one.
	DuplicateID bool `json:"duplicateId,omitempty"`
	// Skew is how far the span was moved for display so that it lies within
	// its parent despite clocks that disagree between functions: displayed
	// start = Span.Start + Skew. Descendants move with their parent.
	Skew time.Duration `json:"skewNs,omitempty"`
	// Parent is the node this one is shown under, nil for roots.
	Parent *Node `json:"-"`
	// Rehung marks a span shown under another parent than the one it
	// names: an invocation's lambda.invoke takes the place of the
	// function's span it was stored under, which then hangs under it, and
	// lambda.init becomes lambda.invoke's sibling.
	Rehung bool `json:"rehung,omitempty"`

	idx int // position in BuildTrace's node slice
}

// Start is the displayed start of the span.
func (n *Node) Start() time.Time { return n.Span.Start.Add(n.Skew) }

// End is the displayed end of the span.
func (n *Node) End() time.Time { return n.Span.End().Add(n.Skew) }

// BuildTrace assembles spans of one trace into a tree and attaches each span's
// invocation record by request ID. It never fails: missing parents, cycles
// and duplicate span IDs are resolved and flagged on the nodes. The spans
// slice is not modified.
//
// Each span hangs under the span it names as parent, with two exceptions:
// spans whose parent is not stored (or whose links form a cycle) become
// roots, and an invocation's platform spans are put where the platform ran
// them (see hangPlatformSpans): lambda.invoke holds the function's span of
// the invocation, lambda.init precedes it.
func BuildTrace(traceID TraceID, spans []Span, invocations []Invocation) *Trace {
	nodes := make([]Node, len(spans))
	for i := range spans {
		nodes[i].Span = spans[i]
	}
	return buildTrace(traceID, nodes, invocations)
}

// buildTrace is BuildTrace on nodes holding the spans and nothing else,
// which it takes over: the tree is made of them, without a copy when they
// come in order of start (then span ID), as storage reads them.
func buildTrace(traceID TraceID, nodes []Node, invocations []Invocation) *Trace {
	t := &Trace{TraceID: traceID}
	if len(nodes) == 0 {
		return t
	}
	nodes, first := distinctNodes(t, inStartOrder(nodes))
	t.SpanCount = len(nodes)
	parent := linkParents(nodes, first, invocationsByRequest(invocations))
	hangPlatformSpans(nodes, parent)
	attachChildren(nodes, parent)
	w := treeWalker{nodes: nodes, visited: make([]bool, len(nodes))}
	for i := range nodes {
		nodes[i].idx = i
	}
	for i := range nodes {
		if parent[i] < 0 {
			t.Roots = append(t.Roots, &nodes[i])
			w.visit(&nodes[i])
		}
	}
	t.Roots = append(t.Roots, w.breakCycles(parent)...)
	slices.SortStableFunc(t.Roots, func(a, b *Node) int { return a.Start().Compare(b.Start()) })
	t.Start, t.End = displayedBounds(nodes)
	return t
}

// invocationsByRequest indexes invocations by request ID; the first of
// several with the same ID wins.
func invocationsByRequest(invocations []Invocation) map[string]*Invocation {
	byRequest := make(map[string]*Invocation, len(invocations))
	for i := range invocations {
		inv := &invocations[i]
		if _, seen := byRequest[inv.RequestID]; !seen && inv.RequestID != "" {
			byRequest[inv.RequestID] = inv
		}
	}
	return byRequest
}

// inStartOrder is nodes in order of start, then span ID, those equal in
// both in the order given: nodes itself when they are in that order
// already (a check is cheaper than a sort), else a sorted copy.
func inStartOrder(nodes []Node) []Node {
	byStart := func(sa, sb *Span) int {
		if c := sa.Start.Compare(sb.Start); c != 0 {
			return c
		}
		return bytes.Compare(sa.SpanID[:], sb.SpanID[:])
	}
	sorted := true
	for i := 1; i < len(nodes) && sorted; i++ {
		sorted = byStart(&nodes[i-1].Span, &nodes[i].Span) <= 0
	}
	if sorted {
		return nodes
	}
	order := make([]int, len(nodes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return byStart(&nodes[a].Span, &nodes[b].Span) })
	out := make([]Node, len(nodes))
	for i, idx := range order {
		out[i] = nodes[idx]
	}
	return out
}

// distinctNodes keeps one node per distinct span of nodes (in order of
// start), in place: an exact copy of a span already seen is dropped and
// counted on t, a different span with the same ID is kept and both are
// flagged. first maps each span ID to its earliest node.
func distinctNodes(t *Trace, nodes []Node) (kept []Node, first map[SpanID]int) {
	first = make(map[SpanID]int, len(nodes))
	w := 0
	for i := range nodes {
		s := &nodes[i].Span
		if j, dup := first[s.SpanID]; dup {
			o := &nodes[j].Span
			if o.ParentSpanID == s.ParentSpanID && o.Name == s.Name && o.Start.Equal(s.Start) && o.Duration == s.Duration {
				t.DroppedDuplicates++
				continue
			}
			nodes[j].DuplicateID = true
			nodes[i].DuplicateID = true
		} else {
			first[s.SpanID] = w
		}
		if w != i {
			nodes[w] = nodes[i]
		}
		w++
	}
	clear(nodes[w:])
	return nodes[:w], first
}

// linkParents gives each node its invocation by request ID and returns the
// index of each node's parent, -1 for roots: a span whose parent is not
// stored is an orphan, one that names itself has its cycle broken.
func linkParents(nodes []Node, first map[SpanID]int, byRequest map[string]*Invocation) []int {
	parent := make([]int, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		n.Invocation = byRequest[n.Span.RequestID]
		parent[i] = -1
		if n.Span.ParentSpanID.IsZero() {
			continue
		}
		p, ok := first[n.Span.ParentSpanID]
		switch {
		case !ok:
			n.Orphan = true
		case p == i:
			n.CycleBroken = true
		default:
			parent[i] = p
		}
	}
	return parent
}

// attachChildren fills each node's Children from parent, in node order.
func attachChildren(nodes []Node, parent []int) {
	childCount := make([]int, len(nodes))
	for _, p := range parent {
		if p >= 0 {
			childCount[p]++
		}
	}
	for i := range nodes {
		if childCount[i] > 0 {
			nodes[i].Children = make([]*Node, 0, childCount[i])
		}
	}
	for i, p := range parent {
		if p >= 0 {
			nodes[p].Children = append(nodes[p].Children, &nodes[i])
		}
	}
}

// treeWalker visits the trees of a trace from their roots, filling in what
// a node learns from its parent, and remembers which nodes it reached.
type treeWalker struct {
	nodes   []Node
	visited []bool
	stack   []*Node
}

// visit walks the tree under root: each child gets its parent, depth,
// skew, inherited invocation and entry flag, and children are sorted by
// displayed start.
func (w *treeWalker) visit(root *Node) {
	root.Depth = 0
	root.Parent = nil
	root.InvocationEntry = root.Invocation != nil && root.Span.Name != PlatformInitSpan
	w.stack = append(w.stack[:0], root)
	w.visited[root.idx] = true
	for len(w.stack) > 0 {
		n := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		for _, c := range n.Children {
			w.visited[c.idx] = true
			c.Parent = n
			c.Depth = n.Depth + 1
			c.Skew = skewFor(n, c)
			if c.Invocation == nil && c.Span.RequestID == "" && c.Span.Source() == n.Span.Source() {
				c.Invocation = n.Invocation
			}
			c.InvocationEntry = c.Invocation != nil && c.Invocation != n.Invocation && c.Span.Name != PlatformInitSpan
		}
		slices.SortStableFunc(n.Children, func(a, b *Node) int { return a.Start().Compare(b.Start()) })
		for i := len(n.Children) - 1; i >= 0; i-- {
			w.stack = append(w.stack, n.Children[i])
		}
	}
}

// breakCycles turns what no root reached (it hangs off a cycle) into
// trees and returns their roots: walking up from the earliest unvisited
// node until a node repeats finds a node on the cycle, whose parent link
// is cut.
func (w *treeWalker) breakCycles(parent []int) []*Node {
	var roots []*Node
	nodes := w.nodes
	for i := range nodes {
		if w.visited[i] {
			continue
		}
		seen := map[int]bool{}
		c := i
		for !seen[c] {
			seen[c] = true
			c = parent[c]
		}
		p := parent[c]
		nodes[p].Children = slices.DeleteFunc(nodes[p].Children, func(n *Node) bool { return n == &nodes[c] })
		parent[c] = -1
		nodes[c].CycleBroken = true
		roots = append(roots, &nodes[c])
		w.visit(&nodes[c])
	}
	return roots
}

// displayedBounds is the earliest displayed start and latest displayed end
// of the nodes (at least one).
func displayedBounds(nodes []Node) (start, end time.Time) {
	start, end = nodes[0].Start(), nodes[0].End()
	for i := range nodes {
		if s := nodes[i].Start(); s.Before(start) {
			start = s
		}
		if e := nodes[i].End(); e.After(end) {
			end = e
		}
	}
	return start, end
}

// skewFor returns the display shift of child c under parent p. A child
// inherits its parent's shift. Spans on another clock (another function or
// invocation) that still start before the parent or end after it are moved
// inside it; asynchronous links (producer → consumer) are left alone, since
// a consumer may rightly run after its producer ended.
func skewFor(p, c *Node) time.Duration {
	skew := p.Skew
	pr, cr := p.Span.RequestID, c.Span.RequestID
	sameClock := p.Span.Source() == c.Span.Source() && (pr == "" || cr == "" || pr == cr)
	if sameClock || p.Span.Kind == SpanKindProducer || c.Span.Kind == SpanKindConsumer {
		return skew
	}
	ps, pe := p.Start(), p.End()
	cs := c.Span.Start.Add(skew)
	ce := cs.Add(c.Span.Duration)
	switch {
	case c.Span.Duration >= pe.Sub(ps), cs.Before(ps):
		skew += ps.Sub(cs)
	case ce.After(pe):
		skew -= ce.Sub(pe)
	}
	return skew
}
