package plugin

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
)

// databasePattern is what a database name must look like; storage places it
// in SQL text.
var databasePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Settings is a datasource instance's configuration: jsonData plus the
// password from secureJsonData.
type Settings struct {
	// Addresses are host:port pairs of ClickHouse's native protocol
	// (port 9000, 9440 with TLS), comma separated in jsonData.
	Addresses []string `json:"-"`
	// Address is jsonData's comma-separated form of Addresses.
	Address string `json:"address"`
	// Database holds the Lambdascope schema; default "lambdascope".
	Database string `json:"database"`
	// Username is the ClickHouse user; default "default".
	Username string `json:"username"`
	// TLS connects with TLS.
	TLS bool `json:"tls"`
	// TLSSkipVerify accepts any server certificate (testing only).
	TLSSkipVerify bool `json:"tlsSkipVerify"`
	// TLSServerName is the name the server's certificate must hold;
	// default the host of each address.
	TLSServerName string `json:"tlsServerName"`
	// DialTimeoutSeconds bounds connecting; default 10.
	DialTimeoutSeconds int `json:"dialTimeoutSeconds"`
	// TimeZone is the IANA zone used where figures are bucketed by day;
	// default "UTC".
	TimeZone string `json:"timeZone"`
	// Prices overrides the prices costs are reported at, in the JSON form
	// of the CLI's --prices file ({"prices": [...],
	// "provisioned_concurrency": [...], "capacity_providers": [...]});
	// absent, AWS's us-east-1 list.
	Prices json.RawMessage `json:"prices,omitempty"`

	// Password comes from secureJsonData's "password".
	Password string `json:"-"`
	// TLSCACert is PEM from secureJsonData's "tlsCACert": the certificate
	// authorities the server's certificate is verified with instead of the
	// system's.
	TLSCACert string `json:"-"`
	// Location is TimeZone loaded.
	Location *time.Location `json:"-"`
	// prices is Prices parsed.
	prices query.Prices
}

// DefaultSettings is a local ClickHouse with the default database.
func DefaultSettings() Settings {
	return Settings{
		Address:            "127.0.0.1:9000",
		Database:           storage.DefaultDatabase,
		Username:           "default",
		DialTimeoutSeconds: 10,
		TimeZone:           "UTC",
	}
}

// LoadSettings decodes a datasource instance's settings over the defaults
// and validates them.
func LoadSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	cfg := DefaultSettings()
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &cfg); err != nil {
			return Settings{}, fmt.Errorf("%w: decode: %w", ErrInvalidSettings, err)
		}
	}
	cfg.Password = s.DecryptedSecureJSONData["password"]
	cfg.TLSCACert = s.DecryptedSecureJSONData["tlsCACert"]
	if err := cfg.Validate(); err != nil {
		return Settings{}, fmt.Errorf("%w: %w", ErrInvalidSettings, err)
	}
	return cfg, nil
}

