package shipper

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"

	"github.com/lambdascope/lambdascope/proto/grpczstd"
)

// keptEncoders is how many zstd encoders the extension keeps for reuse;
// one flush runs at a time, so one is in use at once.
const keptEncoders = 1

// keptCompressor replaces the process's "zstd" gRPC compressor with one
// that keeps its encoders across garbage collections. The shared one pools
// them in a sync.Pool, which every collection empties; the extension
// collects often (it decodes the function's spans under a tight memory
// limit), so nearly every flush paid for a new encoder and its history
// buffer. The wire format and the decompression side are unchanged.
type keptCompressor struct {
	encoding.Compressor // the shared compressor: name and Decompress

	mu   sync.Mutex
	free []*keptWriter
}

type keptWriter struct {
	*zstd.Encoder
	owner *keptCompressor
}

func init() {
	shared := encoding.GetCompressor(grpczstd.Name)
	if shared == nil {
		return
	}
	encoding.RegisterCompressor(&keptCompressor{Compressor: shared})
}

func (c *keptCompressor) Compress(w io.Writer) (io.WriteCloser, error) {
	c.mu.Lock()
	if n := len(c.free); n > 0 {
		zw := c.free[n-1]
		c.free = c.free[:n-1]
		c.mu.Unlock()
		zw.Reset(w)
		return zw, nil
	}
	c.mu.Unlock()
	// The same settings as the shared compressor.
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("create zstd encoder: %w", err)
	}
	return &keptWriter{Encoder: enc, owner: c}, nil
}

// Close finishes the frame and keeps the encoder for the next call.
func (w *keptWriter) Close() error {
	err := w.Encoder.Close()
	w.Reset(nil)
	c := w.owner
	c.mu.Lock()
	if len(c.free) < keptEncoders {
		c.free = append(c.free, w)
	}
	c.mu.Unlock()
	return err
}
