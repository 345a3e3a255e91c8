package query

import "testing"

func TestBodyLevel(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"text line", "START RequestId: abc", ""},
		{"json level", `{"level":"WARN","message":"slow"}`, "WARN"},
		{"json levelname", ` {"levelname":"error","msg":"x"}`, "error"},
		{"json without level", `{"message":"hi"}`, ""},
		{"json blank level", `{"level":" ","message":"hi"}`, ""},
		{"json level not a string", `{"level":30}`, ""},
		{"broken json", `{"level":"INFO"`, ""},
		{"platform start", `{"time":"2026-01-01T00:00:00Z","type":"platform.start","record":{"requestId":"r"}}`, "INFO"},
		{"platform report failure", `{"type":"platform.report","record":{"status":"timeout"}}`, "ERROR"},
		{"platform runtime done error", `{"type":"platform.runtimeDone","record":{"status":"error"}}`, "ERROR"},
		{"platform logs dropped", `{"type":"platform.logsDropped","record":{"droppedRecords":3}}`, "WARN"},
		{"other event", `{"type":"function","record":"x"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bodyLevel(tt.body); got != tt.want {
				t.Errorf("bodyLevel(%s) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}