// Validate reports every invalid key and fills Addresses and Location.
func (c *Settings) Validate() error {
	var errs []error
	c.Addresses = c.Addresses[:0]
	if strings.TrimSpace(c.Address) == "" {
		errs = append(errs, errors.New("address must be set (host:port of ClickHouse's native protocol)"))
	}
	for a := range strings.SplitSeq(c.Address, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if err := validAddress(a); err != nil {
			errs = append(errs, fmt.Errorf("address %q: %w", a, err))
			continue
		}
		c.Addresses = append(c.Addresses, a)
	}
	if c.Database == "" {
		c.Database = storage.DefaultDatabase
	}
	if !databasePattern.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("database %q must match %s", c.Database, databasePattern))
	}
	if c.Username == "" {
		c.Username = "default"
	}
	if c.DialTimeoutSeconds == 0 {
		c.DialTimeoutSeconds = 10
	}
	if c.DialTimeoutSeconds < 0 || c.DialTimeoutSeconds > 300 {
		errs = append(errs, fmt.Errorf("dialTimeoutSeconds must be between 1 and 300, got %d", c.DialTimeoutSeconds))
	}
	if c.TLSSkipVerify && !c.TLS {
		errs = append(errs, errors.New("tlsSkipVerify needs tls to be on"))
	}
	c.TLSServerName = strings.TrimSpace(c.TLSServerName)
	if c.TLSServerName != "" {
		if !c.TLS {
			errs = append(errs, errors.New("tlsServerName needs tls to be on"))
		}
		if strings.ContainsAny(c.TLSServerName, "/?#@:, ") {
			errs = append(errs, fmt.Errorf("tlsServerName %q must be a host name", c.TLSServerName))
		}
	}
	if strings.TrimSpace(c.TLSCACert) != "" {
		if !c.TLS {
			errs = append(errs, errors.New("tlsCACert needs tls to be on"))
		}
		if _, err := (storage.TLSConfig{CAPEM: c.TLSCACert}).Client(); err != nil {
			errs = append(errs, errors.New("tlsCACert holds no PEM certificate"))
		}
	}
	c.prices = query.DefaultPrices()
	if len(c.Prices) > 0 && string(c.Prices) != "null" {
		p, err := query.ParsePricesJSON(c.Prices)
		if err != nil {
			errs = append(errs, fmt.Errorf("prices: %w", err))
		} else {
			c.prices = p
		}
	}
	if c.TimeZone == "" {
		c.TimeZone = "UTC"
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		errs = append(errs, fmt.Errorf("timeZone %q is not an IANA time zone", c.TimeZone))
	} else {
		c.Location = loc
	}
	return errors.Join(errs...)
}

func validAddress(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "" {
		return errors.New("host is empty")
	}
	if strings.ContainsAny(host, "/?#@ ") {
		return errors.New("host has characters that cannot be in a host name")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q must be a number from 1 to 65535", port)
	}
	return nil
}

// PriceList is the prices costs are reported at: Prices, or the
// defaults. Each call returns its own copy.
func (c *Settings) PriceList() query.Prices {
	p := c.prices
	if len(p.Tables) == 0 {
		return query.DefaultPrices()
	}
	p.Tables = slices.Clone(p.Tables)
	return p
}

// storageTLS is the settings' TLS in storage's terms; storage builds the
// *tls.Config, as it does for the collector and the CLI.
func (c *Settings) storageTLS() storage.TLSConfig {
	if !c.TLS {
		return storage.TLSConfig{}
	}
	return storage.TLSConfig{Enabled: true, CAPEM: c.TLSCACert, ServerName: c.TLSServerName, InsecureSkipVerify: c.TLSSkipVerify}
}

// TLSConfig is the TLS configuration of the connections, nil with TLS
// off; with no server name set, the name checked is each address's host,
// filled in when connecting.
func (c *Settings) TLSConfig() (*tls.Config, error) {
	return c.storageTLS().Client()
}

// DSN is the native-protocol DSN storage opens; TLS is not in it but in
// StorageConfig's TLS. The password is escaped into the user part; it
// never appears in logs (use Redacted).
func (c *Settings) DSN() string {
	u := url.URL{
		Scheme: "clickhouse",
		User:   url.UserPassword(c.Username, c.Password),
		Host:   strings.Join(c.Addresses, ","),
		Path:   "/" + c.Database,
	}
	q := url.Values{}
	q.Set("dial_timeout", (time.Duration(c.DialTimeoutSeconds) * time.Second).String())
	u.RawQuery = q.Encode()
	return u.String()
}

// Redacted describes the connection without the password, for logs and
// health messages.
func (c *Settings) Redacted() string {
	return fmt.Sprintf("%s@%s/%s", c.Username, strings.Join(c.Addresses, ","), c.Database)
}

// StorageConfig is the storage configuration of these settings. With TLS
// on, every address is verified with the settings' CA certificate (or the
// system's) and server name (or the address's host).
func (c *Settings) StorageConfig() storage.Config {
	cfg := storage.DefaultConfig()
	cfg.DSN = c.DSN()
	cfg.Database = c.Database
	cfg.DialTimeout = time.Duration(c.DialTimeoutSeconds) * time.Second
	cfg.ReadOnly = true
	cfg.TLS = c.storageTLS()
	return cfg
}
