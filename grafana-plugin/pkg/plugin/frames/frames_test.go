package frames

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/lambdascope/lambdascope/query"
)

func TestSeverity(t *testing.T) {
	tests := []struct {
		number uint8
		text   string
		want   string
	}{
		{0, "", ""},
		{0, "NOTICE", "info"},
		{0, "WARN", "warning"},
		{0, " Error ", "error"},
		{0, "FATAL", "critical"},
		{0, "verbose", "verbose"},
		{1, "", "trace"},
		{5, "", "debug"},
		{9, "INFO", "info"},
		{13, "", "warning"},
		{17, "", "error"},
		{21, "", "critical"},
		{24, "FATAL4", "critical"},
	}
	for _, tt := range tests {
		if got := severity(&query.LogLine{SeverityNumber: tt.number, Severity: tt.text}); got != tt.want {
			t.Errorf("severity(%d, %q) = %q, want %q", tt.number, tt.text, got, tt.want)
		}
	}
}

func TestKindName(t *testing.T) {
	tests := map[int32]string{
		query.SpanKindUnspecified: "unspecified", query.SpanKindInternal: "internal", query.SpanKindServer: "server",
		query.SpanKindClient: "client", query.SpanKindProducer: "producer", query.SpanKindConsumer: "consumer", 42: "unspecified",
	}
	for kind, want := range tests {
		if got := kindName(kind); got != want {
			t.Errorf("kindName(%d) = %q, want %q", kind, got, want)
		}
	}
}

func TestTraceWarnings(t *testing.T) {
	start := time.Unix(1700000000, 0)
	id := query.TraceID{1}
	spans := []query.Span{
		{TraceID: id, SpanID: query.SpanID{1}, Name: "root", Start: start, Duration: time.Second},
		{TraceID: id, SpanID: query.SpanID{2}, ParentSpanID: query.SpanID{9}, Name: "orphan", Start: start, Duration: time.Millisecond},
	}
	f := Trace(query.BuildTrace(id, spans, nil), TraceLink{})
	parents, _ := f.FieldByName("parentSpanID")
	warnings, _ := f.FieldByName("warnings")
	names, _ := f.FieldByName("operationName")
	for i := range f.Rows() {
		if names.At(i) != "orphan" {
			continue
		}
		if parents.At(i) != "" {
			t.Errorf("orphan's parentSpanID = %q, want empty so the trace view shows it as a root", parents.At(i))
		}
		if w := string(warnings.At(i).(json.RawMessage)); w == "[]" {
			t.Errorf("orphan has no warning")
		}
	}
}

func TestFunctionMetricsShape(t *testing.T) {
	start := time.Unix(1700000000, 0).UTC()
	points := []query.FunctionPoint{
		{Start: start.Add(time.Minute), FunctionName: "b", Invocations: 3, ErrorRate: 0.5},
		{Start: start, FunctionName: "b", Invocations: 1},
		{Start: start, FunctionName: "a", Invocations: 2},
	}
	errRate, _ := MetricByName("errorRate")
	invocations, _ := MetricByName("invocations")
	frames := FunctionMetrics(points, []Metric{invocations, errRate}, query.TimeRange{}, 0)
	if len(frames) != 4 {
		t.Fatalf("got %d frames, want one per function and metric (4)", len(frames))
	}
	for _, f := range frames {
		if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
			t.Errorf("frame %s meta = %+v, want timeseries-multi", f.Name, f.Meta)
		}
		if f.Fields[0].Type() != data.FieldTypeTime || f.Fields[1].Type() != data.FieldTypeFloat64 {
			t.Errorf("frame %s fields = %s, %s; want time, float64", f.Name, f.Fields[0].Type(), f.Fields[1].Type())
		}
	}
	b := frames[1]
	if b.Fields[1].Labels["function"] != "b" || b.Fields[0].At(0).(time.Time).After(b.Fields[0].At(1).(time.Time)) {
		t.Errorf("frame for b: labels %v, times not ascending", b.Fields[1].Labels)
	}
	if got := frames[3].Fields[1].At(1); got != 0.5 {
		t.Errorf("b's second error rate = %v, want 0.5", got)
	}
}

