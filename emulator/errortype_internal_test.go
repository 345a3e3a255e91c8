package emulator

import "testing"

// TestPlatformErrorType holds the emulator to the error types AWS's
// Runtime Interface Emulator reports for what a runtime sends.
func TestPlatformErrorType(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"Function.CallFailed", "Function.CallFailed"},
		{"Runtime.ExitError", "Runtime.ExitError"},
		{"Function.callFailed", "Function.Unknown"},
		{"Function.", "Function.Unknown"},
		{"CallFailed", "Runtime.Unknown"},
		{"Unhandled", "Runtime.Unknown"},
		{"", "Runtime.Unknown"},
		{"Runtime.Exit1", "Runtime.Unknown"},
		{"xRuntime.ExitError", "Runtime.Unknown"},
	} {
		if got := platformErrorType(tc.header); got != tc.want {
			t.Errorf("platformErrorType(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}
