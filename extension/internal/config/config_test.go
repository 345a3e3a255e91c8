package config

import (
	"bufio"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// loadEnv reads a KEY=VALUE file from testdata into a lookup function.
func loadEnv(t *testing.T, name string) func(string) (string, bool) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { _ = f.Close() })
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: bad line %q", name, line)
		}
		// TESTDATA stands for the absolute path of testdata/.
		env[k] = strings.ReplaceAll(v, "TESTDATA", testdataDir(t))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func testdataDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestFromEnvGood(t *testing.T) {
	def := DefaultConfig()
	tests := []struct {
		file string
		want func(c *Config)
	}{
		{"empty.good.env", func(*Config) {}},
		{"minimal.good.env", func(c *Config) {
			c.Endpoint = "collector.example.com:4320"
			c.APIKey = "secret-key"
		}},
		{"full.good.env", func(c *Config) {
			c.Endpoint = "collector.example.com:443"
			c.TLS = true
			c.APIKey = "secret-key"
			c.OTLPGRPCAddr = "127.0.0.1:14317"
			c.OTLPHTTPAddr = "127.0.0.1:14318"
			c.Flush = FlushPeriodic
			c.FlushInterval = 250 * time.Millisecond
			c.BufferBytes = 4 << 20
			c.LogLevel = slog.LevelDebug
			c.ServiceName = "checkout"
			c.SpoolDir = "/tmp/spool-a"
			c.SpoolBytes = 16 << 20
			c.Strict = true
			c.SampleRate = 0.25
			c.RuntimeProxy = false
			c.TraceContext = []string{"xray", "w3c"}
			c.ResourceAttributes = []Attribute{{"deployment.environment", "prod"}, {"team", "payments core"}}
		}},
		{"spool-off.good.env", func(c *Config) { c.SpoolDir = "" }},
		{"privacy.good.env", func(c *Config) {
			c.CaptureHeaders = []string{"user-agent", "content-type"}
			c.RedactKeys = []string{"password", "authorization", "api_key"}
			c.RedactPatterns = []string{`\b\d{4}-\d{4}-\d{4}-\d{4}\b`, `(?i)bearer\s+\S+`}
		}},
		{"tls-ca.good.env", func(c *Config) {
			c.Endpoint = "collector.internal:4317"
			c.TLS = true
			c.TLSCAFile = filepath.Join(testdataDir(t), "ca.pem")
			c.TLSServerName = "collector.example.com"
		}},
		{"tls-override.good.env", func(c *Config) {
			c.Endpoint = "collector.internal:4320"
			c.TLS = true
			c.FlushInterval = 1500 * time.Millisecond
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := FromEnv(loadEnv(t, tt.file))
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			want := def
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config:\n got %+v\nwant %+v", got, want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestFromEnvBad(t *testing.T) {
	tests := []struct {
		file string
		// Each substring must appear in the error.
		wantErr []string
		// check runs on the degraded configuration.
		check func(t *testing.T, c Config)
	}{
		{"endpoint.bad.env", []string{"LAMBDASCOPE_ENDPOINT", "want host:port"}, func(t *testing.T, c Config) {
			if c.Endpoint != "" {
				t.Errorf("endpoint = %q, want none", c.Endpoint)
			}
		}},
		{"proxy.bad.env", []string{`LAMBDASCOPE_RUNTIME_PROXY="maybe": not a boolean`, `LAMBDASCOPE_TRACE_CONTEXT="w3c,zipkin": unknown source "zipkin"`},
			func(t *testing.T, c Config) {
				if !c.RuntimeProxy {
					t.Error("runtime proxy off after a bad value, want the default (on)")
				}
				if !reflect.DeepEqual(c.TraceContext, DefaultConfig().TraceContext) {
					t.Errorf("trace context order %v after a bad value, want the default", c.TraceContext)
				}
			}},
		{"scheme.bad.env", []string{`LAMBDASCOPE_ENDPOINT="ftp://collector.example.com:21": unsupported scheme "ftp"`}, nil},
		{"flush.bad.env", []string{"LAMBDASCOPE_FLUSH=\"sometimes\"", "LAMBDASCOPE_FLUSH_INTERVAL=\"-1s\": must be positive"}, func(t *testing.T, c Config) {
			if c.Flush != FlushAdaptive || c.FlushInterval != time.Second {
				t.Errorf("flush = %s/%s, want defaults", c.Flush, c.FlushInterval)
			}
			if c.Endpoint == "" {
				t.Error("good endpoint was dropped")
			}
		}},
		{"numbers.bad.env", []string{"LAMBDASCOPE_BUFFER_BYTES", "LAMBDASCOPE_TLS", "LAMBDASCOPE_LOG_LEVEL", "LAMBDASCOPE_OTLP_HTTP_ADDR"}, func(t *testing.T, c Config) {
			if c.BufferBytes != 8<<20 || c.OTLPHTTPAddr != "localhost:4318" {
				t.Errorf("got %d/%s, want defaults", c.BufferBytes, c.OTLPHTTPAddr)
			}
		}},
		{"spool.bad.env", []string{`LAMBDASCOPE_SPOOL_DIR="spool": must be an absolute path`, `LAMBDASCOPE_SPOOL_BYTES="1KiB"`, `LAMBDASCOPE_STRICT="sure"`}, func(t *testing.T, c Config) {
			if c.SpoolDir != filepath.Join(os.TempDir(), "lambdascope-spool") || c.SpoolBytes != 64<<20 || c.Strict {
				t.Errorf("spool %q/%d strict %v, want defaults", c.SpoolDir, c.SpoolBytes, c.Strict)
			}
		}},
		{"tls.bad.env", []string{`LAMBDASCOPE_TLS_CA_FILE=`, "no PEM certificate in the file", `LAMBDASCOPE_TLS_SERVER_NAME="collector.example.com:443": not a host name`}, func(t *testing.T, c Config) {
			if c.TLS || c.TLSCAFile != "" || c.TLSServerName != "" {
				t.Errorf("tls %v ca %q name %q, want TLS off and neither set", c.TLS, c.TLSCAFile, c.TLSServerName)
			}
		}},
		{"tls-off.bad.env", []string{"LAMBDASCOPE_TLS_CA_FILE=", "needs TLS, but LAMBDASCOPE_TLS is false", `LAMBDASCOPE_TLS_SERVER_NAME="collector.example.com": needs TLS`}, nil},
		{"sample.bad.env", []string{`LAMBDASCOPE_SAMPLE_RATE="1.5": must be from 0 to 1`}, func(t *testing.T, c Config) {
			if c.SampleRate != 1 || c.Endpoint == "" {
				t.Errorf("sample rate %v endpoint %q; want every trace kept and the good endpoint", c.SampleRate, c.Endpoint)
			}
		}},
		{"privacy.bad.env", []string{`LAMBDASCOPE_CAPTURE_HEADERS="user agent": not a header name`,
			`LAMBDASCOPE_REDACT_PATTERNS="[\"ok\", \"(unclosed\"]": pattern 2: "(unclosed": error parsing regexp`}, func(t *testing.T, c Config) {
			if c.CaptureHeaders != nil || !reflect.DeepEqual(c.RedactPatterns, []string{"ok"}) {
				t.Errorf("headers %v patterns %v after bad values, want none and the good pattern", c.CaptureHeaders, c.RedactPatterns)
			}
		}},
		{"privacy-list.bad.env", []string{`LAMBDASCOPE_REDACT_PATTERNS="\\d{16}": not a JSON list`}, nil},
		{"sample-word.bad.env", []string{`LAMBDASCOPE_SAMPLE_RATE="ten percent": not a number`}, nil},
		{"attributes.bad.env", []string{"OTEL_RESOURCE_ATTRIBUTES", `"oops"`, `"=novalue"`}, func(t *testing.T, c Config) {
			if want := []Attribute{{"team", "payments"}}; !reflect.DeepEqual(c.ResourceAttributes, want) {
				t.Errorf("attributes = %v, want %v", c.ResourceAttributes, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := FromEnv(loadEnv(t, tt.file))
			if err == nil {
				t.Fatal("FromEnv: no error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if verr := c.Validate(); verr != nil {
				t.Errorf("degraded config does not validate: %v", verr)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"endpoint", func(c *Config) { c.Endpoint = "nohost" }, EnvEndpoint},
		{"grpc addr", func(c *Config) { c.OTLPGRPCAddr = "localhost:99999" }, EnvOTLPGRPCAddr},
		{"http addr", func(c *Config) { c.OTLPHTTPAddr = ":4318" }, EnvOTLPHTTPAddr},
		{"flush", func(c *Config) { c.Flush = "never" }, EnvFlush},
		{"interval", func(c *Config) { c.FlushInterval = 0 }, EnvFlushInterval},
		{"buffer", func(c *Config) { c.BufferBytes = 10 }, EnvBufferBytes},
		{"spool", func(c *Config) { c.SpoolBytes = 10 }, EnvSpoolBytes},
		{"spool off", func(c *Config) { c.SpoolDir, c.SpoolBytes = "", 0 }, ""},
		{"ca file without tls", func(c *Config) { c.TLSCAFile = "/nonexistent/ca.pem" }, EnvTLSCAFile},
		{"ca file relative", func(c *Config) { c.TLS, c.TLSCAFile = true, "ca.pem" }, "must be an absolute path"},
		{"server name", func(c *Config) { c.TLS, c.TLSServerName = true, "https://x" }, EnvTLSServerName},
		{"sample rate", func(c *Config) { c.SampleRate = -0.1 }, EnvSampleRate},
		{"sample nothing", func(c *Config) { c.SampleRate = 0 }, ""},
		{"header name", func(c *Config) { c.CaptureHeaders = []string{"X-Upper"} }, EnvCaptureHeaders},
		{"redact pattern", func(c *Config) { c.RedactPatterns = []string{"[z-a]"} }, EnvRedactPatterns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want error naming %s", err, tt.wantErr)
			}
		})
	}
}
