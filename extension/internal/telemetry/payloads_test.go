package telemetry

import (
	"testing"
)

// AWS's documented examples of every event type, in both schema versions
// and both log formats, parse into the kind of event they are: none is left
// unknown.
func TestParseAWSPayloads(t *testing.T) {
	tests := []struct {
		file      string
		wantTypes []string
		check     func(t *testing.T, byType map[string]Event)
	}{
		{"aws-2022-12-13-text.json", []string{
			TypeInitStart, TypeInitRuntimeDone, TypeInitReport, TypeStart, TypeFunction, TypeRuntimeDone, TypeReport,
			TypeRestoreStart, TypeRestoreRuntimeDone, TypeRestoreReport, TypeExtension, TypeTelemetrySubscription, TypeLogsDropped, TypeExtensionLog,
		}, func(t *testing.T, byType map[string]Event) {
			if r := byType[TypeInitStart].Platform; r.FunctionName != "myFunction" || r.FunctionVersion != "$LATEST" || r.InstanceID != "82561ce0-53dd-47d1-90e0-c8f5e063e62e" {
				t.Errorf("initStart = %+v", r)
			}
			if r := byType[TypeRestoreStart].Platform; r.FunctionName != "myFunction" || r.RuntimeVersion != "nodejs-14.v3" {
				t.Errorf("restoreStart = %+v", r)
			}
			if r := byType[TypeRestoreRuntimeDone].Platform; r.Status != "success" || len(r.Spans) != 1 || r.Spans[0].Start != "2022-08-02T12:01:23:521Z" {
				t.Errorf("restoreRuntimeDone = %+v", r)
			}
			if r := byType[TypeRestoreReport].Platform; r.Metrics.DurationMs != 15.19 || !r.Metrics.Given.Has(FigureDuration) || r.Status != "success" {
				t.Errorf("restoreReport = %+v", r)
			}
			if r := byType[TypeReport].Platform; r.Metrics.Given != FigureDuration|FigureBilledDuration|FigureMemorySize|FigureMaxMemoryUsed|FigureInitDuration {
				t.Errorf("report gave %07b", r.Metrics.Given)
			}
			if r := byType[TypeExtension].Platform; r.Name != "my-telemetry-extension" || r.State != "Ready" || len(r.Events) != 2 {
				t.Errorf("platform.extension = %+v", r)
			}
			if r := byType[TypeTelemetrySubscription].Platform; r.State != "Subscribed" || len(r.Types) != 2 {
				t.Errorf("telemetrySubscription = %+v", r)
			}
			if r := byType[TypeLogsDropped].Platform; r.DroppedRecords != 123 || r.DroppedBytes != 12345 || r.Reason == "" {
				t.Errorf("logsDropped = %+v", r)
			}
			for _, typ := range []string{TypeFunction, TypeExtensionLog} {
				if l := byType[typ].Log; l.IsJSON() || l.Text == "" {
					t.Errorf("%s = %+v, want a text line", typ, l)
				}
			}
		}},
		{"aws-2025-01-29-json.json", []string{
			TypeInitStart, TypeInitRuntimeDone, TypeInitReport, TypeTelemetrySubscription, TypeStart, TypeFunction, TypeExtensionLog, TypeReport, TypeLogsDropped,
		}, func(t *testing.T, byType map[string]Event) {
			if r := byType[TypeReport].Platform; r.Metrics.Given != FigureDuration || r.Metrics.DurationMs != 200 {
				t.Errorf("Managed Instances report gave %07b (%v), want the duration only", r.Metrics.Given, r.Metrics)
			}
			if d, ok := byType[TypeReport].Platform.SpanDuration("responseLatency"); !ok || d != 23.02 {
				t.Errorf("responseLatency in the report = %v, %v", d, ok)
			}
			for _, typ := range []string{TypeFunction, TypeExtensionLog} {
				l := byType[typ].Log
				if !l.IsJSON() || l.Fields["requestId"] != "79b4f56e-95b1-4643-9700-2807f4e68189" || l.Fields["level"] != "INFO" {
					t.Errorf("%s = %+v, want a JSON record with its request ID", typ, l)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			events, err := Parse(readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(events) != len(tt.wantTypes) {
				t.Fatalf("%d events, want %d", len(events), len(tt.wantTypes))
			}
			byType := map[string]Event{}
			for i, ev := range events {
				if ev.Type != tt.wantTypes[i] {
					t.Errorf("event %d type %q, want %q", i, ev.Type, tt.wantTypes[i])
				}
				want := KindPlatform
				if ev.Type == TypeFunction || ev.Type == TypeExtensionLog {
					want = KindLog
				}
				if ev.Kind != want {
					t.Errorf("event %d (%s): kind %v, want %v", i, ev.Type, ev.Kind, want)
				}
				if ev.Time.IsZero() {
					t.Errorf("event %d (%s): no time", i, ev.Type)
				}
				byType[ev.Type] = ev
			}
			if !t.Failed() {
				tt.check(t, byType)
			}
		})
	}
}
