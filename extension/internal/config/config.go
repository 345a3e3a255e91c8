// Package config reads the extension's settings from the environment of the
// Lambda function (LAMBDASCOPE_* and the standard OTEL_* variables).
package config

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/handoff"
	"github.com/lambdascope/lambdascope/extension/internal/redact"
)

// Environment variables the extension reads.
const (
	EnvEndpoint           = "LAMBDASCOPE_ENDPOINT"
	EnvAPIKey             = "LAMBDASCOPE_API_KEY"
	EnvTLS                = "LAMBDASCOPE_TLS"
	EnvTLSCAFile          = "LAMBDASCOPE_TLS_CA_FILE"
	EnvTLSServerName      = "LAMBDASCOPE_TLS_SERVER_NAME"
	EnvOTLPGRPCAddr       = "LAMBDASCOPE_OTLP_GRPC_ADDR"
	EnvOTLPHTTPAddr       = "LAMBDASCOPE_OTLP_HTTP_ADDR"
	EnvFlush              = "LAMBDASCOPE_FLUSH"
	EnvFlushInterval      = "LAMBDASCOPE_FLUSH_INTERVAL"
	EnvBufferBytes        = "LAMBDASCOPE_BUFFER_BYTES"
	EnvLogLevel           = "LAMBDASCOPE_LOG_LEVEL"
	EnvSpoolDir           = "LAMBDASCOPE_SPOOL_DIR"
	EnvSpoolBytes         = "LAMBDASCOPE_SPOOL_BYTES"
	EnvStrict             = "LAMBDASCOPE_STRICT"
	EnvSampleRate         = "LAMBDASCOPE_SAMPLE_RATE"
	EnvRuntimeProxy       = "LAMBDASCOPE_RUNTIME_PROXY"
	EnvTraceContext       = "LAMBDASCOPE_TRACE_CONTEXT"
	EnvCaptureHeaders     = "LAMBDASCOPE_CAPTURE_HEADERS"
	EnvRedactKeys         = "LAMBDASCOPE_REDACT_KEYS"
	EnvRedactPatterns     = "LAMBDASCOPE_REDACT_PATTERNS"
	EnvInitializationType = "AWS_LAMBDA_INITIALIZATION_TYPE"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
)

// FlushMode says when buffered telemetry is sent to the collector.
type FlushMode string

const (
	// FlushAdaptive ships in the background while the environment is awake
	// and at the end of an invocation only when data would otherwise wait
	// too long.
	FlushAdaptive FlushMode = "adaptive"
	// FlushEnd ships at the end of every invocation.
	FlushEnd FlushMode = "end"
	// FlushPeriodic ships only every FlushInterval while awake (and at
	// shutdown).
	FlushPeriodic FlushMode = "periodic"
)

// Attribute is one key=value pair of OTEL_RESOURCE_ATTRIBUTES.
type Attribute struct {
	Key   string
	Value string
}

// Config is the extension's configuration.
type Config struct {
	// Endpoint is the collector's gRPC address as host:port; empty means
	// nothing is shipped.
	Endpoint string
	// TLS selects a TLS connection to the collector.
	TLS bool
	// TLSCAFile is a PEM bundle of certificate authorities trusted for the
	// collector's certificate in addition to the system roots; setting it
	// turns TLS on.
	TLSCAFile string
	// TLSServerName overrides the name the collector's certificate is
	// checked against (default: the endpoint's host); setting it turns TLS
	// on.
	TLSServerName string
	// APIKey is sent as "authorization: Bearer <key>".
	APIKey string
	// OTLPGRPCAddr and OTLPHTTPAddr are where the local OTLP receivers
	// listen; empty disables a receiver.
	OTLPGRPCAddr string
	OTLPHTTPAddr string
	// Flush is the flush mode.
	Flush FlushMode
	// FlushInterval is how long data may wait in the buffer.
	FlushInterval time.Duration
	// BufferBytes caps the in-memory buffer.
	BufferBytes int
	// LogLevel is the level of the extension's own logs.
	LogLevel slog.Level
	// SpoolDir is where batches the collector could not take are kept;
	// empty disables the spool.
	SpoolDir string
	// SpoolBytes caps the spool.
	SpoolBytes int64
	// Strict makes a configuration error fail the function's init through
	// the Extensions API instead of running degraded.
	Strict bool
	// SampleRate is the share of traces whose spans are shipped, 0 to 1,
	// decided by trace ID (package sampling). Invocation records, logs
	// and metrics are always shipped.
	SampleRate float64
	// RuntimeProxy serves the Runtime API proxy (package rtproxy) that the
	// layer's exec wrapper points the runtime at.
	RuntimeProxy bool
	// TraceContext is the order in which an invocation's trace context is
	// taken: "w3c" (traceparent in the event), "xray" (X-Ray header in
	// the event), "lambda" (Lambda-Runtime-Trace-Id); the first found wins.
	TraceContext []string
	// CaptureHeaders names the request headers of an HTTP trigger kept on
	// the inferred span (lower case); no other header is kept. Default
	// none.
	CaptureHeaders []string
	// RedactKeys are JSON keys whose values are hidden, without regard to
	// case, in log records and captured values before they are buffered.
	RedactKeys []string
	// RedactPatterns are regular expressions (RE2) whose matches are
	// hidden in log records and captured values before they are buffered.
	RedactPatterns []string
	// ServiceName is OTEL_SERVICE_NAME; empty means the function name.
	ServiceName string
	// ResourceAttributes come from OTEL_RESOURCE_ATTRIBUTES, in order.
	ResourceAttributes []Attribute
}

