package plugin

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Keys of ad hoc filters that are not span attributes.
const (
	AdhocKeyFunction = "function"
	AdhocKeyService  = "service"
)

// AdhocFilter is one filter of Grafana's ad hoc filters variable, as the
// frontend puts it in the query model. Key is function, service or a span
// attribute key; Operator is = or !=.
type AdhocFilter struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

func (f AdhocFilter) String() string { return f.Key + " " + f.Operator + " " + f.Value }

// applyAdhocFilters narrows m by its ad hoc filters, as the query type's
// own filters allow: function = for every query type with a function
// filter, service = and span attribute = for trace search, function != for
// metrics (whose series are per function). Filters a query
// type cannot apply (every != and the keys it has no filter for) are
// returned so the response can say they were not applied. A filter that
// contradicts the query's own filter is an error.
func applyAdhocFilters(m *QueryModel) (skipped []AdhocFilter, err error) {
	for _, f := range m.AdhocFilters {
		f.Key = strings.TrimSpace(f.Key)
		if f.Key == "" {
			return nil, fmt.Errorf("%w: ad hoc filter needs a key", ErrInvalidQuery)
		}
		switch f.Operator {
		case "=":
		case "!=":
			if f.Key == AdhocKeyFunction && m.QueryType == QueryTypeMetrics {
				m.excludeFunctions = append(m.excludeFunctions, f.Value)
			} else {
				skipped = append(skipped, f)
			}
			continue
		default:
			return nil, fmt.Errorf("%w: ad hoc filter %q: operator must be = or !=", ErrInvalidQuery, f.String())
		}
		var dst *string
		switch {
		case f.Key == AdhocKeyFunction && m.QueryType != QueryTypeTrace && m.QueryType != QueryTypeServiceMap && m.QueryType != QueryTypeCatalog:
			dst = &m.FunctionName
		case f.Key == AdhocKeyService && m.QueryType == QueryTypeSearch:
			dst = &m.ServiceName
		case f.Key != AdhocKeyFunction && f.Key != AdhocKeyService && m.QueryType == QueryTypeSearch:
			if m.Attributes == nil {
				m.Attributes = map[string]string{}
			}
			if have, ok := m.Attributes[f.Key]; ok && have != f.Value {
				return nil, fmt.Errorf("%w: ad hoc filter %q contradicts the query's %s = %s", ErrInvalidQuery, f.String(), f.Key, have)
			}
			m.Attributes[f.Key] = f.Value
			continue
		default:
			skipped = append(skipped, f)
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
	text := fmt.Sprintf("Ad hoc filters not applied to this %s query: %s. Supported: function = (queries with a function filter), function != (metrics), service and span attribute = (search).",
		queryType, strings.Join(names, "; "))
	for _, f := range out {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: text})
	}
}
