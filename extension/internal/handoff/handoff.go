// Package handoff carries the extension's start from the launcher to the
// agent. Lambda waits for every extension's first call to /event/next
// before it ends the init phase, and the agent (gRPC, protobuf, zstd) spends
// most of its start initialising packages. So the small launcher that
// Lambda starts binds the listeners (the Runtime API proxy's among them),
// registers, subscribes to the Telemetry API and sends the first
// /event/next itself, then starts the agent as its child, which inherits
// the listeners and the connection the first event will arrive on,
// described by a State in its environment (the launcher, with
// LAMBDASCOPE_STRICT=true, replaces its process image with the agent
// instead, and hands nothing over).
//
// The package links nothing heavier than net and net/url: the launcher
// imports it.
package handoff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Env is the environment variable holding the encoded State. It starts
// with an underscore so that it is never mistaken for a setting.
const Env = "_LAMBDASCOPE_HANDOFF"

// Default addresses of the function-facing OTLP receivers (the standard
// OTLP ports on localhost); LAMBDASCOPE_OTLP_GRPC_ADDR and
// LAMBDASCOPE_OTLP_HTTP_ADDR change them.
const (
	DefaultOTLPGRPCAddr = "localhost:4317"
	DefaultOTLPHTTPAddr = "localhost:4318"
)

// NoFD marks a descriptor that was not handed over.
const NoFD = -1

// ShutdownNote is what the agent writes on State.WatchFD when it stops on
// purpose (the SHUTDOWN event, a signal); ServingNote when it serves the
// function's OTLP exports itself, so that the launcher stops answering
// them (see EarlyFD).
const (
	ShutdownNote = 'S'
	ServingNote  = 'R'
)

// MaxEarlyBody is the largest body of an EarlyExport.
const MaxEarlyBody = 6 << 20

// EarlyExport is an OTLP export the launcher answered while the
// agent started, passed on to the agent on State.EarlyFD as a record: the
// path, the content type and the content encoding, each after its length,
// then the body's length and the body (lengths as 4-byte big-endian
// numbers).
type EarlyExport struct {
	Path, ContentType, ContentEncoding string
	Body                               []byte
}

// Header returns the record without the body, which follows it.
func (x EarlyExport) Header() []byte {
	rec := make([]byte, 0, 16+len(x.Path)+len(x.ContentType)+len(x.ContentEncoding))
	for _, f := range []string{x.Path, x.ContentType, x.ContentEncoding} {
		rec = binary.BigEndian.AppendUint32(rec, uint32(len(f)))
		rec = append(rec, f...)
	}
	return binary.BigEndian.AppendUint32(rec, uint32(len(x.Body)))
}

// ReadEarly reads the next record; io.EOF when the launcher has passed on
// every export.
func ReadEarly(r io.Reader) (EarlyExport, error) {
	var fields [4][]byte
	for i := range fields {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			if i == 0 && errors.Is(err, io.EOF) {
				return EarlyExport{}, io.EOF
			}
			return EarlyExport{}, fmt.Errorf("read an early export: %w", err)
		}
		size := binary.BigEndian.Uint32(n[:])
		if size > MaxEarlyBody {
			return EarlyExport{}, fmt.Errorf("read an early export: a field of %d bytes", size)
		}
		fields[i] = make([]byte, size)
		if _, err := io.ReadFull(r, fields[i]); err != nil {
			return EarlyExport{}, fmt.Errorf("read an early export: %w", err)
		}
	}
	return EarlyExport{Path: string(fields[0]), ContentType: string(fields[1]), ContentEncoding: string(fields[2]), Body: fields[3]}, nil
}

// State is what the launcher did before it became the agent.
type State struct {
	// ExtensionID is the Lambda-Extension-Identifier register returned.
	ExtensionID string
	// Registration is the body of the register response (JSON).
	Registration []byte
	// NextFD is the connection on which GET /event/next has been sent;
	// the first lifecycle event arrives on it.
	NextFD int
	// NextRead holds the start of the answer on NextFD when the launcher
	// read past the answer before it (it pipelines the subscription and
	// the /event/next): the agent reads these bytes first.
	NextRead []byte
	// NextSent is when that request was written.
	NextSent time.Time
	// TelemetryFD is the Telemetry API listener, TelemetryURI the address
	// it was subscribed under. ListenError says why there is none.
	TelemetryFD  int
	TelemetryURI string
	ListenError  string
	// Subscribed is true when the Telemetry API accepted the subscription;
	// SubscribeError says why it did not.
	Subscribed     bool
	SubscribeError string
	// TelemetryUnavailable is true when the Telemetry API answered that it
	// is not supported (errorType Telemetry.NotSupported): the agent then
	// runs without telemetry and waits for no platform event.
	TelemetryUnavailable bool
	// OTLPHTTPFD and OTLPGRPCFD are the bound OTLP receiver addresses;
	// NoFD when the launcher could not bind one (the agent then tries
	// again and reports the error).
	OTLPHTTPFD int
	OTLPGRPCFD int
	// ProxyFD is the Runtime API proxy's listener, bound on a loopback
	// port and announced to the exec wrapper before the launcher
	// registered; NoFD when the proxy is off or could not be bound (the
	// agent then binds and announces it itself). ProxyError says why it
	// could not.
	ProxyFD    int
	ProxyError string
	// WatchFD is the write end of a pipe the launcher, which started the
	// agent as its child and stays to watch it, reads when the agent
	// ends: the agent writes ShutdownNote there once it has the SHUTDOWN
	// event (or a signal to stop), so that its end is not taken for a
	// crash. NoFD when the launcher does not watch.
	WatchFD int
	// EarlyFD is the read end of a pipe on which the launcher passes the
	// OTLP exports it answered while the agent started
	// (EarlyExport), until the agent writes ServingNote on WatchFD and
	// the launcher closes the pipe. NoFD when there is none.
	EarlyFD int
	// Started is when the launcher's process started.
	Started time.Time
}

