package plugin

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/lambdascope/lambdascope/internal/testca"
	"github.com/lambdascope/lambdascope/query"
)

func TestLoadSettings(t *testing.T) {
	testCA := testca.NewCA(t).PEM
	tests := []struct {
		name     string
		jsonData string
		password string
		secure   map[string]string
		wantErrs []string // substrings; empty means valid
		check    func(t *testing.T, s Settings)
	}{
		{name: "empty uses defaults", jsonData: ``, check: func(t *testing.T, s Settings) {
			if got := strings.Join(s.Addresses, ","); got != "127.0.0.1:9000" || s.Database != "lambdascope" || s.Username != "default" || s.Location != time.UTC {
				t.Errorf("defaults = %q %q %q %v", got, s.Database, s.Username, s.Location)
			}
		}},
		{name: "several addresses", jsonData: `{"address":"ch1:9440, ch2:9440","tls":true,"database":"obs","username":"grafana","timeZone":"Europe/Berlin"}`,
			check: func(t *testing.T, s Settings) {
				if len(s.Addresses) != 2 || s.Addresses[1] != "ch2:9440" || s.Location.String() != "Europe/Berlin" {
					t.Errorf("settings = %+v", s)
				}
			}},
		{name: "not json", jsonData: `{`, wantErrs: []string{"datasource settings: decode"}},
		{name: "empty address", jsonData: `{"address":" "}`, wantErrs: []string{"address must be set"}},
		{name: "no port", jsonData: `{"address":"clickhouse"}`, wantErrs: []string{`address "clickhouse": want host:port`}},
		{name: "bad port", jsonData: `{"address":"ch:99999"}`, wantErrs: []string{"must be a number from 1 to 65535"}},
		{name: "host injection", jsonData: `{"address":"evil@ch:9000"}`, wantErrs: []string{"cannot be in a host name"}},
		{name: "database with sql", jsonData: `{"database":"x; DROP TABLE spans"}`, wantErrs: []string{"database \"x; DROP TABLE spans\" must match"}},
		{name: "bad time zone", jsonData: `{"timeZone":"Mars/Olympus"}`, wantErrs: []string{`timeZone "Mars/Olympus" is not an IANA time zone`}},
		{name: "skip verify without tls", jsonData: `{"tlsSkipVerify":true}`, wantErrs: []string{"tlsSkipVerify needs tls"}},
		{name: "timeout", jsonData: `{"dialTimeoutSeconds":-1}`, wantErrs: []string{"dialTimeoutSeconds must be between 1 and 300"}},
		{name: "server name without tls", jsonData: `{"tlsServerName":"ch.example.com"}`, wantErrs: []string{"tlsServerName needs tls"}},
		{name: "server name not a host", jsonData: `{"tls":true,"tlsServerName":"ch.example.com/x"}`, wantErrs: []string{`tlsServerName "ch.example.com/x" must be a host name`}},
		{name: "ca without tls", jsonData: `{}`, secure: map[string]string{"tlsCACert": testCA}, wantErrs: []string{"tlsCACert needs tls"}},
		{name: "ca not pem", jsonData: `{"tls":true}`, secure: map[string]string{"tlsCACert": "-----BEGIN NOTHING-----"}, wantErrs: []string{"tlsCACert holds no PEM certificate"}},
		{name: "ca", jsonData: `{"tls":true,"tlsServerName":" ch.internal "}`, secure: map[string]string{"tlsCACert": testCA}, check: func(t *testing.T, s Settings) {
			cfg, err := s.TLSConfig()
			if err != nil || cfg.RootCAs == nil || cfg.ServerName != "ch.internal" || cfg.InsecureSkipVerify {
				t.Errorf("tls config = %+v, %v", cfg, err)
			}
			if sc := s.StorageConfig(); sc.TLS.CAPEM != testCA || sc.TLS.ServerName != "ch.internal" || !sc.TLS.On() {
				t.Errorf("storage config's TLS = %+v, want the CA and server name", sc.TLS)
			}
		}},
		{name: "default prices", jsonData: `{}`, check: func(t *testing.T, s Settings) {
			if p := s.PriceList(); len(p.Tables) != 1 || p.Tables[0].Region != "us-east-1" || p.Tables[0].RequestsPerMillion != 0.20 {
				t.Errorf("prices = %+v, want the us-east-1 defaults", p.Tables)
			}
		}},
		{name: "prices", jsonData: `{"prices":{"prices":[{"region":"eu-west-1","currency":"EUR","requests_per_million":0.19,` +
			`"architectures":{"x86_64":{"duration":[{"price_per_gb_second":0.0000155}]}}}],` +
			`"capacity_providers":[{"name":"web","instance_type":"m7g.large","instances":2,"functions":["api"]}]}}`,
			check: func(t *testing.T, s Settings) {
				p := s.PriceList()
				eu, fb := p.For("eu-west-1")
				if fb || eu.Currency != "EUR" || eu.RequestsPerMillion != 0.19 || len(p.CapacityProviders) != 1 {
					t.Errorf("prices = %+v", p)
				}
				if _, fb := p.For("us-east-1"); fb {
					t.Error("us-east-1 is missing")
				}
			}},
		{name: "observability prices", jsonData: `{"prices":{"observability":{"cloudwatch_logs_class":"infrequent_access",` +
			`"transfer_out":[{"up_to_gb":0,"price_per_gb":0.02}]}}}`,
			check: func(t *testing.T, s Settings) {
				p := s.PriceList()
				o := p.ObservabilityPrices()
				if o.LogClass != query.LogClassInfrequentAccess || len(o.TransferOut) != 1 || o.TransferOut[0].PricePerGB != 0.02 {
					t.Errorf("observability prices = %+v, want infrequent_access and the $0.02 transfer", o)
				}
				if _, fb := p.For("us-east-1"); fb {
					t.Error("us-east-1 is missing")
				}
			}},
		{name: "invalid observability prices", jsonData: `{"prices":{"observability":{"cloudwatch_logs_class":"cold"}}}`,
			wantErrs: []string{`prices: observability.cloudwatch_logs_class: log class must be standard or infrequent_access, got "cold"`}},
		{name: "bad prices", jsonData: `{"prices":{"prices":[{"region":"eu-west-1","requests_per_milion":1}]}}`,
			wantErrs: []string{`prices: parse prices: json: unknown field "requests_per_milion"`}},
		{name: "invalid prices", jsonData: `{"prices":{"capacity_providers":[{"name":"web"}]}}`,
			wantErrs: []string{"prices: capacity_providers[0]: instance_type must be set"}},
		{name: "every error at once", jsonData: `{"address":"x","database":"-","timeZone":"?"}`,
			wantErrs: []string{"want host:port", "database \"-\"", "timeZone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secure := map[string]string{"password": tt.password}
			for k, v := range tt.secure {
				secure[k] = v
			}
			got, err := LoadSettings(backend.DataSourceInstanceSettings{
				JSONData:                []byte(tt.jsonData),
				DecryptedSecureJSONData: secure,
			})
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("LoadSettings(%s) = %+v, want errors %q", tt.jsonData, got, tt.wantErrs)
				}
				for _, want := range tt.wantErrs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadSettings(%s): %v", tt.jsonData, err)
			}
			tt.check(t, got)
		})
	}
}

