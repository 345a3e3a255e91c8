// Package grpczstd registers a zstd compressor with gRPC under the name
// "zstd", shared by the extension (sending) and the collector (receiving).
// Importing the package registers it; callers select it per call with
// grpc.UseCompressor(grpczstd.Name).
package grpczstd

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
)

// Name is the compressor's name on the wire (grpc-encoding: zstd).
const Name = "zstd"

// maxWindow bounds the memory one decoder may use, so a hostile stream
// cannot make the receiver allocate without limit.
const maxWindow = 8 << 20

func init() {
	encoding.RegisterCompressor(&compressor{})
}

type compressor struct {
	encoders sync.Pool // *writer
	decoders sync.Pool // *reader
}

func (c *compressor) Name() string { return Name }

func (c *compressor) Compress(w io.Writer) (io.WriteCloser, error) {
	if zw, ok := c.encoders.Get().(*writer); ok {
		zw.Reset(w)
		return zw, nil
	}
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("create zstd encoder: %w", err)
	}
	return &writer{Encoder: enc, pool: &c.encoders}, nil
}

func (c *compressor) Decompress(r io.Reader) (io.Reader, error) {
	zr, ok := c.decoders.Get().(*reader)
	if !ok {
		dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("create zstd decoder: %w", err)
		}
		return &reader{Decoder: dec, pool: &c.decoders}, nil
	}
	if err := zr.Reset(r); err != nil {
		c.decoders.Put(zr)
		return nil, fmt.Errorf("reset zstd decoder: %w", err)
	}
	return zr, nil
}

type writer struct {
	*zstd.Encoder
	pool *sync.Pool
}

// Close finishes the frame and returns the encoder to the pool.
func (w *writer) Close() error {
	err := w.Encoder.Close()
	w.pool.Put(w)
	return err
}

type reader struct {
	*zstd.Decoder
	pool *sync.Pool
}

// Read returns the decoder to the pool once the stream is done.
func (r *reader) Read(p []byte) (int, error) {
	n, err := r.Decoder.Read(p)
	if err == io.EOF {
		r.pool.Put(r)
	}
	return n, err
}
