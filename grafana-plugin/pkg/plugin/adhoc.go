package plugin

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// Keys of ad hoc filters that are not span attributes.
const (
	AdhocKeyFunction = query.NameKeyFunction
	AdhocKeyService  = query.NameKeyService
)

// AdhocFilter is one filter of Grafana's ad hoc filters variable, as the
// frontend puts it in the query model. Key is function, service or a span
// attribute key; Operator is =, !=, =~ or !~ (see query.NameFilter).
type AdhocFilter = query.NameFilter

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
// by the query layer, never in SQL. Span attribute filters apply with = to
// trace searches (search, the cost-per-trace list). Filters a query type
// cannot apply are returned so the response can say so. A filter that
// contradicts the query's own filter, an unknown operator or a bad regular
// expression is an error.
func applyAdhocFilters(m *QueryModel) (skipped []AdhocFilter, err error) {
	var post []AdhocFilter
	for _, f := range m.AdhocFilters {
		f.Key = strings.TrimSpace(f.Key)
		if f.Key == "" {
			return nil, fmt.Errorf("%w: ad hoc filter needs a key", ErrInvalidQuery)
		}
		if !query.ValidOperator(f.Operator) {
			return nil, fmt.Errorf("%w: ad hoc filter %q: operator must be =, !=, =~ or !~", ErrInvalidQuery, f.String())
		}
		if f.Key != AdhocKeyFunction && f.Key != AdhocKeyService {
			if !searchesSpans(m) || f.Operator != query.OpEqual {
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
		case f.Operator != query.OpEqual:
		case f.Key == AdhocKeyFunction && pushFunction(m.QueryType):
			dst = &m.FunctionName
		case f.Key == AdhocKeyService && searchesSpans(m):
			dst = &m.ServiceName
		}
		if dst == nil {
			post = append(post, f)
			continue
		}
		if have := strings.TrimSpace(*dst); have != "" && have != f.Value {
			return nil, fmt.Errorf("%w: ad hoc filter %q contradicts the query's %s %s", ErrInvalidQuery, f.String(), f.Key, have)
		}
		*dst = f.Value
	}
	if m.names, err = query.NewNameFilters(post...); err != nil {
		return nil, err
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
