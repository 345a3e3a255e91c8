package shipper

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
)

// testPKI is a CA and a server certificate it signed for one DNS name.
type testPKI struct {
	caFile string
	server tls.Certificate
}

func newTestPKI(t *testing.T, dnsName string) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Lambdascope test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testPKI{caFile: caFile, server: tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}
}

func TestTLSWithCAFileAndServerName(t *testing.T) {
	const name = "collector.lambdascope.test"
	pki := newTestPKI(t, name)
	srv := collectortest.StartWith(t, grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{pki.server},
		MinVersion:   tls.VersionTLS12,
	})))

	tests := []struct {
		name       string
		caFile     string
		serverName string
		wantSent   bool
	}{
		{"trusted CA and matching name", pki.caFile, name, true},
		{"system roots only", "", name, false},
		{"name not in the certificate", pki.caFile, "other.lambdascope.test", false},
		{"address instead of the name", pki.caFile, "", false},
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
