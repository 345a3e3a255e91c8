package handoff

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestStateRoundTrip(t *testing.T) {
	in := State{
		ExtensionID:    "ext-1",
		Registration:   []byte(`{"functionName":"a&b=c","accountId":"1"}`),
		NextFD:         7,
		NextRead:       []byte("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"a\":\x00\xff&="),
		NextSent:       time.Unix(1700000000, 123456789),
		TelemetryFD:    NoFD,
		TelemetryURI:   "http://sandbox.localdomain:4243",
		ListenError:    "listen on 127.0.0.1:0 failed",
		SubscribeError: "status 503: {\"errorType\":\"x\"}\nmore",
		// The launcher read Telemetry.NotSupported.
		TelemetryUnavailable: true,
		OTLPHTTPFD:           3,
		OTLPGRPCFD:           NoFD,
		ProxyFD:              9,
		ProxyError:           "announce the runtime API proxy: read-only file system",
		WatchFD:              11,
		EarlyFD:              12,
		Started:              time.Unix(1700000000, 1),
	}
	out, err := Decode(in.Encode())
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if out.ExtensionID != in.ExtensionID || string(out.Registration) != string(in.Registration) ||
		out.NextFD != in.NextFD || string(out.NextRead) != string(in.NextRead) || !out.NextSent.Equal(in.NextSent) || out.TelemetryFD != in.TelemetryFD ||
		out.TelemetryURI != in.TelemetryURI || out.ListenError != in.ListenError || out.Subscribed != in.Subscribed ||
		out.SubscribeError != in.SubscribeError || out.TelemetryUnavailable != in.TelemetryUnavailable || out.OTLPHTTPFD != in.OTLPHTTPFD || out.OTLPGRPCFD != in.OTLPGRPCFD ||
		out.ProxyFD != in.ProxyFD || out.ProxyError != in.ProxyError || out.WatchFD != in.WatchFD || out.EarlyFD != in.EarlyFD || !out.Started.Equal(in.Started) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestDecodeNamesWhatIsWrong(t *testing.T) {
	good := State{ExtensionID: "e", NextFD: 4, TelemetryFD: NoFD, OTLPHTTPFD: NoFD, OTLPGRPCFD: NoFD, ProxyFD: NoFD}.Encode()
	tests := []struct{ name, value, want string }{
		{"not a query", "%zz", "invalid URL escape"},
		{"empty", "", "id: missing"},
		{"bad descriptor", strings.Replace(good, "next=4", "next=four", 1), `next: not a file descriptor: "four"`},
		{"negative descriptor", strings.Replace(good, "tel=-1", "tel=-2", 1), "tel: not a file descriptor"},
		{"bad proxy descriptor", strings.Replace(good, "proxy=-1", "proxy=", 1), `proxy: not a file descriptor: ""`},
		{"no next", strings.Replace(good, "next=4", "next=-1", 1), "next: missing"},
		{"bad time", strings.Replace(good, "started=", "started=x", 1), "started: not a time"},
		{"bad unavailable flag", good + "&tel_unavailable=maybe", `tel_unavailable: not a boolean: "maybe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.value)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), Env) {
				t.Errorf("Decode = %v; want an error naming %s and %q", err, Env, tt.want)
			}
		})
	}
}

// TestDecodeWithoutProxy: a launcher that hands over no proxy (one older
// than the agent) is understood as having bound none.
func TestDecodeWithoutProxy(t *testing.T) {
	v := State{ExtensionID: "e", NextFD: 4, TelemetryFD: NoFD, OTLPHTTPFD: NoFD, OTLPGRPCFD: NoFD, ProxyFD: 5}.Encode()
	v = strings.Replace(v, "proxy=5&", "", 1)
	if strings.Contains(v, "proxy=") {
		t.Fatalf("encoded state still names the proxy: %s", v)
	}
	st, err := Decode(v)
	if err != nil || st.ProxyFD != NoFD {
		t.Errorf("Decode = %d, %v; want NoFD", st.ProxyFD, err)
	}
}

func TestOTLPAddr(t *testing.T) {
	tests := []struct{ value, want string }{
		{"", DefaultOTLPHTTPAddr},
		{"  ", DefaultOTLPHTTPAddr},
		{"127.0.0.1:9999", "127.0.0.1:9999"},
		{" localhost:1 ", "localhost:1"},
		{":4318", DefaultOTLPHTTPAddr},          // no host: the configuration rejects it
		{"localhost:http", DefaultOTLPHTTPAddr}, // not a numeric port
		{"localhost", DefaultOTLPHTTPAddr},
	}
	for _, tt := range tests {
		if got := OTLPAddr(tt.value, DefaultOTLPHTTPAddr); got != tt.want {
			t.Errorf("OTLPAddr(%q) = %q, want %q", tt.value, got, tt.want)
		}
	}
}

// FuzzDecode checks that no value of the variable makes the agent panic,
// and that what decodes encodes back to the same state.
func FuzzDecode(f *testing.F) {
	f.Add(State{ExtensionID: "e", NextFD: 4, TelemetryFD: NoFD, OTLPHTTPFD: 5, OTLPGRPCFD: NoFD, Registration: []byte(`{"a":1}`)}.Encode())
	f.Add("")
	f.Add("id=%zz")
	f.Fuzz(func(t *testing.T, value string) {
		st, err := Decode(value)
		if err != nil {
			return
		}
		again, err := Decode(st.Encode())
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if again.Encode() != st.Encode() {
			t.Errorf("state changed through encode and decode:\n%q\n%q", st.Encode(), again.Encode())
		}
	})
}

func TestEarlyExportRoundTrip(t *testing.T) {
	in := []EarlyExport{
		{Path: "/v1/traces", ContentType: "application/x-protobuf", Body: []byte{0x0a, 0x00}},
		{Path: "/v1/logs", ContentType: "application/json", ContentEncoding: "gzip", Body: []byte(`{"resourceLogs":[]}`)},
		{Path: "/v1/metrics"},
	}
	var b bytes.Buffer
	for _, x := range in {
		b.Write(x.Header())
		b.Write(x.Body)
	}
	for i, want := range in {
		got, err := ReadEarly(&b)
		if err != nil || got.Path != want.Path || got.ContentType != want.ContentType ||
			got.ContentEncoding != want.ContentEncoding || !bytes.Equal(got.Body, want.Body) {
			t.Fatalf("record %d: %+v, %v; want %+v", i, got, err, want)
		}
	}
	if _, err := ReadEarly(&b); err != io.EOF {
		t.Errorf("after the last record: %v; want io.EOF", err)
	}
	// A record cut short is an error, not the end.
	cut := append(in[0].Header(), 0x0a)
	if _, err := ReadEarly(bytes.NewReader(cut)); err == nil || err == io.EOF {
		t.Errorf("a record cut short: %v; want an error", err)
	}
}

// FuzzReadEarly: any bytes on the early pipe give records or an error,
// never a panic; a record read back encodes to the bytes it came from.
func FuzzReadEarly(f *testing.F) {
	x := EarlyExport{Path: "/v1/traces", ContentType: "application/json", Body: []byte("{}")}
	f.Add(append(x.Header(), x.Body...))
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			start := len(data) - r.Len()
			x, err := ReadEarly(r)
			if err != nil {
				return
			}
			end := len(data) - r.Len()
			if got := append(x.Header(), x.Body...); !bytes.Equal(got, data[start:end]) {
				t.Fatalf("record %+v encodes to %q, read from %q", x, got, data[start:end])
			}
		}
	})
}

func TestTakeoverRoundTrip(t *testing.T) {
	in := Takeover{
		Registration: []byte(`{"functionName":"f"}`), Started: time.Unix(0, 1), Deadline: time.Unix(0, 2e9),
		AgentEnd: "killed by signal killed", Invocations: 3, EarlyLost: 4, EarlyLostBytes: 5,
		OTLPRequests: 6, OTLPBytes: 7, TelemetryPushes: 8, TelemetryBytes: 9,
	}
	out, err := DecodeTakeover(in.Encode())
	if err != nil {
		t.Fatalf("DecodeTakeover: %v", err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip gave %+v, want %+v", out, in)
	}
	for _, bad := range []string{"", "started=x", strings.Replace(in.Encode(), "otlp_bytes=7", "otlp_bytes=-1", 1)} {
		if _, err := DecodeTakeover(bad); err == nil {
			t.Errorf("DecodeTakeover(%q) took it; want an error", bad)
		}
	}
}
