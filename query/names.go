package query

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Keys of name filters.
const (
	NameKeyFunction = "function"
	NameKeyService  = "service"
)

// Operators of name filters.
const (
	OpEqual    = "="
	OpNotEqual = "!="
	OpMatch    = "=~"
	OpNotMatch = "!~"
)

// MaxNamePatternSize bounds the pattern of an =~ or !~ filter.
const MaxNamePatternSize = 1024

// NameFilter keeps or leaves out rows by the name of their function or
// service, as Grafana's ad hoc filters and the CLI's --where say it: Key is
// function or service, Operator is = or != (the name) or =~ or !~ (a
// regular expression in RE2 syntax that must match the whole name).
type NameFilter struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

func (f NameFilter) String() string { return f.Key + " " + f.Operator + " " + f.Value }

// ValidOperator reports whether op is one of =, !=, =~ and !~.
func ValidOperator(op string) bool {
	switch op {
	case OpEqual, OpNotEqual, OpMatch, OpNotMatch:
		return true
	}
	return false
}

// ParseNameFilter reads a filter written as key, operator and value with
// nothing between them ("service!=checkout", "function=~orders-.*").
func ParseNameFilter(s string) (NameFilter, error) {
	i := strings.IndexAny(s, "=!")
	if i <= 0 {
		return NameFilter{}, fmt.Errorf("%w: filter %q: want function or service, an operator (=, !=, =~, !~) and a value", ErrInvalidFilter, s)
	}
	f := NameFilter{Key: strings.TrimSpace(s[:i])}
	rest := s[i:]
	for _, op := range []string{OpNotMatch, OpNotEqual, OpMatch, OpEqual} {
		if v, ok := strings.CutPrefix(rest, op); ok {
			f.Operator, f.Value = op, v
			break
		}
	}
	if f.Operator == "" {
		return NameFilter{}, fmt.Errorf("%w: filter %q: operator must be =, !=, =~ or !~", ErrInvalidFilter, s)
	}
	if _, err := NewNameFilters(f); err != nil {
		return NameFilter{}, err
	}
	return f, nil
}

// nameMatcher tests a function or service name against one filter. It runs
// on rows already read: its value never reaches SQL.
type nameMatcher struct {
	op, value string
	re        *regexp.Regexp
}

func newNameMatcher(f NameFilter) (nameMatcher, error) {
	m := nameMatcher{op: f.Operator, value: f.Value}
	if f.Operator == OpMatch || f.Operator == OpNotMatch {
		if len(f.Value) > MaxNamePatternSize {
			return m, fmt.Errorf("%w: filter on %s: regular expression longer than %d bytes", ErrInvalidFilter, f.Key, MaxNamePatternSize)
		}
		re, err := regexp.Compile("^(?:" + f.Value + ")$")
		if err != nil {
			return m, fmt.Errorf("%w: %q: %w", ErrInvalidFilter, f.String(), err)
		}
		m.re = re
	}
	return m, nil
}

// negative reports whether the filter excludes names (!= and !~).
func (m nameMatcher) negative() bool { return m.op == OpNotEqual || m.op == OpNotMatch }

// hit reports whether name is the filter's value or matches its pattern,
// ignoring the operator's sign.
func (m nameMatcher) hit(name string) bool {
	if m.re != nil {
		return m.re.MatchString(name)
	}
	return name == m.value
}

// keeps reports whether a row named name passes the filter.
func (m nameMatcher) keeps(name string) bool { return m.hit(name) != m.negative() }

// keepsAny reports whether something involving all of names (a trace's
// functions and services) passes: = and =~ need one name to hit, != and !~
// need none to.
func (m nameMatcher) keepsAny(names []string) bool {
	return slices.ContainsFunc(names, m.hit) != m.negative()
}

// NameFilters are function and service filters compiled, to judge rows
// already read. The zero value keeps everything.
type NameFilters struct {
	function, service []nameMatcher
}

// NewNameFilters compiles filters; a key other than function or service,
// an unknown operator or a bad regular expression is an error wrapping
// ErrInvalidFilter.
func NewNameFilters(filters ...NameFilter) (NameFilters, error) {
	var n NameFilters
	for _, f := range filters {
		if !ValidOperator(f.Operator) {
			return NameFilters{}, fmt.Errorf("%w: filter %q: operator must be =, !=, =~ or !~", ErrInvalidFilter, f.String())
		}
		m, err := newNameMatcher(f)
		if err != nil {
			return NameFilters{}, err
		}
		switch f.Key {
		case NameKeyFunction:
			n.function = append(n.function, m)
		case NameKeyService:
			n.service = append(n.service, m)
		default:
			return NameFilters{}, fmt.Errorf("%w: filter %q: key must be function or service", ErrInvalidFilter, f.String())
		}
	}
	return n, nil
}

