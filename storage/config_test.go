package storage

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/internal/testca"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*Config)
		wantErr []string // substrings; none means valid
	}{
		{"default", func(*Config) {}, nil},
		{"database override", func(c *Config) { c.Database = "other_db" }, nil},
		{"empty dsn", func(c *Config) { c.DSN = "" }, []string{"dsn must be set"}},
		{"http dsn", func(c *Config) { c.DSN = "http://127.0.0.1:8123/db" }, []string{"native protocol"}},
		{"other scheme", func(c *Config) { c.DSN = "ftp://x" }, []string{`dsn "ftp://x" must start with clickhouse://`}},
		{"password kept out of the message", func(c *Config) { c.DSN = "tcp://u:secret@h:9000" }, []string{`dsn "tcp://u:xxxxx@h:9000" must start`}},
		{"hostile dsn database", func(c *Config) { c.DSN = "clickhouse://127.0.0.1:9000/x;DROP" }, []string{`dsn names database "x;DROP"`}},
		{"hostile database", func(c *Config) { c.Database = "a b" }, []string{"database \"a b\" must match"}},
		{"database starting with digit", func(c *Config) { c.Database = "1db" }, []string{"database"}},
		{"cluster", func(c *Config) { c.Cluster = "lambdascope" }, nil},
		{"hostile cluster", func(c *Config) { c.Cluster = "c ON CLUSTER x" }, []string{"cluster \"c ON CLUSTER x\" must match"}},
		{"tls ca file missing", func(c *Config) { c.TLS.CAFile = "/nonexistent/ca.pem" }, []string{"tls.ca_file: open /nonexistent/ca.pem"}},
		{"several keys", func(c *Config) { c.DialTimeout = 0; c.MaxOpenConns = 0 },
			[]string{"dial_timeout must be positive", "max_open_conns must be at least 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.modify(&cfg)
			err := cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    Version
		wantErr bool
	}{
		{"18.16.1", Version{18, 16, 1, 0}, false},
		{"24.8.4.13", Version{24, 8, 4, 13}, false},
		{"23.3.1.2823-lts", Version{23, 3, 1, 2823}, false},
		{" 25.1 ", Version{25, 1, 0, 0}, false},
		{"", Version{}, true},
		{"banana", Version{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVersion(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseVersion(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseVersion(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCapabilitiesFor(t *testing.T) {
	tests := []struct {
		version                  Version
		lowCard, codecs, indexes bool
	}{
		{Version{Major: 18, Minor: 10}, false, false, false},
		{Version{Major: 18, Minor: 16, Patch: 1}, false, false, false},
		{Version{Major: 19, Minor: 17}, true, false, false},
		{Version{Major: 20, Minor: 3}, true, true, true},
		{Version{Major: 24, Minor: 8}, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.version.String(), func(t *testing.T) {
			c := CapabilitiesFor(tt.version)
			if c.LowCardinality != tt.lowCard ||
				c.Codecs != tt.codecs || c.SkipIndexes != tt.indexes {
				t.Errorf("CapabilitiesFor(%s) = %+v", tt.version, c)
			}
		})
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"hostile database", Config{DSN: "clickhouse://127.0.0.1:1/", Database: "x; DROP TABLE y", DialTimeout: time.Second, MaxOpenConns: 1}},
		{"no dsn", Config{DialTimeout: time.Second, MaxOpenConns: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenConfig(t.Context(), tt.cfg)
			if err == nil {
				_ = s.Close()
				t.Fatal("OpenConfig succeeded, want a config error")
			}
		})
	}
}

// TestTLSClient: the one builder of TLS to ClickHouse, for the collector's
// keys, the CLI's flags and the plugin's settings.
func TestTLSClient(t *testing.T) {
	ca := testca.NewCA(t)
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     TLSConfig
		off     bool
		rootCAs bool
		wantErr string
	}{
		{name: "nothing set is off", cfg: TLSConfig{}, off: true},
		{name: "enabled alone: the system's CAs", cfg: TLSConfig{Enabled: true}},
		{name: "server name alone turns it on", cfg: TLSConfig{ServerName: "ch.example.com"}},
		{name: "skip verify alone turns it on", cfg: TLSConfig{InsecureSkipVerify: true}},
		{name: "ca file", cfg: TLSConfig{CAFile: ca.File(t)}, rootCAs: true},
		{name: "ca in place", cfg: TLSConfig{CAPEM: ca.PEM}, rootCAs: true},
		{name: "ca file missing", cfg: TLSConfig{CAFile: "/nonexistent/ca.pem"}, wantErr: "tls.ca_file: open /nonexistent/ca.pem"},
		{name: "ca file not PEM", cfg: TLSConfig{CAFile: notPEM}, wantErr: "tls.ca_file \"" + notPEM + "\" holds no PEM certificate"},
		{name: "ca in place not PEM", cfg: TLSConfig{CAPEM: "junk"}, wantErr: "holds no PEM certificate"},
		{name: "both CAs", cfg: TLSConfig{CAFile: ca.File(t), CAPEM: ca.PEM}, wantErr: "set one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.Client()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Client() error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Client(): %v", err)
			}
			if tt.off != !tt.cfg.On() || tt.off != (got == nil) {
				t.Fatalf("On() = %v, Client() = %v; want off %v", tt.cfg.On(), got, tt.off)
			}
			if got == nil {
				return
			}
			if got.MinVersion != tls.VersionTLS12 || got.ServerName != tt.cfg.ServerName || got.InsecureSkipVerify != tt.cfg.InsecureSkipVerify {
				t.Errorf("Client() = %+v, does not follow %+v", got, tt.cfg)
			}
			if (got.RootCAs != nil) != tt.rootCAs {
				t.Errorf("RootCAs set %v, want %v", got.RootCAs != nil, tt.rootCAs)
			}
		})
	}
}