// DefaultConfig returns the configuration used when no variable is set.
func DefaultConfig() Config {
	return Config{
		OTLPGRPCAddr:  handoff.DefaultOTLPGRPCAddr,
		OTLPHTTPAddr:  handoff.DefaultOTLPHTTPAddr,
		Flush:         FlushAdaptive,
		FlushInterval: time.Second,
		BufferBytes:   8 << 20,
		LogLevel:      slog.LevelInfo,
		SpoolDir:      filepath.Join(os.TempDir(), "lambdascope-spool"),
		SpoolBytes:    64 << 20,
		SampleRate:    1,
		RuntimeProxy:  true,
		TraceContext:  []string{"w3c", "xray", "lambda"},
	}
}

// Validate reports every setting that cannot be used, naming its variable.
func (c Config) Validate() error {
	var errs []error
	if c.Endpoint != "" {
		if err := checkHostPort(c.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvEndpoint, err))
		}
	}
	if c.OTLPGRPCAddr != "" {
		if err := checkHostPort(c.OTLPGRPCAddr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvOTLPGRPCAddr, err))
		}
	}
	if c.OTLPHTTPAddr != "" {
		if err := checkHostPort(c.OTLPHTTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvOTLPHTTPAddr, err))
		}
	}
	if c.TLSCAFile != "" {
		if !c.TLS {
			errs = append(errs, fmt.Errorf("%s: set while TLS is off", EnvTLSCAFile))
		}
		if err := CheckCAFile(c.TLSCAFile); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvTLSCAFile, err))
		}
	}
	if c.TLSServerName != "" {
		if !c.TLS {
			errs = append(errs, fmt.Errorf("%s: set while TLS is off", EnvTLSServerName))
		}
		if err := checkServerName(c.TLSServerName); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvTLSServerName, err))
		}
	}
	switch c.Flush {
	case FlushAdaptive, FlushEnd, FlushPeriodic:
	default:
		errs = append(errs, fmt.Errorf("%s: unknown mode %q (want adaptive, end or periodic)", EnvFlush, c.Flush))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("%s: must be positive, got %s", EnvFlushInterval, c.FlushInterval))
	}
	if c.BufferBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("%s: must be at least 65536, got %d", EnvBufferBytes, c.BufferBytes))
	}
	if c.SpoolDir != "" && c.SpoolBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("%s: must be at least 65536, got %d", EnvSpoolBytes, c.SpoolBytes))
	}
	if err := checkRate(c.SampleRate); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvSampleRate, err))
	}
	if _, err := parseTraceContext(strings.Join(c.TraceContext, ",")); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvTraceContext, err))
	}
	for _, h := range c.CaptureHeaders {
		if err := checkHeaderName(h); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvCaptureHeaders, err))
		}
	}
	if len(c.CaptureHeaders) > maxCaptureHeaders {
		errs = append(errs, fmt.Errorf("%s: at most %d headers, got %d", EnvCaptureHeaders, maxCaptureHeaders, len(c.CaptureHeaders)))
	}
	if _, err := redact.New(c.RedactKeys, c.RedactPatterns); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvRedactPatterns, err))
	}
	return errors.Join(errs...)
}

