package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// xrayTrace is the X-Ray trace header Lambda passes to an invocation.
type xrayTrace struct {
	root, parent string
}

func newXRayTrace(now time.Time) xrayTrace {
	return xrayTrace{
		root:   fmt.Sprintf("1-%08x-%s", now.Unix(), randomHex(12)),
		parent: randomHex(8),
	}
}

func (x xrayTrace) header() string {
	return "Root=" + x.root + ";Parent=" + x.parent + ";Sampled=1"
}
