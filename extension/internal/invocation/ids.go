package invocation

import (
	"encoding/hex"
	"strings"
)

// XRayTraceID converts the Root of an X-Ray trace header (or a bare X-Ray
// trace ID) to a 16-byte W3C trace ID:
// "Root=1-5759e988-bd862e3fe1be46a994272793;..." → 5759e988bd862e3fe1be46a994272793.
// It returns nil when the value holds no valid X-Ray trace ID.
func XRayTraceID(header string) []byte {
	root := header
	if strings.Contains(header, "=") {
		root = ""
		for part := range strings.SplitSeq(header, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.EqualFold(k, "Root") {
				root = v
				break
			}
		}
	}
	// 1-<8 hex epoch>-<24 hex random>
	if len(root) != 35 || root[0] != '1' || root[1] != '-' || root[10] != '-' {
		return nil
	}
	return decodeHexID(root[2:10]+root[11:], 16)
}

// XRayParentID returns the Parent of an X-Ray trace header as 8 bytes.
func XRayParentID(header string) []byte {
	for part := range strings.SplitSeq(header, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(k, "Parent") {
			return decodeHexID(v, 8)
		}
	}
	return nil
}

// decodeHexID decodes a hex ID of n bytes; nil when it is not one or when it
// is all zeros (an invalid ID in W3C trace context).
func decodeHexID(s string, n int) []byte {
	if len(s) != 2*n {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	for _, c := range b {
		if c != 0 {
			return b
		}
	}
	return nil
}

// looksLikeRequestID says whether s has the shape of a Lambda request ID
// (a UUID).
func looksLikeRequestID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
