package collector_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/internal/testca"
	"github.com/lambdascope/lambdascope/storage"
)

func TestConfigCorpus(t *testing.T) {
	bad := map[string][]string{
		"no-key.bad.yaml":       {"api_key_sha256 must list at least one key digest"},
		"unknown-key.bad.yaml":  {"field flush_interval not found"},
		"bad-digest.bad.yaml":   {"api_key_sha256[0] must be 64 hex characters"},
		"bad-duration.bad.yaml": {"line 2", "`soon` into time.Duration"},
		"bad-limits.bad.yaml": {
			"max_inflight_bytes (1000) must be at least max_message_bytes (1048576)",
			"grpc_read_timeout must be positive",
			"http_limits.read_timeout must be positive",
			"http_limits.max_conns_per_ip must not be negative",
		},
		"bad-values.bad.yaml": {
			`grpc_addr "localhost" must be host:port`,
			"clickhouse.dsn",
			"max_batch_items must be positive",
			"batch.parallelism must be positive",
			"batch.flush_interval must be positive",
			"wal.max_bytes must be at least 2 MiB",
			"tracing.endpoint",
			"tracing.sample_ratio must be between 0 and 1",
		},
		"safety.bad.yaml": {
			`data_dir "state" must be an absolute path`,
			"quarantine.max_refusals must be positive",
			"quarantine.max_bytes must be at least 1 MiB",
			"fields.name_bytes must be at least 16",
			"fields.log_body_bytes must be at least 16",
		},
		"no-data-dir.bad.yaml":  {"data_dir must be set while the WAL is on"},
		"bad-database.bad.yaml": {`clickhouse.dsn names database "my-db", which must match`},
		"bad-dsn.bad.yaml":      {"clickhouse.dsn is invalid", `invalid duration "soon"`},
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) < len(bad)+2 {
		t.Fatalf("found %d corpus files", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			cfg, err := collector.LoadConfig(path)
			if err == nil {
				err = cfg.Validate()
			}
			if strings.HasSuffix(name, ".good.yaml") {
				if err != nil {
					t.Fatalf("good config refused: %v", err)
				}
				return
			}
			want, ok := bad[name]
			if !ok {
				t.Fatalf("no expected messages for %s", name)
			}
			if err == nil {
				t.Fatalf("bad config accepted")
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestConfigFileKeepsDefaultsForOmittedKeys(t *testing.T) {
	full, err := collector.LoadConfig("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if full.Batch.FlushInterval != 50*time.Millisecond || full.WAL.MaxBytes != 4<<30 || !full.Tracing.Enabled ||
		full.Quarantine.MaxRefusals != 5 || full.Fields.LogBodyBytes != 32768 {
		t.Fatalf("full config not read: %+v", full)
	}
	minimal, err := collector.LoadConfig("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := collector.DefaultConfig()
	if minimal.GRPCAddr != def.GRPCAddr || minimal.Batch != def.Batch || minimal.WAL != def.WAL ||
		minimal.DataDir != def.DataDir || minimal.Quarantine != def.Quarantine || minimal.Fields != def.Fields {
		t.Fatalf("omitted keys lost their defaults: %+v", minimal)
	}
}

// TestDefaultConfigKeepsAWAL: nothing is lost in a ClickHouse outage unless
// the WAL is turned off on purpose.
func TestDefaultConfigKeepsAWAL(t *testing.T) {
	def := collector.DefaultConfig()
	if !def.WAL.Enabled || def.WALDir() != filepath.Join(collector.DefaultDataDir, "wal") || def.WAL.MaxBytes <= 0 {
		t.Fatalf("default WAL: enabled %v in %q, max_bytes %d; want it on in data_dir/wal with a cap", def.WAL.Enabled, def.WALDir(), def.WAL.MaxBytes)
	}
	off, err := collector.LoadConfig("testdata/no-wal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if off.WALDir() != "" {
		t.Fatalf("wal.enabled: false keeps a WAL in %q", off.WALDir())
	}
	moved := collector.DefaultConfig()
	moved.WAL.Dir = "/srv/wal"
	if moved.WALDir() != "/srv/wal" {
		t.Fatalf("wal.dir not used: %q", moved.WALDir())
	}
}

// TestConfigClickHouse: the collector nests storage's configuration under
// clickhouse, validated at start with every error naming its key, and
// still reads the flat keys of earlier versions into it.
func TestConfigClickHouse(t *testing.T) {
	ca := testca.NewCA(t).File(t)
	def := storage.DefaultConfig()
	tests := []struct {
		name, yaml string
		want       string         // an error containing this; "" for valid
		check      storage.Config // for valid ones: what is opened
	}{
		{name: "omitted is a single local server", check: def},
		{name: "nested keys", yaml: "clickhouse:\n  dsn: clickhouse://ch1:9000/obs\n  database: other\n  cluster: lambdascope\n" +
			"  dial_timeout: 3s\n  max_open_conns: 4\n  tls:\n    ca_file: " + ca + "\n    server_name: ch.internal\n",
			check: storage.Config{DSN: "clickhouse://ch1:9000/obs", Database: "other", Cluster: "lambdascope", DialTimeout: 3 * time.Second,
				MaxOpenConns: 4, TLS: storage.TLSConfig{CAFile: ca, ServerName: "ch.internal"}}},
		{name: "flat keys of earlier versions", yaml: "clickhouse_dsn: clickhouse://ch1:9000/obs\nclickhouse_cluster: _shards_2\n" +
			"clickhouse_tls:\n  ca_file: " + ca + "\n  server_name: ch.internal\n  insecure_skip_verify: true\n",
			check: storage.Config{DSN: "clickhouse://ch1:9000/obs", Cluster: "_shards_2", DialTimeout: def.DialTimeout,
				MaxOpenConns: def.MaxOpenConns, TLS: storage.TLSConfig{CAFile: ca, ServerName: "ch.internal", InsecureSkipVerify: true}}},
		{name: "tls on with the system's CAs", yaml: "clickhouse:\n  tls:\n    enabled: true\n",
			check: storage.Config{DSN: def.DSN, DialTimeout: def.DialTimeout, MaxOpenConns: def.MaxOpenConns, TLS: storage.TLSConfig{Enabled: true}}},
		{name: "both ways", yaml: "clickhouse_dsn: clickhouse://a:9000/x\nclickhouse:\n  dsn: clickhouse://b:9000/x\n",
			want: "clickhouse_dsn and clickhouse.dsn are the same setting; keep clickhouse.dsn"},
		{name: "bad database", yaml: "clickhouse:\n  database: my-db\n", want: `clickhouse.database "my-db" must match`},
		{name: "database in the dsn", yaml: "clickhouse:\n  dsn: clickhouse://127.0.0.1:9000/my-db\n", want: `clickhouse.dsn names database "my-db"`},
		{name: "dash in cluster", yaml: "clickhouse_cluster: my-cluster\n", want: `clickhouse.cluster "my-cluster" must match`},
		{name: "leading digit in cluster", yaml: "clickhouse:\n  cluster: 2shards\n", want: `clickhouse.cluster "2shards" must match`},
		{name: "SQL in cluster", yaml: "clickhouse:\n  cluster: \"c ON CLUSTER x\"\n", want: `clickhouse.cluster "c ON CLUSTER x" must match`},
		{name: "cluster not a string", yaml: "clickhouse_cluster: [a]\n", want: "cannot unmarshal"},
		{name: "pool and timeout", yaml: "clickhouse:\n  max_open_conns: 0\n  dial_timeout: 0s\n",
			want: "clickhouse.dial_timeout must be positive\nclickhouse.max_open_conns must be at least 1"},
		{name: "ca file missing", yaml: "clickhouse:\n  tls:\n    ca_file: /nonexistent/ca.pem\n", want: "clickhouse.tls.ca_file: open /nonexistent/ca.pem"},
		{name: "unknown nested key", yaml: "clickhouse:\n  dns: clickhouse://x\n", want: "field dns not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := collector.DefaultConfig()
			cfg.NoAuth = true
			err := collector.ParseConfig([]byte(tt.yaml), &cfg)
			if err == nil {
				err = cfg.Validate()
			}
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want an error containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("valid config refused: %v", err)
			}
			if cfg.ClickHouse != tt.check {
				t.Errorf("clickhouse = %+v, want %+v", cfg.ClickHouse, tt.check)
			}
		})
	}
}
