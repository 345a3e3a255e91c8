package collector_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/collector"
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
			"clickhouse_dsn",
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
		"bad-database.bad.yaml": {`clickhouse_dsn names database "my-db", which must match`},
		"bad-dsn.bad.yaml":      {"clickhouse_dsn is invalid", `invalid duration "soon"`},
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

func TestConfigClickHouseCluster(t *testing.T) {
	tests := []struct {
		name, yaml, want string // want: "" for valid
	}{
		{"omitted is a single server", "", ""},
		{"cluster name", "clickhouse_cluster: lambdascope\n", ""},
		{"underscores and digits", "clickhouse_cluster: _shards_2\n", ""},
		{"dash", "clickhouse_cluster: my-cluster\n", `clickhouse_cluster "my-cluster" must be a plain identifier`},
		{"leading digit", "clickhouse_cluster: 2shards\n", `clickhouse_cluster "2shards" must be a plain identifier`},
		{"SQL", "clickhouse_cluster: \"c ON CLUSTER x\"\n", `clickhouse_cluster "c ON CLUSTER x" must be a plain identifier`},
		{"not a string", "clickhouse_cluster: [a]\n", "cannot unmarshal"},
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
			sc, err := cfg.Storage()
			if err != nil {
				t.Fatal(err)
			}
			if sc.DSN != cfg.ClickHouseDSN || sc.Cluster != cfg.ClickHouseCluster {
				t.Errorf("Storage() = DSN %q cluster %q, want %q and %q", sc.DSN, sc.Cluster, cfg.ClickHouseDSN, cfg.ClickHouseCluster)
			}
			if err := sc.Validate(); err != nil {
				t.Errorf("storage config of a valid collector config refused: %v", err)
			}
		})
	}
}
