package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/mem"

	"github.com/lambdascope/lambdascope/proto/grpczstd"
)

// zstdDecompressor decompresses zstd gRPC messages (the extension's) in one
// call, into a single buffer from requestBuffers, where the registered
// compressor's stream is read through an io.LimitReader in 32 KiB pieces
// that the codec then copies into one buffer again: two copies of every
// message fewer. gRPC calls it before the compressor registered under the
// same name (grpc.RPCDecompressor).
//
// A message that decompresses to more than max bytes (or the 8 MiB window,
// whichever is larger) stops decoding there; gRPC then refuses it as larger
// than the limit (RESOURCE_EXHAUSTED), as with the registered compressor.
// A message that is not zstd, or is corrupt, is refused by gRPC with
// INTERNAL ("failed to decompress") before any interceptor sees the call:
// refused counts and logs it here (as undecodable, at the front door).
type zstdDecompressor struct {
	max      int
	refused  func(args ...any)
	decoders sync.Pool // *zstd.Decoder
	inputs   sync.Pool // *bytes.Buffer: the compressed message
	// over is what Do returns for a message over max: gRPC checks only its
	// length, and refuses the call.
	over func() []byte
}

// zstdMaxWindow is the largest window the decoder takes, as the registered
// compressor's.
const zstdMaxWindow = 8 << 20

func newZstdDecompressor(max int, refused func(args ...any)) *zstdDecompressor {
	return &zstdDecompressor{
		max:     max,
		refused: refused,
		over:    sync.OnceValue(func() []byte { return make([]byte, max+1) }),
	}
}

func (d *zstdDecompressor) Type() string { return grpczstd.Name }

func (d *zstdDecompressor) Do(r io.Reader) ([]byte, error) {
	in, _ := d.inputs.Get().(*bytes.Buffer)
	if in == nil {
		in = new(bytes.Buffer)
	}
	defer func() {
		in.Reset()
		d.inputs.Put(in)
	}()
	if _, err := in.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("read zstd message: %w", err)
	}
	src := in.Bytes()
	dec, _ := d.decoders.Get().(*zstd.Decoder)
	if dec == nil {
		var err error
		dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow),
			// The decoder refuses windows over the largest output, which
			// must not refuse the windows the registered compressor takes
			// under a small max_message_bytes: what passes max is cut by
			// the length check below.
			zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(uint64(max(d.max+1, zstdMaxWindow))))
		if err != nil {
			return nil, fmt.Errorf("create zstd decoder: %w", err)
		}
	}
	defer d.decoders.Put(dec)
	dst := requestBuffers.Get(d.sizeHint(src))
	out, err := dec.DecodeAll(src, (*dst)[:0])
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || len(out) > d.max {
		requestBuffers.Put(dst)
		return d.over(), nil
	}
	if err != nil {
		requestBuffers.Put(dst)
		err = fmt.Errorf("zstd body: %w", err)
		if d.refused != nil {
			d.refused("via", "gRPC", "compressed_bytes", len(src), "err", err)
		}
		return nil, err
	}
	return out, nil
}

// sizeHint is the size of the buffer a message of compressed bytes src is
// decompressed into: the frame's content size when the sender wrote it,
// else sixteen times the compressed size (demo-shaped spans compress
// about eight times), at most max. A message larger than the hint still
// decompresses, into a buffer that grows.
func (d *zstdDecompressor) sizeHint(src []byte) int {
	var h zstd.Header
	if err := h.Decode(src); err == nil && h.HasFCS && h.FrameContentSize <= uint64(d.max) && h.FrameContentSize >= uint64(len(src)) {
		return int(h.FrameContentSize)
	}
	return min(d.max, max(64<<10, 16*len(src)))
}

// pooledMessage is the buffer of a message gRPC hands the codec: a message
// zstdDecompressor decompressed (a mem.SliceBuffer, which frees nothing)
// goes back to requestBuffers when freed; others are copied into one of
// its buffers.
func pooledMessage(data mem.BufferSlice) mem.Buffer {
	if len(data) == 1 {
		if b, ok := data[0].(mem.SliceBuffer); ok {
			buf := []byte(b)
			return mem.NewBuffer(&buf, requestBuffers)
		}
	}
	return data.MaterializeToBuffer(requestBuffers)
}