// FromEnv reads the configuration through lookup (os.LookupEnv in main).
// It always returns a usable configuration: a variable with a bad value is
// replaced by its default (a bad endpoint by no endpoint) and named in the
// returned error, so the extension can log it once and run degraded.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	r := envReader{lookup: lookup}
	c := DefaultConfig()
	// In this order, which is the order of the errors named.
	r.collector(&c)
	r.receivers(&c)
	r.flushing(&c)
	r.sampling(&c)
	r.runtimeProxy(&c)
	r.privacy(&c)
	r.behaviour(&c)
	r.resource(&c)
	return c, errors.Join(r.errs...)
}

// envReader reads variables and collects what is wrong with them.
type envReader struct {
	lookup func(string) (string, bool)
	errs   []error
}

// bad records a variable whose value cannot be used.
func (r *envReader) bad(name, value string, err error) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: %w", name, value, err))
}

// get returns a variable's value without surrounding space, and whether
// it is set and not blank.
func (r *envReader) get(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// bool reads a boolean variable into dst.
func (r *envReader) bool(name string, dst *bool) {
	if v, ok := r.get(name); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			r.bad(name, v, errors.New("not a boolean"))
		} else {
			*dst = b
		}
	}
}

// collector reads where and how the extension ships: the endpoint, TLS
// and the API key.
func (r *envReader) collector(c *Config) {
	if v, ok := r.get(EnvEndpoint); ok {
		host, tls, err := parseEndpoint(v)
		if err != nil {
			r.bad(EnvEndpoint, v, err)
		} else {
			c.Endpoint, c.TLS = host, tls
		}
	}
	r.bool(EnvTLS, &c.TLS)
	tlsOff := false
	if v, ok := r.get(EnvTLS); ok {
		if b, err := strconv.ParseBool(v); err == nil && !b {
			tlsOff = true
		}
	}
	if v, ok := r.get(EnvTLSCAFile); ok {
		switch err := CheckCAFile(v); {
		case err != nil:
			r.bad(EnvTLSCAFile, v, err)
		case tlsOff:
			r.bad(EnvTLSCAFile, v, fmt.Errorf("needs TLS, but %s is false", EnvTLS))
		default:
			c.TLSCAFile, c.TLS = v, true
		}
	}
	if v, ok := r.get(EnvTLSServerName); ok {
		switch err := checkServerName(v); {
		case err != nil:
			r.bad(EnvTLSServerName, v, err)
		case tlsOff:
			r.bad(EnvTLSServerName, v, fmt.Errorf("needs TLS, but %s is false", EnvTLS))
		default:
			c.TLSServerName, c.TLS = v, true
		}
	}
	if v, ok := r.get(EnvAPIKey); ok {
		c.APIKey = v
	}
}

// receivers reads the addresses of the local OTLP receivers.
func (r *envReader) receivers(c *Config) {
	for _, a := range []struct {
		name string
		dst  *string
	}{{EnvOTLPGRPCAddr, &c.OTLPGRPCAddr}, {EnvOTLPHTTPAddr, &c.OTLPHTTPAddr}} {
		if v, ok := r.get(a.name); ok {
			if err := checkHostPort(v); err != nil {
				r.bad(a.name, v, err)
			} else {
				*a.dst = v
			}
		}
	}
}

// flushing reads when data is shipped and where it waits: the flush mode
// and interval, the buffer and the spool.
func (r *envReader) flushing(c *Config) {
	if v, ok := r.get(EnvFlush); ok {
		m := FlushMode(strings.ToLower(v))
		switch m {
		case FlushAdaptive, FlushEnd, FlushPeriodic:
			c.Flush = m
		default:
			r.bad(EnvFlush, v, errors.New("unknown mode (want adaptive, end or periodic)"))
		}
	}
	if v, ok := r.get(EnvFlushInterval); ok {
		d, err := parseDuration(v)
		switch {
		case err != nil:
			r.bad(EnvFlushInterval, v, err)
		case d <= 0:
			r.bad(EnvFlushInterval, v, errors.New("must be positive"))
		default:
			c.FlushInterval = d
		}
	}
	if v, ok := r.get(EnvBufferBytes); ok {
		n, err := parseBytes(v)
		switch {
		case err != nil:
			r.bad(EnvBufferBytes, v, err)
		case n < 64<<10:
			r.bad(EnvBufferBytes, v, errors.New("must be at least 65536"))
		default:
			c.BufferBytes = n
		}
	}
	if v, ok := r.get(EnvSpoolDir); ok {
		if !strings.HasPrefix(v, "/") {
			r.bad(EnvSpoolDir, v, errors.New("must be an absolute path (under /tmp in Lambda)"))
		} else {
			c.SpoolDir = v
		}
	}
	if v, ok := r.get(EnvSpoolBytes); ok {
		n, err := parseBytes(v)
		switch {
		case err != nil:
			r.bad(EnvSpoolBytes, v, err)
		case n == 0:
			c.SpoolDir = "" // an explicit 0 turns the spool off
		case n < 64<<10:
			r.bad(EnvSpoolBytes, v, errors.New("must be 0 (off) or at least 65536"))
		default:
			c.SpoolBytes = int64(n)
		}
	}
}

