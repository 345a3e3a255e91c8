package frames

import (
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

// TraceSearch is a table of found traces, newest first, whose trace IDs
// link to the trace view.
func TraceSearch(found []query.TraceSummary, link TraceLink) *data.Frame {
	n := len(found)
	var (
		ids       = make([]string, 0, n)
		starts    = make([]time.Time, 0, n)
		durations = make([]float64, 0, n)
		roots     = make([]string, 0, n)
		sources   = make([]string, 0, n)
		spans     = make([]int64, 0, n)
		errs      = make([]int64, 0, n)
		all       = make([]string, 0, n)
	)
	for i := range found {
		t := &found[i]
		ids = append(ids, t.TraceID.String())
		starts = append(starts, t.Start.UTC())
		durations = append(durations, float64(t.Duration)/float64(time.Millisecond))
		root := t.RootName
		if !t.HasRoot {
			root += " (root span missing)"
		}
		roots = append(roots, root)
		sources = append(sources, t.RootSource)
		spans = append(spans, int64(t.Spans))
		errs = append(errs, int64(t.ErrorSpans))
		all = append(all, strings.Join(t.Sources, ", "))
	}
	traceField := data.NewField("traceId", nil, ids)
	if cfg := link.config(); cfg != nil {
		traceField.SetConfig(cfg)
	}
	f := data.NewFrame("traces",
		traceField,
		data.NewField("start", nil, starts),
		data.NewField("duration", nil, durations).SetConfig(&data.FieldConfig{Unit: "ms"}),
		data.NewField("rootSpan", nil, roots),
		data.NewField("rootSource", nil, sources),
		data.NewField("spans", nil, spans),
		data.NewField("errorSpans", nil, errs),
		data.NewField("sources", nil, all),
	)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTable, PreferredVisualization: data.VisTypeTable}
	return f
}