func TestSettingsDSN(t *testing.T) {
	tests := []struct {
		name     string
		jsonData string
		password string
	}{
		{name: "plain", jsonData: `{"address":"ch:9000"}`, password: ""},
		{name: "password with url characters", jsonData: `{"address":"ch1:9440,ch2:9440","tls":true,"tlsSkipVerify":true,"username":"gr@fana"}`,
			password: "p@ss:w/rd?#&= %"},
		{name: "server name", jsonData: `{"address":"10.0.0.1:9440","tls":true,"tlsServerName":"ch.internal"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadSettings(backend.DataSourceInstanceSettings{
				JSONData: []byte(tt.jsonData), DecryptedSecureJSONData: map[string]string{"password": tt.password},
			})
			if err != nil {
				t.Fatalf("LoadSettings: %v", err)
			}
			opts, err := clickhouse.ParseDSN(s.DSN())
			if err != nil {
				t.Fatalf("ParseDSN(%s): %v", s.DSN(), err)
			}
			if opts.Auth.Password != tt.password || opts.Auth.Username != s.Username || opts.Auth.Database != s.Database {
				t.Errorf("auth = %+v, want user %q password %q database %q", opts.Auth, s.Username, tt.password, s.Database)
			}
			if strings.Join(opts.Addr, ",") != strings.Join(s.Addresses, ",") {
				t.Errorf("addr = %v, want %v", opts.Addr, s.Addresses)
			}
			if opts.TLS != nil {
				t.Errorf("DSN asks for TLS (%+v); TLS belongs in StorageConfig's TLS", opts.TLS)
			}
			if tc := s.StorageConfig().TLS; tc.On() != s.TLS || (s.TLS && (tc.InsecureSkipVerify != s.TLSSkipVerify || tc.ServerName != s.TLSServerName)) {
				t.Errorf("storage tls = %+v, want tls %v skip verify %v server name %q", tc, s.TLS, s.TLSSkipVerify, s.TLSServerName)
			}
			if tt.password != "" && strings.Contains(s.Redacted(), tt.password) {
				t.Errorf("Redacted() = %q shows the password", s.Redacted())
			}
			if err := s.StorageConfig().Validate(); err != nil {
				t.Errorf("storage config: %v", err)
			}
		})
	}
}

// The prices the config editor writes (src/components/ConfigEditor.tsx:
// the CloudWatch Logs class, a Savings Plan's discount, capacity providers
// and provisioned concurrency in its JSON field) are what the backend
// reads; the editor's tests write testdata/editor_settings.json from
// clicks and typing, this test loads it.
func TestEditorPricesAreRead(t *testing.T) {
	raw, err := os.ReadFile("testdata/editor_settings.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSettings(backend.DataSourceInstanceSettings{JSONData: raw})
	if err != nil {
		t.Fatalf("LoadSettings(editor_settings.json): %v", err)
	}
	p := s.PriceList()
	if got := p.ObservabilityPrices().LogClass; got != query.LogClassInfrequentAccess {
		t.Errorf("log class = %q, want %q", got, query.LogClassInfrequentAccess)
	}
	if p.SavingsPlan.Discount != 0.12 {
		t.Errorf("savings plan discount = %v, want 0.12", p.SavingsPlan.Discount)
	}
	if len(p.CapacityProviders) != 1 || p.CapacityProviders[0].InstanceType != "m7g.large" || p.CapacityProviders[0].Instances != 2 ||
		p.CapacityProviders[0].HoursPerDay != 12 {
		t.Errorf("capacity providers = %+v, want the fleet of 2 m7g.large 12 hours a day", p.CapacityProviders)
	}
	if len(p.Provisioned) != 1 || p.Provisioned[0].FunctionName != "checkout" || p.Provisioned[0].Concurrency != 5 {
		t.Errorf("provisioned concurrency = %+v, want checkout's 5", p.Provisioned)
	}
}

// Prices the config editor flags (src/query.ts pricesProblems, tested on
// the same file in src/query.test.ts) are refused by the backend too, for
// the same key.
func TestEditorFlaggedPricesAreRefused(t *testing.T) {
	raw, err := os.ReadFile("testdata/editor_prices_bad.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Prices  json.RawMessage `json:"prices"`
		Editor  string          `json:"editor"`
		Backend string          `json:"backend"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("editor_prices_bad.json holds no case")
	}
	for _, c := range cases {
		t.Run(c.Editor, func(t *testing.T) {
			jsonData, _ := json.Marshal(map[string]any{"address": "ch:9000", "prices": c.Prices})
			_, err := LoadSettings(backend.DataSourceInstanceSettings{JSONData: jsonData})
			if err == nil || !strings.Contains(err.Error(), c.Backend) {
				t.Errorf("LoadSettings(%s) = %v, want an error with %q", jsonData, err, c.Backend)
			}
		})
	}
}