// sampling reads the share of traces kept.
func (r *envReader) sampling(c *Config) {
	if v, ok := r.get(EnvSampleRate); ok {
		rate, err := strconv.ParseFloat(v, 64)
		switch {
		case err != nil:
			r.bad(EnvSampleRate, v, errors.New("not a number (want a share of traces from 0 to 1, e.g. 0.1)"))
		case checkRate(rate) != nil:
			r.bad(EnvSampleRate, v, checkRate(rate))
		default:
			c.SampleRate = rate
		}
	}
}

// runtimeProxy reads whether the Runtime API proxy runs and what it takes
// from the events: the order of trace context sources and the headers
// captured.
func (r *envReader) runtimeProxy(c *Config) {
	r.bool(EnvRuntimeProxy, &c.RuntimeProxy)
	if v, ok := r.get(EnvTraceContext); ok {
		if list, err := parseTraceContext(v); err != nil {
			r.bad(EnvTraceContext, v, err)
		} else {
			c.TraceContext = list
		}
	}
	if v, ok := r.get(EnvCaptureHeaders); ok {
		if list, err := parseHeaderNames(v); err != nil {
			r.bad(EnvCaptureHeaders, v, err)
		} else {
			c.CaptureHeaders = list
		}
	}
}

// privacy reads the redaction rules: JSON keys and regular expressions.
func (r *envReader) privacy(c *Config) {
	if v, ok := r.get(EnvRedactKeys); ok {
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				c.RedactKeys = append(c.RedactKeys, k)
			}
		}
	}
	if v, ok := r.get(EnvRedactPatterns); ok {
		var list []string
		if err := json.Unmarshal([]byte(v), &list); err != nil {
			r.bad(EnvRedactPatterns, v, errors.New(`not a JSON list of regular expressions (e.g. ["\\d{16}", "(?i)bearer \\S+"])`))
		} else {
			// The good expressions apply; each bad one is named.
			for i, p := range list {
				if err := redact.Check(p); err != nil {
					r.bad(EnvRedactPatterns, v, fmt.Errorf("pattern %d: %w", i+1, err))
				} else {
					c.RedactPatterns = append(c.RedactPatterns, p)
				}
			}
		}
	}
}

// behaviour reads how the extension treats bad settings and what it logs.
func (r *envReader) behaviour(c *Config) {
	r.bool(EnvStrict, &c.Strict)
	if v, ok := r.get(EnvLogLevel); ok {
		var l slog.Level
		if err := l.UnmarshalText([]byte(v)); err != nil {
			r.bad(EnvLogLevel, v, errors.New("unknown level (want debug, info, warn or error)"))
		} else {
			c.LogLevel = l
		}
	}
}

// resource reads the OpenTelemetry variables describing the function:
// the service name and the resource attributes.
func (r *envReader) resource(c *Config) {
	if v, ok := r.get(EnvServiceName); ok {
		c.ServiceName = v
	}
	if v, ok := r.get(EnvResourceAttributes); ok {
		attrs, err := parseResourceAttributes(v)
		if err != nil {
			r.bad(EnvResourceAttributes, v, err)
		}
		c.ResourceAttributes = attrs
	}
}

