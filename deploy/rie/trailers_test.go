package rie_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/rie"
)

// TestClassicStreamedFailureTrailers runs the Go function under AWS's
// emulator, directly and through the extension's Runtime API proxy, with
// streamed responses that fail with error trailers: one of 1 KiB, which
// the emulator takes, and one of 2 MiB, which it refuses (net/http's
// server reads a trailer section only within its 4 KiB buffer; the
// emulator's handler panics on the error, and the connection is reset
// without an answer). The runtime gets the same answer from the emulator
// either way, and the emulator logs its refusal: the proxy relays the
// trailer section whatever its size, and the refusal is the emulator's
// to give.
func TestClassicStreamedFailureTrailers(t *testing.T) {
	t.Parallel()
	setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	sizes := []struct {
		call string
		size int
	}{{"trailer-1k", 1 << 10}, {"trailer-2m", 2 << 20}}
	answered := regexp.MustCompile(`(?m)^(trailer-\w+) streamed failure answered (.*)$`)
	run := func(proxied bool) map[string]string {
		fn := functionName("rie-classic-trailers")
		var sb *rie.Sandbox
		var out *syncBuffer
		if proxied {
			sb, out = wrappedGoSandbox(t, ctx, fn, 5*time.Second)
		} else {
			sb, out = sandboxOutput(t, ctx, rie.Options{FunctionName: fn, Bootstrap: shared.goFn, Timeout: 5 * time.Second})
		}
		for _, s := range sizes {
			payload, _ := json.Marshal(map[string]any{"call": s.call, "stream_error": s.size, "no_span": true})
			cctx, ccancel := context.WithTimeout(ctx, time.Minute)
			_, err := sb.Invoke(cctx, rie.Invocation{Payload: payload})
			ccancel()
			if err != nil {
				t.Errorf("proxied %v, %s: invoke: %v", proxied, s.call, err)
			}
		}
		got := map[string]string{}
		for deadline := time.Now().Add(20 * time.Second); len(got) < len(sizes) && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			for _, m := range answered.FindAllStringSubmatch(out.String(), -1) {
				got[m[1]] = m[2]
			}
		}
		if err := sb.Shutdown(ctx); err != nil {
			t.Errorf("shut down: %v", err)
		}
		if len(got) < len(sizes) {
			t.Fatalf("proxied %v: the runtime printed the answers of %v only\n%s", proxied, got, out.String())
		}
		// The emulator got the call, and refused it itself.
		if !strings.Contains(out.String(), "suspiciously long trailer after chunked body") {
			t.Errorf("proxied %v: the emulator did not log its refusal of the 2 MiB trailer section\n%s", proxied, out.String())
		}
		return got
	}
	direct, proxied := run(false), run(true)
	if !strings.HasPrefix(direct["trailer-1k"], "202 ") {
		t.Errorf("the emulator answered the 1 KiB trailer section %q, want 202", direct["trailer-1k"])
	}
	if strings.HasPrefix(direct["trailer-2m"], "202 ") {
		t.Errorf("the emulator answered the 2 MiB trailer section %q, want its refusal", direct["trailer-2m"])
	}
	for _, s := range sizes {
		if proxied[s.call] != direct[s.call] {
			t.Errorf("%s: the runtime got %q through the proxy, %q directly", s.call, proxied[s.call], direct[s.call])
		}
	}
	t.Logf("the emulator's answers: %q", direct)
}
