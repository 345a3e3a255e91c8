package collector

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSConfig turns on TLS for the Ingest API / OTLP gRPC and the OTLP/HTTP
// listeners; the admin listener (/healthz, /readyz, /metrics) stays plain.
// Empty CertFile and KeyFile mean plain text.
type TLSConfig struct {
	// CertFile is the server's PEM certificate chain.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of CertFile.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile, when set, makes clients present a certificate signed by
	// one of these PEM CAs (mutual TLS).
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled says whether the listeners serve TLS.
func (c TLSConfig) Enabled() bool {
	return c.CertFile != "" || c.KeyFile != "" || c.ClientCAFile != ""
}

// serverConfig loads the files. Its errors name the key of the bad file.
func (c TLSConfig) serverConfig() (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	var errs []error
	if c.CertFile == "" {
		errs = append(errs, errors.New("tls.cert_file is required when tls is configured"))
	}
	if c.KeyFile == "" {
		errs = append(errs, errors.New("tls.key_file is required when tls is configured"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, f := range []struct{ key, path string }{{"tls.cert_file", c.CertFile}, {"tls.key_file", c.KeyFile}} {
		if _, err := os.Stat(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.key, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file %q and tls.key_file %q do not form a key pair: %w", c.CertFile, c.KeyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.client_ca_file %q holds no PEM certificate", c.ClientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