func TestFunctionMetricsGaps(t *testing.T) {
	start := time.Unix(1700000040, 0).UTC() // a whole minute
	points := []query.FunctionPoint{
		{Start: start, FunctionName: "a", Invocations: 2, ErrorRate: 0.5},
		{Start: start.Add(3 * time.Minute), FunctionName: "a", Invocations: 4, ErrorRate: 0.25},
	}
	invocations, _ := MetricByName("invocations")
	errRate, _ := MetricByName("errorRate")
	r := query.TimeRange{Since: start.Add(-30 * time.Second), Until: start.Add(4*time.Minute + time.Second)}
	frames := FunctionMetrics(points, []Metric{invocations, errRate}, r, time.Minute)
	for _, f := range frames {
		if got := f.Fields[0].Config; got == nil || got.Interval != 60000 {
			t.Errorf("frame %s time field config = %+v, want interval 60000 ms", f.Name, got)
		}
	}
	values := func(f *data.Frame) (ts []int64, vs []float64) {
		for i := range f.Rows() {
			ts = append(ts, int64(f.Fields[0].At(i).(time.Time).Sub(start)/time.Minute))
			vs = append(vs, f.Fields[1].At(i).(float64))
		}
		return ts, vs
	}
	ts, vs := values(frames[0])
	if want := []int64{-1, 0, 1, 2, 3, 4}; !slices.Equal(ts, want) {
		t.Errorf("invocation buckets (minutes from start) = %v, want every bucket of the range %v", ts, want)
	}
	if want := []float64{0, 2, 0, 0, 4, 0}; !slices.Equal(vs, want) {
		t.Errorf("invocations = %v, want 0 in empty buckets %v", vs, want)
	}
	ts, vs = values(frames[1])
	if !slices.Equal(ts, []int64{0, 3}) || !slices.Equal(vs, []float64{0.5, 0.25}) {
		t.Errorf("error rate = %v at %v, want only the buckets with invocations (gaps elsewhere)", vs, ts)
	}
}

func TestSpikeSeriesShape(t *testing.T) {
	at := time.Unix(1700000000, 0).UTC()
	byFunction := map[string][]query.SpikeStatus{
		"b": {{FunctionName: "b", At: at, Invocations: 10, ErrorRate: 0.5, BaselineInvocations: 10, BaselineRate: 0.1, Threshold: 0.3, Firing: true},
			{FunctionName: "b", At: at.Add(time.Minute), Invocations: 10, ErrorRate: 0.1, BaselineInvocations: 10, BaselineRate: 0.1, Threshold: 0.3}},
		"a": {{FunctionName: "a", At: at, Threshold: 0.05}},
	}
	frames := SpikeSeries(byFunction, SpikeSeriesNames, time.Minute)
	if len(frames) != 2*len(SpikeSeriesNames) {
		t.Fatalf("got %d frames, want one per function and series (%d)", len(frames), 2*len(SpikeSeriesNames))
	}
	for i, f := range frames {
		if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
			t.Errorf("frame %s meta = %+v, want timeseries-multi", f.Name, f.Meta)
		}
		if f.Fields[0].Type() != data.FieldTypeTime || f.Fields[1].Type() != data.FieldTypeNullableFloat64 {
			t.Errorf("frame %s fields = %s, %s; want time, nullable float64", f.Name, f.Fields[0].Type(), f.Fields[1].Type())
		}
		if c := f.Fields[0].Config; c == nil || c.Interval != 60000 {
			t.Errorf("frame %s time field config = %+v, want interval 60000 ms", f.Name, c)
		}
		if want := []string{"a", "b"}[i%2]; f.Fields[1].Labels["function"] != want {
			t.Errorf("frame %d labels %v, want function %s", i, f.Fields[1].Labels, want)
		}
	}
	value := func(series, fn int, row int) (float64, bool) {
		v, ok := frames[2*series+fn].Fields[1].ConcreteAt(row)
		if !ok {
			return 0, false
		}
		return v.(float64), true
	}
	// b's firing series is 1 then 0.
	firing := slices.Index(SpikeSeriesNames, "firing")
	if v0, _ := value(firing, 1, 0); v0 != 1 {
		t.Errorf("b firing first = %v, want 1", v0)
	}
	if v1, ok := value(firing, 1, 1); !ok || v1 != 0 {
		t.Errorf("b firing second = %v (set %v), want 0", v1, ok)
	}
	// a had no traffic: its rates are gaps, its threshold and verdict are not.
	for name, wantSet := range map[string]bool{"errorRate": false, "baselineRate": false, "threshold": true, "firing": true} {
		if _, ok := value(slices.Index(SpikeSeriesNames, name), 0, 0); ok != wantSet {
			t.Errorf("a's %s without traffic: set = %v, want %v", name, ok, wantSet)
		}
	}
}

