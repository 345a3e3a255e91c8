package main

import "testing"

func TestFastStart(t *testing.T) {
	tests := []struct {
		api, strict string
		want        bool
	}{
		{"127.0.0.1:9001", "", true},
		{"127.0.0.1:9001", "false", true},
		{"127.0.0.1:9001", " 0 ", true},
		// Only the agent can judge the configuration and fail the init.
		{"127.0.0.1:9001", "true", false},
		{"127.0.0.1:9001", "yes", false},
		// Nothing to register with: the agent reports it.
		{"", "", false},
	}
	for _, tt := range tests {
		t.Setenv("AWS_LAMBDA_RUNTIME_API", tt.api)
		t.Setenv("LAMBDASCOPE_STRICT", tt.strict)
		if got := fastStart(); got != tt.want {
			t.Errorf("fastStart() with API %q, LAMBDASCOPE_STRICT=%q = %v, want %v", tt.api, tt.strict, got, tt.want)
		}
	}
}
