package plugin

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Keys of ad hoc filters that are not span attributes.
const (
	AdhocKeyFunction = "function"
	AdhocKeyService  = "service"
)

// Ad hoc filter operators.
const (
	OpEqual    = "="
	OpNotEqual = "!="
	OpMatch    = "=~"
	OpNotMatch = "!~"
)

// maxRegexpSize bounds the pattern of an =~ or !~ filter.
const maxRegexpSize = 1024

// AdhocFilter is one filter of Grafana's ad hoc filters variable, as the
// frontend puts it in the query model. Key is function, service or a span
// attribute key; Operator is =, !=, =~ or !~ (a regular expression in RE2
// syntax that must match the whole name).
type AdhocFilter struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

func (f AdhocFilter) String() string { return f.Key + " " + f.Operator + " " + f.Value }

// nameMatcher tests a function or service name against one filter. It runs
// in the plugin on rows already read: its value never reaches SQL.
type nameMatcher struct {
	op, value string
	re        *regexp.Regexp
}

func newNameMatcher(f AdhocFilter) (nameMatcher, error) {
	m := nameMatcher{op: f.Operator, value: f.Value}
	if f.Operator == OpMatch || f.Operator == OpNotMatch {
		if len(f.Value) > maxRegexpSize {
			return m, fmt.Errorf("%w: ad hoc filter on %s: regular expression longer than %d bytes", ErrInvalidQuery, f.Key, maxRegexpSize)
		}
		re, err := regexp.Compile("^(?:" + f.Value + ")$")
		if err != nil {
			return m, fmt.Errorf("%w: ad hoc filter %q: %w", ErrInvalidQuery, f.String(), err)
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
	hit := slices.ContainsFunc(names, m.hit)
	return hit != m.negative()
}

// nameFilters are the function and service filters of one query that its
// own filters cannot express, applied to the rows the query read.
type nameFilters struct {
	function, service []nameMatcher
	// post is set when there is such a filter: the rows read must be
	// filtered in the plugin.
	post bool
}

// hasService reports whether a service filter applies.
func (n nameFilters) hasService() bool { return len(n.service) > 0 }

// keepFunction reports whether every function filter keeps fn.
func (n nameFilters) keepFunction(fn string) bool {
	for _, m := range n.function {
		if !m.keeps(fn) {
			return false
		}
	}
	return true
}

// keepService reports whether every service filter keeps svc.
func (n nameFilters) keepService(svc string) bool {
	for _, m := range n.service {
		if !m.keeps(svc) {
			return false
		}
	}
	return true
}

// keep reports whether a row of function fn and service svc passes.
func (n nameFilters) keep(fn, svc string) bool { return n.keepFunction(fn) && n.keepService(svc) }

// keepSets reports whether something involving several functions and
// services (a trace) passes.
func (n nameFilters) keepSets(functions, services []string) bool {
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

// byID reports whether the query reads one trace by its ID and takes no
// function or service filter.
func byID(m *QueryModel) bool {
	return m.QueryType == QueryTypeTrace || m.QueryType == QueryTypeTraceCost && strings.TrimSpace(m.TraceID) != ""
}

// searchesSpans reports whether the query finds traces by their spans, so
// that span attribute filters apply.
func searchesSpans(m *QueryModel) bool {
	return m.QueryType == QueryTypeSearch || m.QueryType == QueryTypeTraceCost && strings.TrimSpace(m.TraceID) == ""
}

// pushFunction reports whether the query type's own function filter
// narrows what it reads or keeps.
func pushFunction(queryType string) bool {
	switch queryType {
	case QueryTypeServiceMap, QueryTypeCatalog:
		return false
	}
	return true
}

// applyAdhocFilters narrows m by its ad hoc filters. Function and service
// filters with any operator apply to every query type but those of one
// trace: = goes into the query's own function (or, for trace searches,
// service) filter where it has one, which ClickHouse applies as a bound
// parameter; the others are kept in m.names and applied to the rows read,
// in the plugin, never in SQL. Span attribute filters apply with = to
// trace searches (search, the cost-per-trace list). Filters a query type
// cannot apply are returned so the response can say so. A filter that
// contradicts the query's own filter, an unknown operator or a bad regular
// expression is an error.
func applyAdhocFilters(m *QueryModel) (skipped []AdhocFilter, err error) {
	for _, f := range m.AdhocFilters {
		f.Key = strings.TrimSpace(f.Key)
		if f.Key == "" {
			return nil, fmt.Errorf("%w: ad hoc filter needs a key", ErrInvalidQuery)
		}
		switch f.Operator {
		case OpEqual, OpNotEqual, OpMatch, OpNotMatch:
		default:
			return nil, fmt.Errorf("%w: ad hoc filter %q: operator must be =, !=, =~ or !~", ErrInvalidQuery, f.String())
		}
		if f.Key != AdhocKeyFunction && f.Key != AdhocKeyService {
			if !searchesSpans(m) || f.Operator != OpEqual {
				skipped = append(skipped, f)
				continue
			}
			if m.Attributes == nil {
				m.Attributes = map[string]string{}
			}
			if have, ok := m.Attributes[f.Key]; ok && have != f.Value {
				return nil, fmt.Errorf("%w: ad hoc filter %q contradicts the query's %s = %s", ErrInvalidQuery, f.String(), f.Key, have)
			}
			m.Attributes[f.Key] = f.Value
			continue
		}
		if byID(m) {
			skipped = append(skipped, f)
			continue
		}
		var dst *string
		switch {
		case f.Operator != OpEqual:
		case f.Key == AdhocKeyFunction && pushFunction(m.QueryType):
			dst = &m.FunctionName
		case f.Key == AdhocKeyService && searchesSpans(m):
			dst = &m.ServiceName
		}
		if dst == nil {
			nm, err := newNameMatcher(f)
			if err != nil {
				return nil, err
			}
			if f.Key == AdhocKeyFunction {
				m.names.function = append(m.names.function, nm)
			} else {
				m.names.service = append(m.names.service, nm)
			}
			m.names.post = true
			continue
		}
		if have := strings.TrimSpace(*dst); have != "" && have != f.Value {
			return nil, fmt.Errorf("%w: ad hoc filter %q contradicts the query's %s %s", ErrInvalidQuery, f.String(), f.Key, have)
		}
		*dst = f.Value
	}
	return skipped, nil
}

// skippedNotice tells on every frame which ad hoc filters were not applied.
func skippedNotice(out data.Frames, queryType string, skipped []AdhocFilter) {
	if len(skipped) == 0 {
		return
	}
	if queryType == "" {
		queryType = QueryTypeInvocations
	}
	names := make([]string, len(skipped))
	for i, f := range skipped {
		names[i] = f.String()
	}
	text := fmt.Sprintf("Ad hoc filters not applied to this %s query: %s. Supported: function and service with =, !=, =~, !~ (every query type but those of one trace), span attribute = (search, cost per trace).",
		queryType, strings.Join(names, "; "))
	for _, f := range out {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: text})
	}
}
