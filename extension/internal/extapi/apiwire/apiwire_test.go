package apiwire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// subscription is a subscription body as the Telemetry API reads it.
type subscription struct {
	SchemaVersion string
	Types         []string
	Buffering     Buffering
	Destination   struct{ Protocol, URI string }
}

func TestRegisterBody(t *testing.T) {
	for _, events := range [][]string{{"INVOKE", "SHUTDOWN"}, {"SHUTDOWN"}, nil} {
		var got struct{ Events []string }
		if err := json.Unmarshal(RegisterBody(events...), &got); err != nil {
			t.Fatalf("%v: %s is not JSON: %v", events, RegisterBody(events...), err)
		}
		// The API wants an array, never null, for no events.
		if got.Events == nil || len(got.Events) != len(events) || (len(events) > 0 && !reflect.DeepEqual(got.Events, events)) {
			t.Errorf("register body for %v = %s", events, RegisterBody(events...))
		}
	}
}

func TestSubscriptionBody(t *testing.T) {
	body := SubscriptionBody("http://sandbox.localdomain:4243", SchemaV2, TelemetryTypes, DefaultBuffering)
	var got subscription
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s is not JSON: %v", body, err)
	}
	want := subscription{SchemaVersion: SchemaV2, Types: TelemetryTypes, Buffering: DefaultBuffering}
	want.Destination.Protocol, want.Destination.URI = "HTTP", "http://sandbox.localdomain:4243"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("subscription body %s\n read as %+v\n want %+v", body, got, want)
	}
}

// FuzzBodies holds the hand-written bodies to what encoding/json reads
// from them: the same values as from encoding/json's own encoding.
func FuzzBodies(f *testing.F) {
	f.Add("http://sandbox.localdomain:4243", "2022-12-13", "platform", 1000, 262144, 25)
	f.Add("a\"b\\c\n\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe<>&", -1, 0, 1<<40)
	f.Fuzz(func(t *testing.T, uri, schema, typ string, items, bytes, timeout int) {
		buf := Buffering{MaxItems: items, MaxBytes: bytes, TimeoutMs: timeout}
		body := SubscriptionBody(uri, schema, []string{typ, schema}, buf)
		var got subscription
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%q is not JSON: %v", body, err)
		}
		// encoding/json's own encoding of the same values, read back.
		ref, err := json.Marshal(map[string]any{
			"schemaVersion": schema,
			"types":         []string{typ, schema},
			"buffering":     buf,
			"destination":   map[string]string{"protocol": "HTTP", "URI": uri},
		})
		if err != nil {
			t.Fatal(err)
		}
		var want subscription
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q reads as %+v; encoding/json's %q reads as %+v", body, got, ref, want)
		}
		var reg, regWant struct{ Events []string }
		if err := json.Unmarshal(RegisterBody(typ, uri), &reg); err != nil {
			t.Fatalf("register body %q is not JSON: %v", RegisterBody(typ, uri), err)
		}
		ref, _ = json.Marshal(map[string][]string{"events": {typ, uri}})
		if err := json.Unmarshal(ref, &regWant); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(reg, regWant) {
			t.Errorf("register body %q reads as %q; encoding/json's as %q", RegisterBody(typ, uri), reg.Events, regWant.Events)
		}
	})
}

func TestErrorType(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}`, ErrorTypeTelemetryNotSupported},
		{" {\n \"errorType\" : \"Telemetry.NotSupported\" }\n", ErrorTypeTelemetryNotSupported},
		{`{"errorType":"Extension.Denied","errorMessage":"no"}`, "Extension.Denied"},
		{"OK", ""},
		{"", ""},
		{`{}`, ""},
		{`"errorType"`, ""},
		{`{"errorMessage":"the \"errorType\" is missing"}`, ""},
		{`{"errorMessage":"errorType","other":1}`, ""},
		{`{"errorType":42}`, ""},
		{`{"errorType":"unterminated`, ""},
	}
	for _, tt := range tests {
		if got := ErrorType([]byte(tt.body)); got != tt.want {
			t.Errorf("ErrorType(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// FuzzErrorType holds the scanner to encoding/json's reading of a body
// with one errorType key.
func FuzzErrorType(f *testing.F) {
	f.Add(`{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}`)
	f.Add(`{"errorType" : "x", "a": [1, {"b": "c"}]}`)
	f.Add(`OK`)
	f.Fuzz(func(t *testing.T, body string) {
		got := ErrorType([]byte(body))
		var m map[string]any
		if json.Unmarshal([]byte(body), &m) != nil || strings.Count(body, `"errorType"`) != 1 {
			return
		}
		want, _ := m["errorType"].(string)
		if strings.ContainsAny(body, `\`) || !utf8.ValidString(body) {
			return // escapes and invalid UTF-8 are kept as written
		}
		if got != want {
			t.Errorf("ErrorType(%q) = %q, encoding/json reads %q", body, got, want)
		}
	})
}
