package sampling

import (
	"context"
	"math/rand/v2"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestAgreesWithOpenTelemetry checks the decision against the OpenTelemetry
// SDK's TraceIDRatioBased sampler for many trace IDs and rates, and that
// the kept share is the rate.
func TestAgreesWithOpenTelemetry(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, rate := range []float64{0, 0.001, 0.1, 0.25, 0.5, 0.9, 1} {
		ours, theirs := New(rate), sdktrace.TraceIDRatioBased(rate)
		const n = 20000
		kept := 0
		for range n {
			var id trace.TraceID
			for i := range id {
				id[i] = byte(r.Uint32())
			}
			want := theirs.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: id}).Decision == sdktrace.RecordAndSample
			if got := ours.Keep(id[:]); got != want {
				t.Fatalf("rate %v, trace %s: keep = %v, OpenTelemetry says %v", rate, id, got, want)
			}
			if want {
				kept++
			}
		}
		if share := float64(kept) / n; share < rate-0.01 || share > rate+0.01 {
			t.Errorf("rate %v kept %.4f of the traces", rate, share)
		}
	}
}

func TestEdges(t *testing.T) {
	if !New(1).All() || New(0.99).All() || New(0).All() {
		t.Error("All is true only at rate 1")
	}
	if !New(0).Keep([]byte{1, 2, 3}) || !New(0).Keep(nil) {
		t.Error("spans without a valid trace ID must be kept")
	}
	id := make([]byte, 16)
	if New(0).Keep(id) || New(-1).Keep(id) {
		t.Error("rate 0 keeps a trace")
	}
	id[15] = 0xff
	if !New(2).Keep(id) {
		t.Error("rate above 1 drops a trace")
	}
}
