package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
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

// parseXRayTrace reads an X-Ray trace header (Root=1-…;Parent=…;Sampled=1)
// as a service passes it on: its root and parent segment.
func parseXRayTrace(h string) (xrayTrace, bool) {
	var x xrayTrace
	for part := range strings.SplitSeq(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			x.root = v
		case "Parent":
			x.parent = v
		}
	}
	if len(x.root) != 35 || !strings.HasPrefix(x.root, "1-") || len(x.parent) != 16 {
		return xrayTrace{}, false
	}
	return x, true
}

func (x xrayTrace) header() string {
	return "Root=" + x.root + ";Parent=" + x.parent + ";Sampled=1"
}

// traceOf is the trace a service passes on from its caller's X-Ray
// header; nil (a trace of the invocation's own) for none or a malformed
// one.
func traceOf(header string) *xrayTrace {
	if x, ok := parseXRayTrace(header); ok {
		return &x
	}
	return nil
}
