package rtproxy

import "unsafe"

// strArena makes the strings read from a connection's heads (the target,
// the request and trace IDs the Observer is given) out of blocks shared
// by many, rather than one allocation each: the relay makes no
// allocation of its own on most calls, so it is not made to assist a
// garbage collection of the process it runs in (the agent's) while it
// relays. A block's bytes are never written again once a string refers
// to them, so the strings are as immutable as any; a string kept (by the
// Observer) keeps its block, at most strBlock bytes, alive. Not safe for
// concurrent use: each connection has its own.
type strArena struct {
	block []byte
}

// strBlock is the size of an arena's blocks: about twenty invocations'
// heads' strings (a request ID is 36 bytes, a trace ID about 90).
const strBlock = 4 << 10

// string returns b as a string (a nil arena makes a new one).
func (a *strArena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if a == nil || len(b) > strBlock/8 {
		return string(b)
	}
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, strBlock)
	}
	n := len(a.block)
	a.block = append(a.block, b...)
	return unsafe.String(&a.block[n], len(b))
}
