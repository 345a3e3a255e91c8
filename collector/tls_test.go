package collector_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/internal/testca"
	"github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

func tlsClient(t *testing.T, addr string, cfg *tls.Config) ingestv1.IngestServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithDefaultCallOptions(grpc.UseCompressor(grpczstd.Name)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return ingestv1.NewIngestServiceClient(conn)
}

func TestTLSListeners(t *testing.T) {
	ca := testca.NewCA(t)
	certFile, keyFile := ca.ServerFiles(t)
	h := start(t, func(c *collector.Config) {
		c.TLS = collector.TLSConfig{CertFile: certFile, KeyFile: keyFile}
	})
	ctx := withKey(t.Context(), apiKey)

	t.Run("gRPC over TLS", func(t *testing.T) {
		client := tlsClient(t, h.srv.Addr(), &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12})
		trace := [16]byte{0x71, 0x5}
		resp, err := client.Export(ctx, batch(t, trace, 2))
		if err != nil {
			t.Fatalf("export over TLS: %v", err)
		}
		if resp.GetAcceptedSpans() != 2 {
			t.Fatalf("accepted %d spans, want 2", resp.GetAcceptedSpans())
		}
		spans, err := h.store.SpansByTraceID(t.Context(), trace)
		if err != nil || len(spans) != 2 {
			t.Fatalf("stored spans: %d, %v; want 2", len(spans), err)
		}
	})
	t.Run("plain gRPC refused", func(t *testing.T) {
		_, err := h.client.Export(ctx, batch(t, [16]byte{0x71, 0x6}, 1))
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("plain-text export: got %v, want UNAVAILABLE", err)
		}
	})

	body, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: batch(t, [16]byte{0x71, 0x7}, 1).ResourceSpans})
	if err != nil {
		t.Fatal(err)
	}
	post := func(client *http.Client, url string) (*http.Response, string, error) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Authorization", "Bearer "+apiKey)
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b), nil
	}
	t.Run("OTLP/HTTP over TLS", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
		resp, b, err := post(client, "https://"+h.srv.HTTPAddr()+"/v1/traces")
		if err != nil {
			t.Fatalf("https post: %v", err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("https post: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("plain OTLP/HTTP refused", func(t *testing.T) {
		resp, b, err := post(http.DefaultClient, "http://"+h.srv.HTTPAddr()+"/v1/traces")
		if err != nil {
			t.Fatalf("plain post: %v", err)
		}
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "HTTPS") {
			t.Fatalf("plain post: %d %q, want 400 saying the server speaks HTTPS", resp.StatusCode, b)
		}
	})
	t.Run("admin stays plain", func(t *testing.T) {
		if code, b := get(t, "http://"+h.srv.AdminAddr()+"/healthz"); code != http.StatusOK {
			t.Fatalf("healthz: %d %s", code, b)
		}
	})
}

func TestMutualTLS(t *testing.T) {
	ca := testca.NewCA(t)
	certFile, keyFile := ca.ServerFiles(t)
	h := start(t, func(c *collector.Config) {
		c.TLS = collector.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: ca.File(t)}
	})
	ctx := withKey(t.Context(), apiKey)
	withCert := tlsClient(t, h.srv.Addr(), &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ca.ClientCert(t)}, MinVersion: tls.VersionTLS12})
	if _, err := withCert.Export(ctx, batch(t, [16]byte{0x72, 1}, 1)); err != nil {
		t.Fatalf("export with a client certificate: %v", err)
	}
	without := tlsClient(t, h.srv.Addr(), &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12})
	if _, err := without.Export(ctx, batch(t, [16]byte{0x72, 2}, 1)); status.Code(err) != codes.Unavailable {
		t.Fatalf("export without a client certificate: got %v, want UNAVAILABLE", err)
	}
}

func TestTLSConfigErrorsNameTheField(t *testing.T) {
	ca := testca.NewCA(t)
	certFile, keyFile := ca.ServerFiles(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name string
		tls  collector.TLSConfig
		want []string
	}{
		{"key without cert", collector.TLSConfig{KeyFile: keyFile}, []string{"tls.cert_file is required"}},
		{"cert without key", collector.TLSConfig{CertFile: certFile}, []string{"tls.key_file is required"}},
		{"missing files", collector.TLSConfig{CertFile: missing, KeyFile: missing}, []string{"tls.cert_file: stat", "tls.key_file: stat"}},
		{"not a pair", collector.TLSConfig{CertFile: keyFile, KeyFile: certFile}, []string{"tls.cert_file", "do not form a key pair"}},
		{"missing client CA", collector.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: missing}, []string{"tls.client_ca_file: open"}},
		{"client CA not PEM", collector.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: keyFile}, []string{"tls.client_ca_file", "no PEM certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := collector.DefaultConfig()
			cfg.NoAuth = true
			cfg.TLS = tt.tls
			err := cfg.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	ok := collector.DefaultConfig()
	ok.NoAuth = true
	ok.TLS = collector.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: ca.File(t)}
	if err := ok.Validate(); err != nil {
		t.Fatalf("good TLS config refused: %v", err)
	}
}

// TestClickHouseOverTLS writes through a ClickHouse reached over TLS with
// a private CA (clickhouse.tls.ca_file), and checks that a CA that did not
// sign the server's certificate is refused with a certificate error.
func TestClickHouseOverTLS(t *testing.T) {
	ca := testca.NewCA(t)
	addr := chtest.NewTLSFront(t, ca, chtest.Server().Addr())
	_, db := chtest.NewDatabase(t)
	dsn := "clickhouse://" + addr + "/" + db

	// Without TLS the front's handshake never completes: connecting at all
	// proves the store speaks TLS.
	plain := testConfig(t, dsn)
	if s, err := storage.OpenConfig(t.Context(), plain.ClickHouse); err == nil {
		_ = s.Close()
		t.Fatal("a plain connection to the TLS front succeeded")
	}

	cfg := testConfig(t, dsn)
	cfg.ClickHouse.TLS.CAFile = ca.File(t)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	store, err := storage.OpenConfig(t.Context(), cfg.ClickHouse)
	if err != nil {
		t.Fatalf("open ClickHouse over TLS: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate over TLS: %v", err)
	}
	srv := serve(t, cfg, store)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	trace := [16]byte{0x71, 0x5c}
	if _, err := ingestv1.NewIngestServiceClient(conn).Export(withKey(t.Context(), apiKey), batch(t, trace, 3)); err != nil {
		t.Fatalf("export: %v", err)
	}
	// Counted on the server itself: the test's own connections speak no TLS.
	direct, err := storage.Open(t.Context(), chtest.Server().DSNFor(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = direct.Close() })
	if rows, _ := spanCounts(t, direct, trace); rows != 3 {
		t.Errorf("%d spans stored over TLS, want 3", rows)
	}

	wrong := testConfig(t, dsn)
	wrong.ClickHouse.TLS.CAFile = testca.NewCA(t).File(t)
	if s, err := storage.OpenConfig(t.Context(), wrong.ClickHouse); err == nil {
		_ = s.Close()
		t.Fatal("a CA that did not sign the server's certificate was accepted")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error %q does not say the certificate is the problem", err)
	}
}