// IsZero reports whether there is no filter.
func (n NameFilters) IsZero() bool { return len(n.function) == 0 && len(n.service) == 0 }

// HasService reports whether a service filter applies.
func (n NameFilters) HasService() bool { return len(n.service) > 0 }

// KeepFunction reports whether every function filter keeps fn.
func (n NameFilters) KeepFunction(fn string) bool {
	for _, m := range n.function {
		if !m.keeps(fn) {
			return false
		}
	}
	return true
}

// Keep reports whether a row of function fn and service svc passes.
func (n NameFilters) Keep(fn, svc string) bool {
	if !n.KeepFunction(fn) {
		return false
	}
	for _, m := range n.service {
		if !m.keeps(svc) {
			return false
		}
	}
	return true
}

// KeepSets reports whether something involving several functions and
// services (a trace) passes.
func (n NameFilters) KeepSets(functions, services []string) bool {
	for _, m := range n.function {
		if !m.keepsAny(functions) {
			return false
		}
	}
	for _, m := range n.service {
		if !m.keepsAny(services) {
			return false
		}
	}
	return true
}

// Selection is name filters ready to judge the rows of one time range:
// with a service filter it knows the service of every function seen in
// the range, since rows of figures, cost, spikes and advice name only a
// function.
type Selection struct {
	filters   NameFilters
	serviceOf map[string]string
}

// Select prepares filters for rows of r, reading the functions' services
// when a service filter needs them.
func (s *Service) Select(ctx context.Context, r TimeRange, filters NameFilters) (Selection, error) {
	sel := Selection{filters: filters}
	if !filters.HasService() {
		return sel, nil
	}
	fns, err := s.FunctionList(ctx, r)
	if err != nil {
		return sel, fmt.Errorf("read services of functions: %w", err)
	}
	sel.serviceOf = make(map[string]string, len(fns))
	for _, f := range fns {
		sel.serviceOf[f.FunctionName] = f.ServiceName
	}
	return sel, nil
}

// IsZero reports whether the selection keeps everything.
func (sel Selection) IsZero() bool { return sel.filters.IsZero() }

// Keep reports whether a row of function fn passes; svc is its service
// when the row names one, else the function's service in the range.
func (sel Selection) Keep(fn, svc string) bool {
	if svc == "" {
		svc = sel.serviceOf[fn]
	}
	return sel.filters.Keep(fn, svc)
}

// KeepTrace reports whether a trace passes: = and =~ need one of its
// functions (or services, its functions' included) to match, != and !~
// none.
func (sel Selection) KeepTrace(t TraceSummary) bool {
	services := slices.Clone(t.Sources)
	for _, src := range t.Sources {
		if v := sel.serviceOf[src]; v != "" {
			services = append(services, v)
		}
	}
	return sel.filters.KeepSets(t.Sources, services)
}

// ServiceMap keeps the part of m the filters select: an edge stays when
// no end is excluded (!=, !~) and, for each = or =~ filter, one end is
// selected; a node stays when an edge kept it or it passes the filters
// itself. Function filters judge function nodes, service filters service
// nodes and the services of function nodes.
func (sel Selection) ServiceMap(m *ServiceMap) *ServiceMap {
	if sel.IsZero() {
		return m
	}
	kinds := make(map[string]string, len(m.Nodes))
	for _, node := range m.Nodes {
		kinds[node.Name] = node.Kind
	}
	hits := func(mt nameMatcher, service bool, name string) bool {
		switch {
		case !service:
			return kinds[name] == NodeFunction && mt.hit(name)
		case kinds[name] == NodeService:
			return mt.hit(name)
		case kinds[name] == NodeFunction:
			return mt.hit(sel.serviceOf[name])
		}
		return false
	}
	all := func(fn func(mt nameMatcher, service bool) bool) bool {
		for _, mt := range sel.filters.function {
			if !fn(mt, false) {
				return false
			}
		}
		for _, mt := range sel.filters.service {
			if !fn(mt, true) {
				return false
			}
		}
		return true
	}
	out := &ServiceMap{Nodes: []MapNode{}, Edges: []MapEdge{}}
	onEdge := map[string]bool{}
	for _, e := range m.Edges {
		keep := all(func(mt nameMatcher, service bool) bool {
			a, b := hits(mt, service, e.Caller), hits(mt, service, e.Callee)
			if mt.negative() {
				return !a && !b
			}
			return a || b
		})
		if keep {
			out.Edges = append(out.Edges, e)
			onEdge[e.Caller], onEdge[e.Callee] = true, true
		}
	}
	for _, node := range m.Nodes {
		keep := onEdge[node.Name] || all(func(mt nameMatcher, service bool) bool {
			return hits(mt, service, node.Name) != mt.negative()
		})
		if keep {
			out.Nodes = append(out.Nodes, node)
		}
	}
	return out
}
