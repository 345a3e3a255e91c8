// Package sampling decides which traces the extension ships when
// LAMBDASCOPE_SAMPLE_RATE is below 1. The decision depends on the trace ID
// alone and is computed as OpenTelemetry's TraceIDRatioBased sampler
// computes it, so every function of a trace makes the same one, and so
// does an SDK in the function sampling at the same ratio: a trace is
// shipped whole from every function or not at all.
package sampling

import (
	"encoding/binary"
	"math"
)

// Sampler keeps a fraction of traces.
type Sampler struct {
	all   bool
	bound uint64
}

// New returns a sampler keeping rate (0 to 1) of the traces; rates out of
// range are clamped.
func New(rate float64) Sampler {
	switch {
	case math.IsNaN(rate) || rate <= 0:
		return Sampler{}
	case rate >= 1:
		return Sampler{all: true}
	}
	return Sampler{bound: uint64(rate * (1 << 63))}
}

// All reports whether every trace is kept.
func (s Sampler) All() bool { return s.all }

// Keep reports whether the trace with this ID is shipped. A span without a
// valid 16-byte trace ID belongs to no trace that could be sampled, and is
// kept.
func (s Sampler) Keep(traceID []byte) bool {
	if s.all || len(traceID) != 16 {
		return true
	}
	return binary.BigEndian.Uint64(traceID[8:16])>>1 < s.bound
}
