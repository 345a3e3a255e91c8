//go:build !linux

package rtproxy_test

// disableSplice does nothing: bodies are always copied here.
func disableSplice() {}
