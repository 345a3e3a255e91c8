package shipper

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"google.golang.org/grpc/encoding"

	"github.com/lambdascope/lambdascope/proto/grpczstd"
)

// TestCompressorKeepsEncoderAcrossGC: the extension's "zstd" compressor
// reuses its encoder after garbage collections and its frames decode with
// the shared decompressor.
func TestCompressorKeepsEncoderAcrossGC(t *testing.T) {
	c, ok := encoding.GetCompressor(grpczstd.Name).(*keptCompressor)
	if !ok {
		t.Fatalf("registered %q compressor is %T, want the extension's", grpczstd.Name, encoding.GetCompressor(grpczstd.Name))
	}
	payload := bytes.Repeat([]byte("span span span "), 4096)
	compress := func() (io.WriteCloser, []byte) {
		var out bytes.Buffer
		w, err := c.Compress(&out)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(payload); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return w, out.Bytes()
	}
	first, frame := compress()
	runtime.GC()
	runtime.GC()
	second, _ := compress()
	if first != second {
		t.Error("a new encoder was made after garbage collections")
	}
	r, err := c.Decompress(bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("round trip: %d bytes, err %v", len(got), err)
	}
}
