package collector

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// requestBuffers is the pool the Ingest API requests whose spans are read
// from the wire are copied into (see lenientCodec.unmarshalExport). Unlike
// gRPC's default pool it does not clear a buffer it hands out: every byte
// the request uses is written by the copy, and nothing reads past it, so
// clearing would only spend CPU on every request (a tenth of the
// collector's, measured on demo-shaped spans).
var requestBuffers mem.BufferPool = &dirtyPool{}

const (
	dirtyPoolMinShift = 12 // 4 KiB, the smallest size class
	dirtyPoolMaxShift = 27 // 128 MiB, over the largest message taken
)

// dirtyPool keeps buffers in power-of-two size classes.
type dirtyPool struct {
	classes [dirtyPoolMaxShift - dirtyPoolMinShift + 1]sync.Pool
}

// class is the size class of buffers of at least size bytes, and whether
// there is one.
func (p *dirtyPool) class(size int) (int, bool) {
	shift := max(bits.Len(uint(max(size, 1)-1)), dirtyPoolMinShift)
	return shift - dirtyPoolMinShift, shift <= dirtyPoolMaxShift
}

func (p *dirtyPool) Get(size int) *[]byte {
	c, ok := p.class(size)
	if !ok {
		b := make([]byte, size)
		return &b
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, 1<<(c+dirtyPoolMinShift))
	return &b
}

func (p *dirtyPool) Put(b *[]byte) {
	c, ok := p.class(cap(*b))
	if !ok || cap(*b) != 1<<(c+dirtyPoolMinShift) {
		return // not one of the pool's
	}
	p.classes[c].Put(b)
}