// Encode returns s as the value of Env.
func (s State) Encode() string {
	v := url.Values{}
	v.Set("id", s.ExtensionID)
	v.Set("reg", string(s.Registration))
	v.Set("next", strconv.Itoa(s.NextFD))
	if len(s.NextRead) > 0 {
		v.Set("next_read", string(s.NextRead))
	}
	v.Set("next_sent", strconv.FormatInt(s.NextSent.UnixNano(), 10))
	v.Set("tel", strconv.Itoa(s.TelemetryFD))
	v.Set("tel_uri", s.TelemetryURI)
	v.Set("listen_err", s.ListenError)
	v.Set("subscribed", strconv.FormatBool(s.Subscribed))
	v.Set("subscribe_err", s.SubscribeError)
	if s.TelemetryUnavailable {
		v.Set("tel_unavailable", "true")
	}
	v.Set("otlp_http", strconv.Itoa(s.OTLPHTTPFD))
	v.Set("otlp_grpc", strconv.Itoa(s.OTLPGRPCFD))
	v.Set("proxy", strconv.Itoa(s.ProxyFD))
	if s.ProxyError != "" {
		v.Set("proxy_err", s.ProxyError)
	}
	if s.WatchFD != NoFD {
		v.Set("watch", strconv.Itoa(s.WatchFD))
	}
	if s.EarlyFD != NoFD {
		v.Set("early", strconv.Itoa(s.EarlyFD))
	}
	v.Set("started", strconv.FormatInt(s.Started.UnixNano(), 10))
	return v.Encode()
}

// Decode parses the value of Env.
func Decode(value string) (State, error) {
	v, err := url.ParseQuery(value)
	if err != nil {
		return State{}, fmt.Errorf("decode %s: %w", Env, err)
	}
	s := State{
		ExtensionID:    v.Get("id"),
		Registration:   []byte(v.Get("reg")),
		NextRead:       []byte(v.Get("next_read")),
		TelemetryURI:   v.Get("tel_uri"),
		ListenError:    v.Get("listen_err"),
		SubscribeError: v.Get("subscribe_err"),
		ProxyError:     v.Get("proxy_err"),
	}
	var errs []error
	fd := func(key string) int {
		n, err := strconv.Atoi(v.Get(key))
		if err != nil || n < NoFD {
			errs = append(errs, fmt.Errorf("%s: not a file descriptor: %q", key, v.Get(key)))
			return NoFD
		}
		return n
	}
	at := func(key string) time.Time {
		n, err := strconv.ParseInt(v.Get(key), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: not a time: %q", key, v.Get(key)))
			return time.Time{}
		}
		return time.Unix(0, n)
	}
	s.NextFD, s.TelemetryFD = fd("next"), fd("tel")
	s.OTLPHTTPFD, s.OTLPGRPCFD = fd("otlp_http"), fd("otlp_grpc")
	s.ProxyFD = NoFD
	if v.Has("proxy") {
		// Absent from a launcher older than the agent.
		s.ProxyFD = fd("proxy")
	}
	s.WatchFD, s.EarlyFD = NoFD, NoFD
	// Absent from a launcher older than the agent.
	if v.Has("watch") {
		s.WatchFD = fd("watch")
	}
	if v.Has("early") {
		s.EarlyFD = fd("early")
	}
	s.NextSent, s.Started = at("next_sent"), at("started")
	if b, err := strconv.ParseBool(v.Get("subscribed")); err == nil {
		s.Subscribed = b
	} else {
		errs = append(errs, fmt.Errorf("subscribed: not a boolean: %q", v.Get("subscribed")))
	}
	if u := v.Get("tel_unavailable"); u != "" {
		if b, err := strconv.ParseBool(u); err == nil {
			s.TelemetryUnavailable = b
		} else {
			errs = append(errs, fmt.Errorf("tel_unavailable: not a boolean: %q", u))
		}
	}
	if s.ExtensionID == "" {
		errs = append(errs, errors.New("id: missing"))
	}
	if s.NextFD == NoFD {
		errs = append(errs, errors.New("next: missing"))
	}
	if err := errors.Join(errs...); err != nil {
		return State{}, fmt.Errorf("decode %s: %w", Env, err)
	}
	return s, nil
}

// CheckHostPort accepts host:port with a host and a numeric port, the form
// of the OTLP receiver addresses.
func CheckHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "" {
		return errors.New("missing host")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// OTLPAddr is the address the agent's configuration will use for an OTLP
// receiver given the variable's value: the value when it is usable,
// otherwise def (the configuration reports the bad value and keeps def).
func OTLPAddr(value, def string) string {
	v := strings.TrimSpace(value)
	if v == "" || CheckHostPort(v) != nil {
		return def
	}
	return v
}