func TestSpikeTableFiringFirst(t *testing.T) {
	f := SpikeTable([]query.SpikeStatus{{FunctionName: "a"}, {FunctionName: "b", Firing: true}, {FunctionName: "c"}}, query.DefaultSpikeConfig())
	names, _ := f.FieldByName("function")
	if got := []any{names.At(0), names.At(1), names.At(2)}; got[0] != "b" || got[1] != "a" || got[2] != "c" {
		t.Errorf("order = %v, want b (firing), then a, c", got)
	}
}

func TestLogIDsStable(t *testing.T) {
	at := time.Unix(1700000000, 0)
	a := query.LogLine{Time: at, FunctionName: "orders", RequestID: "r1", Body: "order received"}
	b := query.LogLine{Time: at, FunctionName: "orders", RequestID: "r2", Body: "order received"}
	c := query.LogLine{Time: at.Add(time.Millisecond), FunctionName: "orders", RequestID: "r1", Body: "done"}
	ids := func(lines ...query.LogLine) map[string]string {
		f := Logs(lines, TraceLink{})
		id, _ := f.FieldByName("id")
		out := map[string]string{}
		for i := range f.Rows() {
			if _, dup := out[id.At(i).(string)]; dup {
				t.Errorf("id %s given twice in %d lines", id.At(i), len(lines))
			}
			out[id.At(i).(string)] = lines[i].RequestID + " " + lines[i].Body
		}
		return out
	}
	all := ids(a, b, c)
	for _, subset := range [][]query.LogLine{{c, b}, {b}, {c, a}} {
		for id, line := range ids(subset...) {
			if all[id] != line {
				t.Errorf("id %s is %q in one query and %q in another", id, line, all[id])
			}
		}
	}
	if got := ids(a, a); len(got) != 2 {
		t.Errorf("two copies of a line got ids %v, want two distinct", got)
	}
}

func TestTraceIDsWithoutTraceAreNull(t *testing.T) {
	link := TraceLink{DatasourceUID: "uid"}
	id := query.TraceID{1}
	tests := map[string]*data.Frame{
		"logs":        Logs([]query.LogLine{{TraceID: id}, {}}, link),
		"invocations": Invocations([]query.Invocation{{TraceID: id}, {}}, link),
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			field, _ := f.FieldByName("traceId")
			if field == nil || field.Config == nil || len(field.Config.Links) != 1 {
				t.Fatalf("traceId field = %+v, want one link", field)
			}
			if v, ok := field.ConcreteAt(0); !ok || v != id.String() {
				t.Errorf("row with a trace holds %v, want %s", v, id)
			}
			if v, ok := field.ConcreteAt(1); ok {
				t.Errorf("row without a trace holds %q, want null so that it carries no link", v)
			}
		})
	}
}

func TestCostByDayInRange(t *testing.T) {
	day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	since := day.Add(12 * time.Hour)
	rep := &query.CostReport{Since: since, Until: since.Add(30 * time.Hour), Currency: "USD",
		ByDay: []query.CostLine{{Day: day, Cost: query.Cost{Total: 1}}, {Day: day.Add(24 * time.Hour), Cost: query.Cost{Total: 2}}}}
	f := CostByDay(rep, time.UTC)
	times := f.Fields[0]
	if got := times.At(0).(time.Time); !got.Equal(since) {
		t.Errorf("first day's point at %s, want the range's start %s so a short range shows it", got, since)
	}
	if got := times.At(1).(time.Time); !got.Equal(day.Add(24 * time.Hour)) {
		t.Errorf("second day's point at %s, want its midnight", got)
	}
}
