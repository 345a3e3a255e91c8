package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSettingsLayerFileEnvFlags(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgPath, []byte("grpc_addr: 127.0.0.1:1\nhttp_addr: 127.0.0.1:2\nno_auth: true\nclickhouse_dsn: ftp://x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"file value is validated", nil, []string{"--config", cfgPath}, `clickhouse.dsn "ftp://x" must start with clickhouse://`},
		{"env overrides file", map[string]string{"LAMBDASCOPE_CLICKHOUSE_DSN": "gopher://y"}, []string{"--config", cfgPath}, `"gopher://y"`},
		{"flag overrides env", map[string]string{"LAMBDASCOPE_CLICKHOUSE_DSN": "gopher://y"}, []string{"--config", cfgPath, "--clickhouse-dsn", "mailto:z"}, `"mailto:z"`},
		{"bad cluster from env", map[string]string{"LAMBDASCOPE_CLICKHOUSE_CLUSTER": "my-cluster"}, []string{"--no-auth"}, `clickhouse.cluster "my-cluster" must match`},
		{"cluster flag overrides env", map[string]string{"LAMBDASCOPE_CLICKHOUSE_CLUSTER": "ok"}, []string{"--no-auth", "--clickhouse-cluster", "a.b"}, `clickhouse.cluster "a.b"`},
		{"bad grpc addr from flag", nil, []string{"--no-auth", "--grpc-addr", "nope"}, `grpc_addr "nope" must be host:port`},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "none.yaml")}, "read config"},
		{"bad no_auth env", map[string]string{"LAMBDASCOPE_NO_AUTH": "maybe"}, nil, "LAMBDASCOPE_NO_AUTH"},
		{"tls key flag without cert", nil, []string{"--no-auth", "--tls-key-file", filepath.Join(dir, "k.pem")}, "tls.cert_file is required"},
		{"tls env files missing", map[string]string{"LAMBDASCOPE_TLS_CERT_FILE": filepath.Join(dir, "c.pem"), "LAMBDASCOPE_TLS_KEY_FILE": filepath.Join(dir, "k.pem")},
			[]string{"--no-auth"}, "tls.cert_file: stat"},
		{"clickhouse tls ca file missing", map[string]string{"LAMBDASCOPE_CLICKHOUSE_TLS_CA_FILE": filepath.Join(dir, "ca.pem")},
			[]string{"--no-auth"}, "clickhouse.tls.ca_file: open"},
		{"bad no_wal env", map[string]string{"LAMBDASCOPE_NO_WAL": "perhaps"}, []string{"--no-auth"}, "--no-wal must be true or false"},
		{"relative data dir", nil, []string{"--no-auth", "--data-dir", "state"}, `data_dir "state" must be an absolute path`},
		{"no data dir with the WAL on", nil, []string{"--no-auth", "--data-dir", ""}, "data_dir must be set while the WAL is on"},
		{"bad inflight budget from env", map[string]string{"LAMBDASCOPE_MAX_INFLIGHT_BYTES": "1000"}, []string{"--no-auth"}, "max_inflight_bytes (1000) must be at least max_message_bytes"},
		{"bad read timeout flag", nil, []string{"--no-auth", "--http-read-timeout", "soon"}, `http_limits.read_timeout "soon" must be a duration`},
		{"negative conns per ip", nil, []string{"--no-auth", "--http-max-conns-per-ip", "-1"}, "http_limits.max_conns_per_ip must not be negative"},
		{"clickhouse tls ca file not PEM", nil, []string{"--no-auth", "--clickhouse-tls-ca-file", cfgPath}, "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			err := run(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
