package collector

import (
	"errors"
	"runtime"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// deepSpanRequest is an Ingest API request of one span whose attribute's
// value is an array in an array ... depth times around the string leaf:
// two nested messages per level.
func deepSpanRequest(depth int, leaf string) []byte {
	field := func(b []byte, num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
	}
	v := field(nil, 1, []byte(leaf)) // AnyValue.string_value
	for range depth {
		v = field(nil, 5, field(nil, 1, v)) // AnyValue.array_value{values: [v]}
	}
	kv := field(field(nil, 1, []byte("k")), 2, v)
	span := field(field(field(nil, 1, make([]byte, 16)), 2, make([]byte, 8)), 9, kv)
	return field(nil, resourceSpansField, field(nil, 2, field(nil, 2, span)))
}

// TestScrubDeepBodies: the lenient decoding of a body whose messages nest
// deep costs memory in proportion to the body, not to the body times its
// depth (a 34 KB body took 170 MB and seconds, a 150 KB one 6 GB; the
// fuzzer's workers stalled on such inputs), and a body nested beyond
// protobuf's limit is refused.
func TestScrubDeepBodies(t *testing.T) {
	desc := (&ingestv1.ExportRequest{}).ProtoReflect().Descriptor()
	t.Run("within the limit", func(t *testing.T) {
		// 4,990 levels of two messages, under the limit of 10,000; the
		// bad leaf drops the span.
		b := deepSpanRequest(4990, "\xff")
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sc, err := scrub(b, desc)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("scrub: %v", err)
		}
		if sc.dropped != 1 || sc.kept != 0 || sc.bad {
			t.Errorf("scrub: %d dropped, %d kept, bad %v; want the one span dropped", sc.dropped, sc.kept, sc.bad)
		}
		if got, bound := after.TotalAlloc-before.TotalAlloc, uint64(16*len(b)+1<<20); got > bound {
			t.Errorf("scrub of a %d-byte body allocated %d bytes, more than %d", len(b), got, bound)
		}
	})
	t.Run("beyond the limit", func(t *testing.T) {
		b := deepSpanRequest(5001, "x")
		if _, err := scrub(b, desc); !errors.Is(err, errTooDeep) {
			t.Errorf("scrub: %v, want %v", err, errTooDeep)
		}
		if _, err := decodeLenient(b, &ingestv1.ExportRequest{}); !errors.Is(err, errBadPayload) {
			t.Errorf("decodeLenient: %v, want %v", err, errBadPayload)
		}
	})
}
