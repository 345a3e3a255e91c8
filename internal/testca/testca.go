// Package testca makes certificate authorities up for tests: a CA, server
// and client certificates signed by it, as PEM files or pools. It links
// nothing but the standard library, so that any package's tests (the
// extension's among them) can use it without pulling in the backend.
package testca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority made up for one test.
type CA struct {
	// PEM is the CA's certificate.
	PEM  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// File writes the CA's certificate to a PEM file in a temporary directory
// of the test and returns its path.
func (ca CA) File(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, []byte(ca.PEM), 0o600); err != nil {
		t.Fatalf("write ca certificate: %v", err)
	}
	return path
}

// NewCA makes a certificate authority.
func NewCA(t testing.TB) CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ca key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Lambdascope test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("ca certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse ca certificate: %v", err)
	}
	return CA{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), cert: cert, key: key}
}

// ServerCert is a certificate for localhost and 127.0.0.1 signed by ca.
func (ca CA) ServerCert(t testing.TB) tls.Certificate {
	t.Helper()
	return ca.issue(t, "localhost", x509.ExtKeyUsageServerAuth, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
}

// ServerCertFor is a server certificate signed by ca for dnsName alone:
// a client that checks the certificate against an address or another
// name refuses it.
func (ca CA) ServerCertFor(t testing.TB, dnsName string) tls.Certificate {
	t.Helper()
	return ca.issue(t, dnsName, x509.ExtKeyUsageServerAuth, []string{dnsName}, nil)
}

// ClientCert is a client certificate signed by ca, for mutual TLS.
func (ca CA) ClientCert(t testing.TB) tls.Certificate {
	t.Helper()
	return ca.issue(t, "lambdascope test client", x509.ExtKeyUsageClientAuth, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
}

// ServerFiles writes a ServerCert's certificate and key as PEM files in a
// temporary directory of the test and returns their paths.
func (ca CA) ServerFiles(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	cert := ca.ServerCert(t)
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatalf("server key: %v", err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatalf("write server certificate: %v", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatalf("write server key: %v", err)
	}
	return certFile, keyFile
}

// Pool is a certificate pool holding only ca.
func (ca CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// issue makes a certificate for the given names and addresses with the
// given use, signed by ca.
func (ca CA) issue(t testing.TB, commonName string, usage x509.ExtKeyUsage, dnsNames []string, ips []net.IP) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("certificate key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("certificate serial: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: commonName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: dnsNames, IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
