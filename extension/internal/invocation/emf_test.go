package invocation

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
)

type metricSink struct {
	sink
	metrics []*metricspb.Metric
}

func (s *metricSink) AddMetrics(rms []*metricspb.ResourceMetrics) int {
	for _, rm := range rms {
		for _, sm := range rm.GetScopeMetrics() {
			s.metrics = append(s.metrics, sm.GetMetrics()...)
		}
	}
	return 0
}

const emfLine = `{"_aws":{"Timestamp":1714557600120,"CloudWatchMetrics":[{"Namespace":"checkout","Dimensions":[["service"],["service","region"]],` +
	`"Metrics":[{"Name":"latency","Unit":"Milliseconds"},{"Name":"orders","Unit":"Count"},{"Name":"missing"}]}]},` +
	`"service":"payments","region":"eu-west-1","latency":[12.5,30],"orders":1,"requestId":"r1"}`

func TestEMF(t *testing.T) {
	textRecord, _ := json.Marshal(emfLine)
	tests := []struct {
		name       string
		event      string
		wantPoints map[string]int // metric name → points
	}{
		{"text format", `{"time":"2024-05-01T10:00:00.120Z","type":"function","record":` + string(textRecord) + `}`,
			map[string]int{"latency": 4, "orders": 2}},
		{"json format", `{"time":"2024-05-01T10:00:00.120Z","type":"function","record":` + emfLine + `}`,
			map[string]int{"latency": 4, "orders": 2}},
		{"no dimensions", `{"time":"2024-05-01T10:00:00.120Z","type":"function","record":{"_aws":{"CloudWatchMetrics":[{"Namespace":"n","Metrics":[{"Name":"m"}]}]},"m":3}}`,
			map[string]int{"m": 1}},
		{"plain JSON log", `{"time":"2024-05-01T10:00:00.120Z","type":"function","record":{"level":"INFO","message":"CloudWatchMetrics are fine"}}`, nil},
		{"bad _aws", `{"time":"2024-05-01T10:00:00.120Z","type":"function","record":{"_aws":{"CloudWatchMetrics":"no"}}}`, nil},
		{"extension log is not read", `{"time":"2024-05-01T10:00:00.120Z","type":"extension","record":` + emfLine + `}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := telemetry.Parse([]byte("[" + tt.event + "]"))
			if err != nil {
				t.Fatal(err)
			}
			s := &metricSink{}
			tr := New(s, nil, nil)
			tr.HandleTelemetry(evs)
			got := map[string]int{}
			for _, m := range s.metrics {
				got[m.GetName()] += len(m.GetGauge().GetDataPoints())
			}
			if len(got) != len(tt.wantPoints) {
				t.Fatalf("metrics %v, want %v", got, tt.wantPoints)
			}
			for name, n := range tt.wantPoints {
				if got[name] != n {
					t.Errorf("%s: %d points, want %d", name, got[name], n)
				}
			}
			if len(s.logs) != 1 {
				t.Errorf("%d log records, want the line kept as a log too", len(s.logs))
			}
		})
	}
}

func TestEMFPointDetails(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(emfLine), &doc); err != nil {
		t.Fatal(err)
	}
	ms := emfMetrics(doc, time.Time{})
	if len(ms) != 2 || ms[0].GetName() != "latency" || ms[0].GetUnit() != "Milliseconds" {
		t.Fatalf("metrics %v", ms)
	}
	var values []float64
	var dims []string
	for _, p := range ms[0].GetGauge().GetDataPoints() {
		values = append(values, p.GetAsDouble())
		var kv []string
		for _, a := range p.GetAttributes() {
			kv = append(kv, a.GetKey()+"="+a.GetValue().GetStringValue())
		}
		dims = append(dims, strings.Join(kv, ","))
		if p.GetTimeUnixNano() != uint64(time.UnixMilli(1714557600120).UnixNano()) {
			t.Errorf("time %d, want the _aws Timestamp", p.GetTimeUnixNano())
		}
	}
	if !slices.Equal(values, []float64{12.5, 30, 12.5, 30}) {
		t.Errorf("values %v", values)
	}
	want := []string{
		"aws.cloudwatch.namespace=checkout,service=payments", "aws.cloudwatch.namespace=checkout,service=payments",
		"aws.cloudwatch.namespace=checkout,service=payments,region=eu-west-1", "aws.cloudwatch.namespace=checkout,service=payments,region=eu-west-1",
	}
	if !slices.Equal(dims, want) {
		t.Errorf("attributes %v, want %v", dims, want)
	}
}

func FuzzEMF(f *testing.F) {
	f.Add(emfLine)
	f.Add(`{"_aws":{"CloudWatchMetrics":[{"Dimensions":[[1,"a"]],"Metrics":[{"Name":"a"}]}]},"a":[1,"x",null]}`)
	f.Fuzz(func(t *testing.T, line string) {
		doc := emfDocument(&telemetry.LogRecord{Text: line})
		if doc == nil {
			return
		}
		for _, m := range emfMetrics(doc, time.Unix(0, 0)) {
			if m.GetName() == "" {
				t.Errorf("metric without a name from %q", line)
			}
		}
	})
}
