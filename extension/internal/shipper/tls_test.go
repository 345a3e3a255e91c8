package shipper

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/internal/testca"
)

func TestTLSWithCAFileAndServerName(t *testing.T) {
	const name = "collector.lambdascope.test"
	ca := testca.NewCA(t)
	caFile := ca.File(t)
	srv := collectortest.StartWith(t, grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{ca.ServerCertFor(t, name)},
		MinVersion:   tls.VersionTLS12,
	})))

	tests := []struct {
		name       string
		caFile     string
		serverName string
		wantSent   bool
	}{
		{"trusted CA and matching name", caFile, name, true},
		{"system roots only", "", name, false},
		{"name not in the certificate", caFile, "other.lambdascope.test", false},
		{"address instead of the name", caFile, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.Accepted())
			s, buf := newShipper(t, srv.Addr, func(c *Config) {
				c.TLS, c.TLSCAFile, c.TLSServerName = true, tt.caFile, tt.serverName
				c.MaxAttempts = 1
				c.RPCTimeout = 2 * time.Second
			})
			addWork(buf, "req-tls")
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			err := s.Flush(ctx)
			got := len(srv.Accepted()) - before
			if tt.wantSent {
				if err != nil || got != 1 {
					t.Fatalf("Flush = %v, accepted %d batches; want nil and 1", err, got)
				}
				if st := buf.Stats(); st.Sent.IsZero() {
					t.Errorf("nothing counted as sent: %+v", st)
				}
				return
			}
			if err == nil || got != 0 {
				t.Fatalf("Flush = %v, accepted %d batches; want a handshake failure and none", err, got)
			}
			if !errors.Is(err, errBudget) {
				t.Errorf("Flush error %v; want the batch kept for a retry", err)
			}
		})
	}
}

func TestTLSBadCAFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(t.TempDir(), "missing.pem")} {
		cfg := DefaultConfig()
		cfg.Endpoint, cfg.TLS, cfg.TLSCAFile = "127.0.0.1:1", true, path
		if _, err := New(cfg, nil, nil); err == nil {
			t.Errorf("New with CA file %s: no error", path)
		}
	}
}
