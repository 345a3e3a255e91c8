package collector

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// keyring checks bearer keys against configured SHA-256 digests.
type keyring struct {
	digests [][sha256.Size]byte
	open    bool
}

func newKeyring(cfg Config) *keyring {
	k := &keyring{open: cfg.NoAuth}
	for _, h := range cfg.APIKeySHA256 {
		var d [sha256.Size]byte
		if b, err := hex.DecodeString(h); err == nil && len(b) == sha256.Size {
			copy(d[:], b)
			k.digests = append(k.digests, d)
		}
	}
	return k
}

// check returns nil when the context carries an accepted bearer key.
func (k *keyring) check(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	return k.checkValues(md.Get("authorization"))
}

// checkValues checks the values of an authorization header or metadata
// key; it returns a gRPC Unauthenticated status.
func (k *keyring) checkValues(vals []string) error {
	if k.open {
		return nil
	}
	if len(vals) == 0 {
		return status.Error(codes.Unauthenticated, "missing authorization metadata: send `authorization: Bearer <api key>`")
	}
	// The scheme is case-insensitive (RFC 9110, section 11.1).
	scheme, key, ok := strings.Cut(vals[0], " ")
	key = strings.TrimLeft(key, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		return status.Error(codes.Unauthenticated, "authorization metadata must be `Bearer <api key>`")
	}
	sum := sha256.Sum256([]byte(key))
	match := 0
	for _, d := range k.digests {
		match |= subtle.ConstantTimeCompare(sum[:], d[:])
	}
	if match != 1 {
		return status.Error(codes.Unauthenticated, "unknown API key")
	}
	return nil
}
