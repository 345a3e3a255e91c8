package storage

import (
	"strings"
	"testing"
	"time"
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
		{"hostile dsn database", func(c *Config) { c.DSN = "clickhouse://127.0.0.1:9000/x;DROP" }, []string{`dsn names database "x;DROP"`}},
		{"hostile database", func(c *Config) { c.Database = "a b" }, []string{"database \"a b\" must match"}},
		{"database starting with digit", func(c *Config) { c.Database = "1db" }, []string{"database"}},
		{"cluster", func(c *Config) { c.Cluster = "lambdascope" }, nil},
		{"hostile cluster", func(c *Config) { c.Cluster = "c ON CLUSTER x" }, []string{"cluster \"c ON CLUSTER x\" must match"}},
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