// parseEndpoint accepts host:port, http://host:port and https://host[:port].
func parseEndpoint(v string) (hostport string, tls bool, err error) {
	if !strings.Contains(v, "://") {
		if err := checkHostPort(v); err != nil {
			return "", false, err
		}
		return v, false, nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", false, errors.New("not a URL or host:port")
	}
	switch u.Scheme {
	case "https":
		tls = true
	case "http":
	default:
		return "", false, fmt.Errorf("unsupported scheme %q (want https or host:port)", u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return "", false, errors.New("must not have a path")
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if tls {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	if err := checkHostPort(host); err != nil {
		return "", false, err
	}
	return host, tls, nil
}

// CheckCAFile checks that path is an absolute path to a readable PEM file
// holding at least one certificate.
func CheckCAFile(path string) error {
	_, err := LoadCAFile(path)
	return err
}

// LoadCAFile reads the PEM certificates of path into a new pool.
func LoadCAFile(path string) (*x509.CertPool, error) {
	if !filepath.IsAbs(path) {
		return nil, errors.New("must be an absolute path")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("no PEM certificate in the file")
	}
	return pool, nil
}

// checkServerName accepts a DNS name (or an IP address) without port.
func checkServerName(v string) error {
	if net.ParseIP(v) != nil {
		return nil
	}
	if len(v) > 253 {
		return errors.New("too long for a host name")
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(v, "."), ".") {
		if label == "" || len(label) > 63 {
			return errors.New("not a host name (want e.g. collector.example.com, no port)")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '*') {
				return errors.New("not a host name (want e.g. collector.example.com, no port)")
			}
		}
	}
	return nil
}

func checkHostPort(v string) error { return handoff.CheckHostPort(v) }

// checkRate accepts a share from 0 to 1.
func checkRate(r float64) error {
	if math.IsNaN(r) || r < 0 || r > 1 {
		return fmt.Errorf("must be from 0 to 1, got %v", r)
	}
	return nil
}

// parseDuration accepts Go durations ("1s", "250ms") and bare milliseconds.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("not a duration (e.g. 1s, 250ms)")
	}
	return d, nil
}

// parseBytes accepts a byte count with an optional KiB/MiB/KB/MB suffix.
func parseBytes(v string) (int, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	mult := 1
	for _, suf := range []struct {
		s string
		m int
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}} {
		if strings.HasSuffix(s, suf.s) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, suf.s)), suf.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("not a byte size (e.g. 8388608 or 8MiB)")
	}
	if n > (1<<40)/int64(mult) {
		return 0, errors.New("too large")
	}
	return int(n) * mult, nil
}

// parseResourceAttributes parses the W3C-baggage-like list of
// OTEL_RESOURCE_ATTRIBUTES. Bad members are skipped and reported; the good
// ones are kept.
func parseResourceAttributes(v string) ([]Attribute, error) {
	var attrs []Attribute
	var badMembers []string
	for member := range strings.SplitSeq(v, ",") {
		member = strings.TrimSpace(member)
		if member == "" {
			continue
		}
		k, val, ok := strings.Cut(member, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			badMembers = append(badMembers, member)
			continue
		}
		uk, err1 := url.PathUnescape(k)
		uv, err2 := url.PathUnescape(strings.TrimSpace(val))
		if err1 != nil || err2 != nil {
			badMembers = append(badMembers, member)
			continue
		}
		attrs = append(attrs, Attribute{Key: uk, Value: uv})
	}
	if len(badMembers) > 0 {
		return attrs, fmt.Errorf("skipped members %q (want key=value)", badMembers)
	}
	return attrs, nil
}

// maxCaptureHeaders bounds LAMBDASCOPE_CAPTURE_HEADERS.
const maxCaptureHeaders = 32

// parseHeaderNames reads LAMBDASCOPE_CAPTURE_HEADERS: a comma-separated
// list of header names, kept in lower case; "none" is the empty list.
func parseHeaderNames(v string) ([]string, error) {
	if strings.EqualFold(strings.TrimSpace(v), "none") {
		return nil, nil
	}
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if err := checkHeaderName(f); err != nil {
			return nil, err
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) > maxCaptureHeaders {
		return nil, fmt.Errorf("at most %d headers, got %d", maxCaptureHeaders, len(out))
	}
	return out, nil
}

// checkHeaderName accepts an HTTP header name in lower case.
func checkHeaderName(h string) error {
	if h == "" {
		return errors.New("empty header name")
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return fmt.Errorf("not a header name in lower case: %q", h)
		}
	}
	return nil
}

// parseTraceContext reads LAMBDASCOPE_TRACE_CONTEXT: a comma-separated
// order of w3c, xray and lambda, each at most once.
func parseTraceContext(v string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		switch f {
		case "w3c", "xray", "lambda":
		default:
			return nil, fmt.Errorf("unknown source %q (want a comma-separated order of w3c, xray and lambda)", f)
		}
		if slices.Contains(out, f) {
			return nil, fmt.Errorf("source %q named twice", f)
		}
		out = append(out, f)
	}
	return out, nil
}
