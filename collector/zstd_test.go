package collector

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	"github.com/lambdascope/lambdascope/proto/grpczstd"
)

// compressZstd compresses b as the extension's gRPC client does (the
// registered compressor, streaming) or in one call, which writes the
// frame's content size.
func compressZstd(t *testing.T, b []byte, stream bool) []byte {
	t.Helper()
	if !stream {
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = enc.Close() })
		return enc.EncodeAll(b, nil)
	}
	var out bytes.Buffer
	w, err := encoding.GetCompressor(grpczstd.Name).Compress(&out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestZstdDecompressorRoundTripsAndBoundsTheSize(t *testing.T) {
	const maxMsg = 1 << 20
	d := newZstdDecompressor(maxMsg, nil)
	small := bytes.Repeat([]byte("demo span attribute "), 1000)
	// Random-looking bytes do not compress: the hint (16 times the
	// compressed size) is then far too large, and repetitive ones far too
	// small, so that the buffer grows while decoding.
	mixed := make([]byte, 700<<10)
	for i := range mixed {
		mixed[i] = byte(i * 7919 >> 3)
	}
	tests := []struct {
		name     string
		msg      []byte
		stream   bool
		wantOver bool
	}{
		{"empty", nil, true, false},
		{"small, streamed", small, true, false},
		{"small, content size in the frame", small, false, false},
		{"mixed, streamed", mixed, true, false},
		{"exactly the limit", bytes.Repeat([]byte{'a'}, maxMsg), true, false},
		{"one byte over the limit, streamed", bytes.Repeat([]byte{'a'}, maxMsg+1), true, true},
		{"one byte over the limit, content size in the frame", bytes.Repeat([]byte{'a'}, maxMsg+1), false, true},
		{"a bomb", bytes.Repeat([]byte{0}, 64<<20), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for round := range 2 { // the second with pooled decoder and buffers
				got, err := d.Do(bytes.NewReader(compressZstd(t, tt.msg, tt.stream)))
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if tt.wantOver {
					// gRPC refuses a message longer than the limit with
					// RESOURCE_EXHAUSTED; only the length counts.
					if len(got) <= maxMsg {
						t.Fatalf("round %d: %d bytes for a message over the limit, want more than %d", round, len(got), maxMsg)
					}
					continue
				}
				if !bytes.Equal(got, tt.msg) {
					t.Fatalf("round %d: got %d bytes, want %d", round, len(got), len(tt.msg))
				}
				requestBuffers.Put(&got)
			}
		})
	}
	if _, err := d.Do(bytes.NewReader([]byte("this is not zstd"))); err == nil {
		t.Fatal("garbage decompressed without error")
	}
}

// A message the decompressor made goes back to requestBuffers when freed;
// gRPC's own buffers are copied into one of them.
func TestPooledMessageKeepsBytes(t *testing.T) {
	want := []byte("request bytes")
	for name, data := range map[string]mem.BufferSlice{
		"decompressed":  {mem.SliceBuffer(append([]byte(nil), want...))},
		"gRPC's pieces": {mem.SliceBuffer(want[:5]), mem.SliceBuffer(want[5:])},
	} {
		buf := pooledMessage(data)
		if got := buf.ReadOnlyData(); !bytes.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
		buf.Free()
	}
}
